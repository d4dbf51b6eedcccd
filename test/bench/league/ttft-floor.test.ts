import { describe, expect, it } from 'vitest';
import { compulsoryUncached, idleTtftMs } from '../../../bench/league/ttft-floor.js';
import { engineProfileOf } from '../../../bench/league/replica.js';
import type { LeagueRequest, Workload } from '../../../bench/league/workload.js';

const ids = (from: number, n: number) => Int32Array.from({ length: n }, (_, i) => from + i);

describe('the p90 TTFT floor', () => {
  const profile = engineProfileOf({ id: 'r0', profile: 'h100-llama3-8b-vllm' });

  it('counts a request\'s tokens from its first block no earlier request held — prompts and answers alike', () => {
    const shared = ids(1000, 64);
    const requests = [
      { index: 0, group: 0, messages: [], ids: Int32Array.from([...shared, ...ids(5000, 20)]), maxTokens: 4, answer: ids(7000, 32) },
      { index: 1, group: 0, messages: [], ids: Int32Array.from([...shared, ...ids(6000, 40)]), maxTokens: 4 },
      // The first turn's prompt and answer, then a new question: only the question is new.
      { index: 2, group: 0, messages: [], ids: Int32Array.from([...shared, ...ids(5000, 20), ...ids(7000, 32), ...ids(8000, 10)]), maxTokens: 4 },
      { index: 3, group: 1, messages: [], ids: ids(9000, 100), maxTokens: 4 },
    ] as LeagueRequest[];
    const w = { requests } as unknown as Workload;
    expect(compulsoryUncached(w, [0, 1, 2, 3], 16).map((r) => r.uncached)).toEqual([84, 40, 126 - 112, 100]);
    // Another order, other compulsory misses: the third request first has nothing cached.
    expect(compulsoryUncached(w, [2, 0], 16).map((r) => r.uncached)).toEqual([126, 84 - 80]);
  });

  it('an idle replica\'s TTFT grows with the tokens it must prefill, and a cached prefix shortens it', () => {
    const cold = [1000, 4000, 16000].map((n) => idleTtftMs(profile, n, n));
    expect(cold[0]).toBeLessThan(cold[1]);
    expect(cold[1]).toBeLessThan(cold[2]);
    expect(idleTtftMs(profile, 16000, 1000)).toBeLessThan(cold[2]);
    // The model's own prefill cost: at least the per-token rate times the tokens.
    expect(cold[2]).toBeGreaterThanOrEqual(16000 * profile.stepPerPrefillTokenMs);
  });
});
