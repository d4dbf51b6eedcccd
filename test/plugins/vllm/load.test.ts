import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { intervalHitRate } from '../../../core/plugin/engine-load.js';
import type { EngineLoad } from '../../../core/plugin/engine-load.js';
import { readVllmLoad } from '../../../plugins/vllm/load.js';
import { MODEL, launch, longText, postJson, waitFor } from '../../bench/sim/helpers.js';

let sim: SimServer;

beforeAll(async () => {
  sim = await launch('vllm');
});

afterAll(async () => {
  await sim?.close();
});

async function scrapeText(): Promise<string> {
  const res = await fetch(`${sim.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

async function chat(content: string, maxTokens = 4): Promise<void> {
  const res = await postJson(`${sim.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content }], max_tokens: maxTokens });
  expect(res.status).toBe(200);
}

describe('readVllmLoad on the vLLM face', () => {
  it('reads the gauges, counters and cache config of a real scrape', async () => {
    await chat('hello');
    const info = await (await fetch(`${sim.url}/sim/info`)).json() as { blockSize: number; numBlocks: number };
    const text = await scrapeText();
    const load = readVllmLoad(text);
    expect(load).toMatchObject({
      running: expect.any(Number), waiting: expect.any(Number), kvUsage: expect.any(Number), blockSize: info.blockSize, numBlocks: info.numBlocks,
    });
    expect(load.prefixQueries).toBeGreaterThan(0);
    expect(load.prefixHits).toEqual(expect.any(Number));
    expect(load.prefixHitRate).toBeUndefined();
    // The served model's own series, and the whole server for a name it does not label (a LoRA).
    expect(readVllmLoad(text, MODEL)).toEqual(load);
    expect(readVllmLoad(text, 'my-lora')).toEqual(load);
  });

  it('counts prefix-cache hits when the same ~300-token prompt is sent twice', async () => {
    const prompt = longText(300, `prefix-${Date.now()}`);
    const before = readVllmLoad(await scrapeText());
    await chat(prompt);
    const once = readVllmLoad(await scrapeText());
    await chat(prompt);
    const twice = readVllmLoad(await scrapeText());

    const firstQueries = (once.prefixQueries ?? 0) - (before.prefixQueries ?? 0);
    expect(firstQueries).toBeGreaterThanOrEqual(300);
    // A new prompt hits at most the chat template's system prefix.
    expect((once.prefixHits ?? 0) - (before.prefixHits ?? 0)).toBeLessThan(firstQueries / 2);
    // The repeat hits every full block of it (vLLM counts tokens).
    const secondHits = (twice.prefixHits ?? 0) - (once.prefixHits ?? 0);
    expect(secondHits).toBeGreaterThanOrEqual(firstQueries - (twice.blockSize ?? 16));
    expect(intervalHitRate(once, twice)).toBeGreaterThan(0.9);
  });

  it('shows running requests and KV usage rising under load and falling back after', async () => {
    const requests = Array.from({ length: 12 }, (_, i) => postJson(`${sim.url}/v1/chat/completions`, {
      model: MODEL, messages: [{ role: 'user', content: longText(1500, `load-${i}-${Date.now()}`) }], max_tokens: 200, ignore_eos: true,
    }));
    let settled = false;
    const all = Promise.all(requests).finally(() => (settled = true));
    let peak: EngineLoad = {};
    while (!settled) {
      const load = readVllmLoad(await scrapeText());
      if ((load.running ?? 0) > (peak.running ?? 0)) peak = load;
    }
    for (const res of await all) expect(res.status).toBe(200);
    // The engine retires a request just after its last bytes went out: poll briefly.
    let after: EngineLoad = {};
    await waitFor(async () => {
      after = readVllmLoad(await scrapeText());
      return after.running === 0;
    }, 5_000);
    expect(peak.running).toBeGreaterThan(1);
    expect(peak.kvUsage).toBeGreaterThan(0);
    expect(peak.waiting).toEqual(expect.any(Number));
    expect(after).toMatchObject({ running: 0, waiting: 0 });
    expect(after.kvUsage).toBeLessThan(peak.kvUsage ?? 0);
  });
});

// Two DP ranks serving two model names, and a second server on the pre-0.10 metric names.
const DP_SCRAPE = `
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="base"} 3
vllm:num_requests_running{engine="1",model_name="base"} 5
vllm:num_requests_running{engine="0",model_name="other"} 100
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="base"} 1
vllm:num_requests_waiting{engine="1",model_name="base"} 2
vllm:num_requests_waiting{engine="0",model_name="other"} 50
vllm:kv_cache_usage_perc{engine="0",model_name="base"} 0.2
vllm:kv_cache_usage_perc{engine="1",model_name="base"} 0.6
vllm:kv_cache_usage_perc{engine="0",model_name="other"} 0.9
vllm:prefix_cache_queries_total{engine="0",model_name="base"} 1000
vllm:prefix_cache_queries_total{engine="1",model_name="base"} 500
vllm:prefix_cache_hits_total{engine="0",model_name="base"} 400
vllm:prefix_cache_hits_total{engine="1",model_name="base"} 100
vllm:prefix_cache_queries_created{engine="0",model_name="base"} 1.7e9
vllm:gpu_prefix_cache_queries_total{engine="0",model_name="base"} 7
vllm:gpu_prefix_cache_hits_total{engine="0",model_name="base"} 3
vllm:cache_config_info{block_size="16",enable_prefix_caching="True",engine="0",num_gpu_blocks="1000"} 1
vllm:cache_config_info{block_size="16",enable_prefix_caching="True",engine="1",num_gpu_blocks="1000"} 1
`;

const OLD_SCRAPE = `
vllm:num_requests_running{model_name="m"} 2
vllm:num_requests_waiting{model_name="m"} 0
vllm:gpu_cache_usage_perc{model_name="m"} 0.25
vllm:gpu_prefix_cache_queries_total{model_name="m"} 40
vllm:gpu_prefix_cache_hits_total{model_name="m"} 10
vllm:cache_config_info{block_size="16",num_gpu_blocks="None"} 1
`;

describe('readVllmLoad on literal scrapes', () => {
  it("sums a model's series over DP ranks and averages KV usage", () => {
    expect(readVllmLoad(DP_SCRAPE, 'base')).toEqual({
      running: 8, waiting: 3, kvUsage: 0.4, prefixQueries: 1500, prefixHits: 500, blockSize: 16, numBlocks: 2000,
    });
  });

  it('sums every model when none is given, or when the given one has no series', () => {
    const all = readVllmLoad(DP_SCRAPE);
    expect(all).toMatchObject({ running: 108, waiting: 53 });
    expect(all.kvUsage).toBeCloseTo(0.5667, 3);
    expect(readVllmLoad(DP_SCRAPE, 'lora-adapter')).toEqual(all);
  });

  it('prefers the current prefix counters over the deprecated ones', () => {
    expect(readVllmLoad(DP_SCRAPE)).toMatchObject({ prefixQueries: 1500, prefixHits: 500 });
  });

  it('falls back to the old gpu_* names, and skips a num_gpu_blocks of None', () => {
    expect(readVllmLoad(OLD_SCRAPE, 'm')).toEqual({ running: 2, waiting: 0, kvUsage: 0.25, prefixQueries: 40, prefixHits: 10, blockSize: 16 });
  });

  it('reports nothing for a scrape without vLLM series', () => {
    expect(readVllmLoad('# nothing here\nprocess_cpu_seconds_total 12\n')).toEqual({});
    expect(readVllmLoad('')).toEqual({});
  });
});
