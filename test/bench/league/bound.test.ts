import { describe, expect, it } from 'vitest';
import { beladyHits, capacityBound, lruHits, nextUses } from '../../../bench/league/bound.js';
import { seededRandom } from '../../../core/routing/policy.js';
import { requestBlockKeys } from '../../../bench/league/stats.js';
import type { LeagueRequest } from '../../../bench/league/workload.js';

const A = 1, B = 2, C = 3, D = 4;

/** The most hits any eviction choice can reach (a block may also be left out): exhaustive search. */
function optimalHits(seq: readonly number[], capacity: number): number {
  const memo = new Map<string, number>();
  const go = (i: number, held: readonly number[]): number => {
    if (i === seq.length) return 0;
    const key = `${i}|${[...held].sort().join(',')}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let best: number;
    if (held.includes(seq[i])) {
      best = 1 + go(i + 1, held);
    } else {
      best = go(i + 1, held); // not kept
      if (held.length < capacity) best = Math.max(best, go(i + 1, [...held, seq[i]]));
      else for (let v = 0; v < held.length; v++) best = Math.max(best, go(i + 1, [...held.slice(0, v), ...held.slice(v + 1), seq[i]]));
    }
    memo.set(key, best);
    return best;
  };
  return capacity > 0 ? go(0, []) : 0;
}

describe('capacity-aware bound', () => {
  it('finds the next use of every access', () => {
    expect(Array.from(nextUses([A, B, A, C, B]))).toEqual([2, 4, Infinity, Infinity, Infinity]);
  });

  it('keeps the blocks used soonest: A B C A B in two slots hits twice, where LRU never hits', () => {
    expect(beladyHits([A, B, C, A, B], 2)).toEqual({ hits: 2, accesses: 5 });
    expect(lruHits([A, B, C, A, B], 2)).toEqual({ hits: 0, accesses: 5 });
  });

  it('does not keep a block needed later than everything held: A B C B A C B with two slots', () => {
    // At C: A is next used at 4, B at 3, C itself at 5 → C is left out; B and A hit; C misses
    // again (A and B are both needed no later than C's never); B hits: 3. LRU: only the first B.
    expect(beladyHits([A, B, C, B, A, C, B], 2).hits).toBe(3);
    expect(optimalHits([A, B, C, B, A, C, B], 2)).toBe(3);
    expect(lruHits([A, B, C, B, A, C, B], 2).hits).toBe(1);
  });

  it('the textbook sequence in three frames: LRU 12 faults; OPT 9 with demand paging, 8 when a block may be left out', () => {
    const seq = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
    expect(seq.length - beladyHits(seq, 3).hits).toBe(8);
    expect(optimalHits(seq, 3)).toBe(seq.length - 8);
    expect(seq.length - lruHits(seq, 3).hits).toBe(12);
  });

  it('with no room nothing hits; with room for everything only first uses miss', () => {
    const seq = [A, B, A, C, B, D, A];
    expect(beladyHits(seq, 0).hits).toBe(0);
    expect(lruHits(seq, 0).hits).toBe(0);
    expect(beladyHits(seq, 4).hits).toBe(3);
    expect(lruHits(seq, 4).hits).toBe(3);
  });

  it('matches an exhaustive search and is never below LRU, on random short sequences', () => {
    const random = seededRandom(11);
    for (let t = 0; t < 150; t++) {
      const seq = Array.from({ length: 4 + Math.floor(random() * 9) }, () => 1 + Math.floor(random() * 5));
      const cap = 1 + Math.floor(random() * 3);
      const min = beladyHits(seq, cap).hits;
      expect(min).toBe(optimalHits(seq, cap));
      expect(min).toBeGreaterThanOrEqual(lruHits(seq, cap).hits);
    }
  });

  it('uncounted accesses bring blocks in without counting (an answer cached as it decodes)', () => {
    // B is only brought in (counted 0), then read: one hit out of the two counted accesses.
    expect(beladyHits([A, B, B], 2, [1, 0, 1])).toEqual({ hits: 1, accesses: 2 });
    expect(lruHits([A, B, B], 2, [1, 0, 1])).toEqual({ hits: 1, accesses: 2 });
  });

  it('gives an answer the engine writes itself blocks of its own: no prompt shares them, yet they fill an LRU', () => {
    const request = (index: number, ids: Int32Array): LeagueRequest => ({ index, group: 0, messages: [], ids, maxTokens: 40 });
    const prefix = Int32Array.from({ length: 64 }, (_, i) => i + 1);
    const a = requestBlockKeys(request(0, prefix), 16);
    const b = requestBlockKeys(request(1, prefix), 16);
    // 64 prompt tokens and 40 decoded: 104 tokens, 6 full blocks, 4 of them the prompt's.
    expect(a.own).toHaveLength(4);
    expect(a.answer).toHaveLength(2);
    expect(b.own).toEqual(a.own);
    expect(new Set([...a.own, ...a.answer, ...b.answer]).size).toBe(8);
    expect(a.answer.every((k) => k < 0)).toBe(true);
    // The prompt again after one answer, in room for five blocks: the answer pushed the prompt's
    // first two blocks out of an LRU, and each miss then evicts the next block read (none hits);
    // MIN never keeps what is not read again (all four hit).
    const seq = [...a.own, ...a.answer, ...b.own];
    const counted = [1, 1, 1, 1, 0, 0, 1, 1, 1, 1];
    expect(lruHits(seq, 5, counted).hits).toBe(0);
    expect(beladyHits(seq, 5, counted).hits).toBe(4);
  });

  it('reports hit rates of prompt tokens', () => {
    const b = capacityBound([A, B, A, B], 2, 16, 100);
    expect(b.belady).toBeCloseTo(32 / 100);
    expect(b.lru).toBeCloseTo(32 / 100);
  });
});
