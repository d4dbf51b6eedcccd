import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixedUpstream, type FixedUpstream } from '../../../bench/load/fixed-upstream.js';
import { createRng } from '../../../bench/load/random.js';
import { arrivalGapsS, arrivalOffsetsMs, runLoad } from '../../../bench/load/runner.js';
import { Tokenizer } from '../../../core/tokenizer/tokenizer.js';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const variance = (xs: number[]) => { const m = mean(xs); return mean(xs.map((x) => (x - m) ** 2)); };

describe('arrival process (pure)', () => {
  it('Poisson gaps have mean 1/R and the exponential variance 1/R²', () => {
    const gaps = arrivalGapsS(200_000, 8, 1, createRng(1));
    expect(mean(gaps)).toBeCloseTo(1 / 8, 2);
    expect(variance(gaps)).toBeCloseTo(1 / 64, 3);
  });

  it('gamma(B, 1/(R·B)) keeps the mean 1/R; burstiness below 1 widens the spread, above 1 narrows it', () => {
    for (const b of [0.25, 4]) {
      const gaps = arrivalGapsS(200_000, 5, b, createRng(2));
      expect(mean(gaps)).toBeCloseTo(1 / 5, 2);
      // CV² = 1/B; gamma(0.25) is heavy-tailed, so the sample variance gets a 5% band.
      expect(Math.abs(variance(gaps) / (1 / 25) / (1 / b) - 1)).toBeLessThan(0.05);
    }
    expect(arrivalGapsS(3, 4, Infinity, createRng(3))).toEqual([0.25, 0.25, 0.25]);
    expect(arrivalGapsS(3, Infinity, 1, createRng(3))).toEqual([0, 0, 0]);
  });

  it('offsets are cumulative and rescaled so the last request arrives at N/R (vLLM)', () => {
    const offsets = arrivalOffsetsMs(50, 10, 1, createRng(4));
    expect(offsets.at(-1)).toBeCloseTo(5000, 6);
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]).toBeGreaterThanOrEqual(offsets[i - 1]);
    expect(arrivalOffsetsMs(50, 10, 1, createRng(4))).toEqual(offsets);
  });
});

describe('runLoad against a fixed-latency upstream', () => {
  const tokenizer = Tokenizer.qwenDefault();
  let upstream: FixedUpstream;
  const bodies: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    upstream = await startFixedUpstream({ ttftMs: 30, itlMs: 10, chunks: 3, backends: ['a', 'b', 'a'], plan: (_i, body) => { bodies.push(body); return {}; } });
  });
  afterAll(async () => {
    await upstream?.close();
  });

  it('closed loop: one result per level, each reaching its concurrency and no more; warm-up not measured', async () => {
    const before = upstream.requests;
    const result = await runLoad({
      target: { baseUrl: upstream.url, model: 'm' }, tokenizer, progress: false,
      workload: { kind: 'fixed', inputLen: 16, outputLen: 3 }, levels: [{ kind: 'closed', concurrency: 1 }, { kind: 'closed', concurrency: 4 }],
      numPrompts: 12, warmup: 3,
    });
    expect(upstream.requests - before).toBe(3 + 12 + 12);
    expect(result.levels.map((l) => l.metrics.completed)).toEqual([12, 12]);
    expect(result.levels.map((l) => l.metrics.maxConcurrentRequests)).toEqual([1, 4]);
    // ITL pools every gap of every request: Σ(out − 1) = 12 × (3 − 1).
    expect(result.levels.map((l) => l.metrics.itl.count)).toEqual([24, 24]);
    expect(result.levels.map((l) => l.metrics.tpot.count)).toEqual([12, 12]);
    expect(result.levels[1].metrics.backendCounts).toEqual({ a: 8, b: 4 });
    expect(result.levels[1].metrics.imbalance).toBeCloseTo(8 / 6, 9);
    // Each level has its own text, so no level finds the previous one's prompts in a prefix cache.
    const prompts = bodies.slice(-24).map((b) => JSON.stringify(b.messages));
    expect(new Set(prompts).size).toBe(2);
  });

  it('open loop with --max-concurrency: the cap holds, and waiting for it is client queue time', async () => {
    const result = await runLoad({
      target: { baseUrl: upstream.url, model: 'm' }, tokenizer, progress: false,
      workload: { kind: 'fixed', inputLen: 16, outputLen: 3 }, levels: [{ kind: 'open', rate: Infinity, burstiness: 1, maxConcurrency: 2 }],
      numPrompts: 8,
    });
    const m = result.levels[0].metrics;
    expect(m.completed).toBe(8);
    expect(m.maxConcurrentRequests).toBe(2);
    // All arrive at t=0, two at a time: the last pair waits for three pairs of ~50 ms each.
    const queued = result.levels[0].records.map((r) => r.clientQueueMs).sort((a, b) => a - b);
    expect(queued[0]).toBeLessThan(20);
    expect(queued.at(-1)).toBeGreaterThanOrEqual(100);
  });

  it('multi-round sends turn k+1 after turn k returns, carrying the streamed answer', async () => {
    bodies.length = 0;
    const result = await runLoad({
      target: { baseUrl: upstream.url, model: 'm' }, tokenizer, progress: false,
      workload: { kind: 'multi-round', numUsers: 2, numRounds: 3, sharedSystemPrompt: 20, userHistoryPrompt: 40, answerLen: 3 },
      levels: [{ kind: 'closed', concurrency: 4 }],
    });
    const m = result.levels[0].metrics;
    expect(m.completed).toBe(6);
    expect(m.maxConcurrentRequests).toBeLessThanOrEqual(2); // two users, one turn in flight each
    expect(m.turnTtft?.first.count).toBe(2);
    expect(m.turnTtft?.later.count).toBe(4);
    const third = bodies.map((b) => b.messages as Array<{ role: string; content: string }>).filter((ms) => ms.length === 6);
    expect(third).toHaveLength(2);
    for (const ms of third) {
      expect(ms.map((x) => x.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant', 'user']);
      expect(ms[2].content).toBe(' tok tok tok');
    }
  });
});
