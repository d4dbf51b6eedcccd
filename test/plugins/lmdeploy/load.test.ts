import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { intervalHitRate, type EngineLoad } from '../../../core/plugin/engine-load.js';
import { readLmdeployLoad } from '../../../plugins/lmdeploy/load.js';
import { MODEL, launch, longText, postJson, waitFor } from '../../bench/sim/helpers.js';

let sim: SimServer;

beforeAll(async () => {
  sim = await launch('lmdeploy');
});

afterAll(async () => {
  await sim?.close();
});

async function scrape(): Promise<EngineLoad> {
  const res = await fetch(`${sim.url}/metrics`);
  expect(res.status).toBe(200);
  return readLmdeployLoad(await res.text());
}

async function chat(content: string): Promise<void> {
  const res = await postJson(`${sim.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content }], max_tokens: 4 });
  expect(res.status).toBe(200);
}

describe('readLmdeployLoad on the LMDeploy face', () => {
  it('reads running, waiting, KV usage and the per-request token counters of a real scrape', async () => {
    await chat('hello');
    const load = await scrape();
    expect(load).toMatchObject({ running: expect.any(Number), waiting: expect.any(Number), kvUsage: expect.any(Number), prefixQueries: expect.any(Number), prefixHits: expect.any(Number) });
    // The lifetime gauge is only the fallback for releases without the counters.
    expect(load.prefixHitRate).toBeUndefined();
  });

  it('gives an interval hit rate from the counters: low for a new prompt, high when it is sent again', async () => {
    const prompt = longText(300, `prefix-${Date.now()}`);
    const before = await scrape();
    await chat(prompt);
    const once = await scrape();
    await chat(prompt);
    const twice = await scrape();
    // The interval rate: a cold prompt, then the same prompt again (most of it cached).
    expect(intervalHitRate(before, once)).toBeLessThan(0.2);
    expect(intervalHitRate(once, twice)).toBeGreaterThan(0.5);
    expect(intervalHitRate(once, twice)).toBeLessThanOrEqual(1);
  });

  it('shows running requests and KV usage rising under load and falling back after', async () => {
    const requests = Array.from({ length: 12 }, (_, i) => postJson(`${sim.url}/v1/chat/completions`, {
      model: MODEL, messages: [{ role: 'user', content: longText(1500, `load-${i}-${Date.now()}`) }], max_tokens: 200, ignore_eos: true,
    }));
    let settled = false;
    const all = Promise.all(requests).finally(() => (settled = true));
    let peak: EngineLoad = {};
    while (!settled) {
      const load = await scrape();
      if ((load.running ?? 0) > (peak.running ?? 0)) peak = load;
    }
    for (const res of await all) expect(res.status).toBe(200);
    // The engine retires a request just after its last bytes went out: poll briefly.
    let after: EngineLoad = {};
    await waitFor(async () => {
      after = await scrape();
      return after.running === 0;
    }, 5_000);
    expect(peak.running).toBeGreaterThan(1);
    expect(peak.kvUsage).toBeGreaterThan(0);
    expect(after).toMatchObject({ running: 0, waiting: 0 });
    expect(after.kvUsage).toBeLessThan(peak.kvUsage ?? 0);
  });
});

describe('readLmdeployLoad on literal scrapes', () => {
  it('sums requests over DP ranks and averages the per-rank ratios', () => {
    const text = [
      'lmdeploy:num_requests_running{model_name="m",engine="0"} 2',
      'lmdeploy:num_requests_running{model_name="m",engine="1"} 3',
      'lmdeploy:num_requests_waiting{model_name="m",engine="0"} 1',
      'lmdeploy:num_requests_waiting{model_name="m",engine="1"} 0',
      'lmdeploy:gpu_cache_usage_perc{model_name="m",engine="0"} 0.5',
      'lmdeploy:gpu_cache_usage_perc{model_name="m",engine="1"} 0.25',
      'lmdeploy:prefix_cache_hit_rate{model_name="m",engine="0"} 0.5',
      'lmdeploy:prefix_cache_hit_rate{model_name="m",engine="1"} 0.0',
      'vllm:num_requests_running{model_name="m"} 99',
    ].join('\n');
    expect(readLmdeployLoad(text)).toEqual({ running: 5, waiting: 1, kvUsage: 0.375, prefixHitRate: 0.25 });
  });

  it('reads the block size from backend_config_info when it is exported', () => {
    expect(readLmdeployLoad('lmdeploy:backend_config_info{block_size="64",session_len="32768"} 1\n')).toEqual({ blockSize: 64 });
  });

  it('reports nothing for a scrape without LMDeploy series (metrics off: v0.10 needed --enable-metrics)', () => {
    expect(readLmdeployLoad('')).toEqual({});
    expect(readLmdeployLoad('process_cpu_seconds_total 1\n')).toEqual({});
  });
});

describe('readLmdeployLoad: counters before the lifetime gauge', () => {
  it('uses the request token histograms when present, and the gauge only without them', () => {
    const gauge = 'lmdeploy:prefix_cache_hit_rate{engine="0",model_name="m"} 0.9\n';
    const counters = 'lmdeploy:request_prompt_tokens_sum{engine="0",model_name="m"} 4000.0\nlmdeploy:request_cached_tokens_sum{engine="0",model_name="m"} 1000.0\n';
    expect(readLmdeployLoad(gauge + counters)).toEqual({ prefixQueries: 4000, prefixHits: 1000 });
    expect(readLmdeployLoad(gauge)).toEqual({ prefixHitRate: 0.9 });
  });
});
