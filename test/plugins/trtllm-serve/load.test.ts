import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { intervalHitRate } from '../../../core/plugin/engine-load.js';
import type { EngineLoad } from '../../../core/plugin/engine-load.js';
import { readTrtllmPrometheus, readTrtllmStats } from '../../../plugins/trtllm-serve/load.js';
import { MODEL, launch, longText, postJson, waitFor } from '../../bench/sim/helpers.js';

let sim: SimServer;

beforeAll(async () => {
  sim = await launch('trtllm-serve');
});

afterAll(async () => {
  await sim?.close();
});

/** One drained read of GET /metrics: the raw list and the load folded onto `previous`. */
async function read(previous?: EngineLoad): Promise<{ raw: unknown; load: EngineLoad }> {
  const res = await fetch(`${sim.url}/metrics`);
  expect(res.status).toBe(200);
  const raw: unknown = await res.json();
  return { raw, load: readTrtllmStats(raw, previous) };
}

async function chat(content: string): Promise<void> {
  const res = await postJson(`${sim.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content }], max_tokens: 4 });
  expect(res.status).toBe(200);
}

describe('readTrtllmStats on the trtllm-serve face', () => {
  it('reads the last iteration of a drained list; the next, empty read returns the previous load', async () => {
    await read();
    await chat('hello');
    const info = await (await fetch(`${sim.url}/sim/info`)).json() as { blockSize: number; numBlocks: number };
    const first = await read();
    expect((first.raw as unknown[]).length).toBeGreaterThan(0);
    expect(first.load).toMatchObject({
      running: expect.any(Number), waiting: expect.any(Number), kvUsage: expect.any(Number), blockSize: info.blockSize,
      numBlocks: info.numBlocks, prefixQueries: expect.any(Number), prefixHits: expect.any(Number),
    });
    // The request's last iteration may come a moment after its response: read until it has.
    let idle = first.load;
    await waitFor(async () => {
      idle = (await read(idle)).load;
      return idle.running === 0;
    }, 5_000);
    const next = await read(idle);
    expect(next.raw).toEqual([]);
    expect(next.load).toBe(idle);
  });

  it('counts reused blocks (as tokens) when the same ~300-token prompt is sent twice', async () => {
    const prompt = longText(300, `prefix-${Date.now()}`);
    const before = (await read()).load;
    await chat(prompt);
    const once = (await read(before)).load;
    await chat(prompt);
    const twice = (await read(once)).load;
    const blockSize = twice.blockSize ?? 32;
    expect((once.prefixQueries ?? 0) - (before.prefixQueries ?? 0)).toBeGreaterThanOrEqual(300);
    expect((twice.prefixHits ?? 0) - (once.prefixHits ?? 0)).toBeGreaterThanOrEqual(300 - blockSize);
    // Block-granular: every count is a multiple of the block size.
    expect((twice.prefixHits ?? 0) % blockSize).toBe(0);
    expect(intervalHitRate(once, twice)).toBeGreaterThan(0.8);
  });

  it('shows running requests and KV usage rising under load and falling back after', async () => {
    let load = (await read()).load;
    const requests = Array.from({ length: 12 }, (_, i) => postJson(`${sim.url}/v1/chat/completions`, {
      model: MODEL, messages: [{ role: 'user', content: longText(1500, `load-${i}-${Date.now()}`) }], max_tokens: 200, ignore_eos: true,
    }));
    let settled = false;
    const all = Promise.all(requests).finally(() => (settled = true));
    let peak: EngineLoad = {};
    while (!settled) {
      load = (await read(load)).load;
      if ((load.running ?? 0) > (peak.running ?? 0)) peak = load;
    }
    for (const res of await all) expect(res.status).toBe(200);
    // The engine retires a request just after its last bytes went out: poll briefly.
    let after = load;
    await waitFor(async () => {
      after = (await read(after)).load;
      return after.running === 0;
    }, 5_000);
    expect(peak.running).toBeGreaterThan(1);
    expect(peak.kvUsage).toBeGreaterThan(0);
    expect(after).toMatchObject({ running: 0, waiting: 0 });
    expect(after.kvUsage).toBeLessThan(peak.kvUsage ?? 0);
  });
});

const stats = (over: Record<string, unknown> = {}, kv: Record<string, unknown> = {}): Record<string, unknown> => ({
  iter: 7, iterLatencyMS: 20, numActiveRequests: 3, numQueuedRequests: 2, numCompletedRequests: 0, maxNumActiveRequests: 256,
  gpuMemUsage: 1, timestamp: '01-01-2026 00:00:00',
  kvCacheStats: { maxNumBlocks: 100, freeNumBlocks: 75, usedNumBlocks: 25, tokensPerBlock: 32, allocTotalBlocks: 40,
    allocNewBlocks: 30, reusedBlocks: 10, missedBlocks: 30, cacheHitRate: 0.25, ...kv },
  ...over,
});

describe('readTrtllmStats on literal lists', () => {
  it('takes the last element and turns block counts into tokens', () => {
    expect(readTrtllmStats([stats({ numActiveRequests: 99 }), stats()])).toEqual({
      running: 3, waiting: 2, kvUsage: 0.25, blockSize: 32, numBlocks: 100, prefixHits: 320, prefixQueries: 1280,
    });
  });

  it('returns an empty load for an empty first read', () => {
    expect(readTrtllmStats([])).toEqual({});
  });

  it('an empty drain while nothing of ours is in flight there means idle: the last iteration does not stick', () => {
    const busy = readTrtllmStats([stats()]);
    expect(busy.running).toBe(3);
    // Requests in flight: the engine is between iterations, the last load stands.
    expect(readTrtllmStats([], busy, false)).toBe(busy);
    // Nothing in flight: no iteration means no work; KV contents and counters are kept.
    expect(readTrtllmStats([], busy, true)).toEqual({ ...busy, running: 0, waiting: 0 });
  });

  it('reads requests alone when kvCacheStats is absent, and skips usage when the pool size is 0', () => {
    expect(readTrtllmStats([stats({ kvCacheStats: undefined })])).toEqual({ running: 3, waiting: 2 });
    expect(readTrtllmStats([stats({}, { maxNumBlocks: 0 })]).kvUsage).toBeUndefined();
  });

  it('throws a clear error for anything but a list of iteration stats', () => {
    expect(() => readTrtllmStats({ iter: 1 })).toThrow(/expected a JSON list of iteration stats, got an object/);
    expect(() => readTrtllmStats('# HELP x\n')).toThrow(/got the string/);
    expect(() => readTrtllmStats(null)).toThrow(/got null/);
    expect(() => readTrtllmStats([stats(), 3])).toThrow(/\[1\]: expected an iteration-stats object, got number 3/);
    expect(() => readTrtllmStats([stats({ numActiveRequests: undefined })])).toThrow(/\[0\]\.numActiveRequests: expected a non-negative number/);
    expect(() => readTrtllmStats([stats({ numQueuedRequests: '2' })])).toThrow(/numQueuedRequests/);
    expect(() => readTrtllmStats([stats({ kvCacheStats: [] })])).toThrow(/\[0\]\.kvCacheStats: expected an object, got a list/);
    expect(() => readTrtllmStats([stats({}, { usedNumBlocks: -1 })])).toThrow(/kvCacheStats\.usedNumBlocks/);
    // A malformed element anywhere means the format changed, even if the last one reads.
    expect(() => readTrtllmStats([{ iter: 1 }, stats()])).toThrow(/\[0\]\.numActiveRequests/);
  });
});

describe('readTrtllmPrometheus', () => {
  // Names as tensorrt_llm/metrics/collector.py creates them (prometheus_client adds `_total` to counters).
  const page = (iterations: number, running: number) => [
    '# TYPE trtllm_num_requests_running gauge',
    `trtllm_num_requests_running{engine_type="trtllm",model_name="m"} ${running}.0`,
    'trtllm_num_requests_waiting{engine_type="trtllm",model_name="m"} 1.0',
    'trtllm_kv_cache_utilization{engine_type="trtllm",model_name="m"} 0.5',
    'trtllm_kv_cache_max_blocks{engine_type="trtllm",model_name="m"} 4096.0',
    'trtllm_kv_cache_tokens_per_block{engine_type="trtllm",model_name="m"} 32.0',
    'trtllm_kv_cache_reused_blocks_total{engine_type="trtllm",model_name="m"} 10.0',
    'trtllm_kv_cache_missed_blocks_total{engine_type="trtllm",model_name="m"} 30.0',
    `trtllm_iteration_latency_seconds_count{engine_type="trtllm",model_name="m"} ${iterations}.0`,
    '',
  ].join('\n');

  it('reads requests, KV usage, pool size and block counters as tokens', () => {
    expect(readTrtllmPrometheus(page(7, 2))).toEqual({
      load: { running: 2, waiting: 1, kvUsage: 0.5, blockSize: 32, numBlocks: 4096, prefixQueries: 1280, prefixHits: 320 },
      progress: '/7/',
    });
  });

  it('prefers the prompt and cached token counters where the release has them', () => {
    const text = `${page(1, 0)}trtllm_prompt_tokens_total{model_name="m"} 5000.0\ntrtllm_prompt_cached_tokens_total{model_name="m"} 1200.0\n`;
    expect(readTrtllmPrometheus(text).load).toMatchObject({ prefixQueries: 5000, prefixHits: 1200 });
  });
});
