/** The overhead bench's interleaving: rows alternate direction round by round, so no row is always first. */
import { describe, expect, it } from 'vitest';
import { roundOrder } from '../../../bench/overhead/harness.js';

describe('roundOrder', () => {
  it('runs the rows as listed in odd rounds and reversed in even ones, leaving the list as it was', () => {
    const rows = ['a', 'b', 'c'];
    expect([1, 2, 3, 4].map((round) => roundOrder(rows, round).join(''))).toEqual(['abc', 'cba', 'abc', 'cba']);
    expect(rows).toEqual(['a', 'b', 'c']);
  });
});
