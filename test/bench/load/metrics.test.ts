import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixedUpstream, type FixedUpstream } from '../../../bench/load/fixed-upstream.js';
import { computeMetrics, latencyStats, maxOutputTokensPerS, meetsSlo, peakConcurrency, type RequestRecord } from '../../../bench/load/metrics.js';
import { runLoad } from '../../../bench/load/runner.js';
import { Tokenizer } from '../../../core/tokenizer/tokenizer.js';

function record(r: Partial<RequestRecord> & { ttftMs: number; itlMs: number[] }): RequestRecord {
  const e2el = r.ttftMs + r.itlMs.reduce((a, b) => a + b, 0);
  return {
    success: true, status: 200, error: '', startMs: 0, e2elMs: e2el, usageCompletionTokens: r.itlMs.length + 1, usagePromptTokens: 10,
    cachedTokens: null, text: '', backend: null, arrivalMs: 0, clientQueueMs: 0, outputTokens: r.itlMs.length + 1, promptTokens: 10, ...r,
  };
}

describe('metric definitions (vLLM serve.py)', () => {
  it('TPOT is (E2EL − TTFT)/(out − 1): the first token is not in it, and out ≤ 1 has none', () => {
    const m = computeMetrics([
      record({ ttftMs: 500, itlMs: [10, 20, 30] }), // TPOT 20
      record({ ttftMs: 100, itlMs: [] }), // one token: no TPOT
    ], 1);
    expect(m.tpot.count).toBe(1);
    expect(m.tpot.mean).toBeCloseTo(20, 9);
    expect(m.ttft.count).toBe(2);
  });

  it('pools ITL over every gap of every request (chunk-weighted, Σ(out − 1) samples)', () => {
    const m = computeMetrics([record({ ttftMs: 1, itlMs: [10, 10, 10, 10] }), record({ ttftMs: 1, itlMs: [40] })], 1);
    expect(m.itl.count).toBe(5);
    expect(m.itl.mean).toBeCloseTo(16, 9); // request-weighted TPOT would be (10 + 40)/2 = 25
    expect(m.tpot.mean).toBeCloseTo(25, 9);
  });

  it('throughputs divide by the run duration; total counts prompt and output tokens', () => {
    const m = computeMetrics([record({ ttftMs: 1, itlMs: [1, 1, 1] }), record({ ttftMs: 1, itlMs: [1] })], 2);
    expect(m).toMatchObject({ completed: 2, totalInputTokens: 20, totalOutputTokens: 6, requestThroughput: 1, outputThroughput: 3, totalTokenThroughput: 13 });
  });

  it('goodput counts a request only when it meets every SLO given; a 1-token answer has TPOT 0', () => {
    const fast = record({ ttftMs: 50, itlMs: [10, 10] });
    const slowFirst = record({ ttftMs: 900, itlMs: [10, 10] });
    const slowDecode = record({ ttftMs: 50, itlMs: [90, 90] });
    const oneToken = record({ ttftMs: 50, itlMs: [] });
    expect(meetsSlo(oneToken, { tpot: 1 })).toBe(true);
    const m = computeMetrics([fast, slowFirst, slowDecode, oneToken], 2, { ttft: 100, tpot: 20 });
    expect(m.goodCompleted).toBe(2);
    expect(m.requestGoodput).toBe(1);
    expect(computeMetrics([fast], 1).requestGoodput).toBeNull();
    expect(meetsSlo(slowFirst, { e2el: 920 })).toBe(true); // limits are inclusive
    expect(meetsSlo(slowFirst, { e2el: 919 })).toBe(false);
  });

  it('peak concurrency is exact over half-open intervals', () => {
    const a = record({ startMs: 0, ttftMs: 10, itlMs: [] }); // [0, 10)
    const b = record({ startMs: 10, ttftMs: 10, itlMs: [] }); // [10, 20): touches a, does not overlap
    const c = record({ startMs: 5, ttftMs: 10, itlMs: [] }); // [5, 15)
    expect(peakConcurrency([a, b])).toBe(1);
    expect(peakConcurrency([a, b, c])).toBe(2);
  });

  it('max output tokens/s bins chunk times start + ttft + Σitl into 1-s bins', () => {
    const r1 = record({ startMs: 0, ttftMs: 100, itlMs: [100, 100, 1000] }); // 100, 200, 300 | 1300
    const r2 = record({ startMs: 500, ttftMs: 100, itlMs: [100] }); // 600, 700
    expect(maxOutputTokensPerS([r1, r2])).toBe(5);
  });

  it('percentiles come from an HdrHistogram at µs resolution (3 significant digits)', () => {
    const values = Array.from({ length: 1000 }, (_, i) => (i + 1) / 10); // 0.1 … 100 ms
    const s = latencyStats(values);
    expect(s.percentiles['50']).toBeCloseTo(50, 1);
    expect(s.percentiles['99']).toBeCloseTo(99, 1);
    expect(s.percentiles['99.9']).toBeCloseTo(99.9, 1);
    expect(s.median).toBeCloseTo(50.05, 9); // numpy's median: the mean of the two middle values
    expect(latencyStats([3, 1, 2]).median).toBe(2);
    expect(s.mean).toBeCloseTo(50.05, 9);
    expect(latencyStats([1, 3]).std).toBe(1); // population std, as np.std
    expect(latencyStats([])).toMatchObject({ count: 0, mean: 0, median: 0 });
  });

  it('KV hit rate is Σcached / Σprompt (EvalScope), null when no answer reported cached tokens', () => {
    const m = computeMetrics([record({ ttftMs: 1, itlMs: [], cachedTokens: 5 }), record({ ttftMs: 1, itlMs: [], cachedTokens: 0 })], 1);
    expect(m.kvHitRate).toBeCloseTo(0.25, 9);
    expect(m.cachedTokens).toBe(5);
    expect(computeMetrics([record({ ttftMs: 1, itlMs: [] })], 1).kvHitRate).toBeNull();
  });

  it('backend share and imbalance (max/mean requests per backend)', () => {
    const on = (backend: string) => record({ ttftMs: 1, itlMs: [], backend });
    const m = computeMetrics([on('a'), on('a'), on('a'), on('b')], 1);
    expect(m.backendShare).toEqual({ a: 0.75, b: 0.25 });
    expect(m.imbalance).toBeCloseTo(1.5, 9);
  });
});

describe('metrics of real runs against fixed-latency upstreams', () => {
  const tokenizer = Tokenizer.qwenDefault();
  const workload = { kind: 'fixed', inputLen: 16, outputLen: 4 } as const;
  let mixed: FixedUpstream;
  let shedding: FixedUpstream;

  beforeAll(async () => {
    // Of every four requests: one slow to first token, one slow to decode, two fast.
    mixed = await startFixedUpstream({
      ttftMs: 20, itlMs: 5, chunks: 4,
      plan: (i) => (i % 4 === 0 ? { ttftMs: 300 } : i % 4 === 1 ? { itlMs: 80 } : {}),
    });
    // One 503 and one 429 for every completed request.
    shedding = await startFixedUpstream({ ttftMs: 50, itlMs: 5, chunks: 4, plan: (i) => (i % 3 === 0 ? { status: 503 } : i % 3 === 1 ? { status: 429 } : {}) });
  });
  afterAll(async () => {
    await Promise.all([mixed?.close(), shedding?.close()]);
  });

  it('goodput counts only the requests that meet both the TTFT and the TPOT limit', async () => {
    const result = await runLoad({
      target: { baseUrl: mixed.url, model: 'm' }, workload, tokenizer, progress: false,
      levels: [{ kind: 'closed', concurrency: 1 }], numPrompts: 8, slo: { ttft: 150, tpot: 40 },
    });
    const m = result.levels[0].metrics;
    expect(m.completed).toBe(8);
    expect(m.goodCompleted).toBe(4);
    expect(m.requestGoodput).toBeCloseTo(4 / m.durationS, 9);
  });

  it('429 and 503 answers are counted as shed and kept out of the latency statistics', async () => {
    const result = await runLoad({
      target: { baseUrl: shedding.url, model: 'm' }, workload, tokenizer, progress: false,
      levels: [{ kind: 'closed', concurrency: 1 }], numPrompts: 9,
    });
    const m = result.levels[0].metrics;
    expect(m).toMatchObject({ completed: 3, failed: 6, shed: 6, errorsByStatus: { 429: 3, 503: 3 } });
    expect(m.ttft.count).toBe(3);
    expect(m.e2el.count).toBe(3);
    // Shed answers come back in ~0 ms; had they entered the statistics the TTFT floor would be ~0.
    expect(m.ttft.percentiles['50']).toBeGreaterThanOrEqual(45);
    expect(m.ttft.mean).toBeLessThanOrEqual(250);
  });
});
