import { describe, expect, it } from 'vitest';
import { HistogramWindow, quantile, shareAtMost, subtract, type Buckets } from '../../../../core/server/dashboard/histogram-window.js';

// 10 observations: 4 in (0, 0.1], 4 in (0.1, 0.5], 2 in (0.5, 1]; none above 1.
const tenObservations: Buckets = { bounds: [0.1, 0.5, 1, Infinity], counts: [4, 8, 10, 10] };

describe('bucket quantiles and shares', () => {
  it('interpolates a quantile inside its bucket, as histogram_quantile does', () => {
    expect(quantile(tenObservations, 0.2)).toBeCloseTo(0.05);
    expect(quantile(tenObservations, 0.5)).toBeCloseTo(0.1 + 0.4 * (1 / 4));
    expect(quantile(tenObservations, 0.9)).toBeCloseTo(0.5 + 0.5 * (1 / 2));
    expect(quantile({ bounds: [1, 2, Infinity], counts: [0, 0, 0] }, 0.5)).toBeUndefined();
  });

  it('answers a quantile in the +Inf bucket with the highest finite bound', () => {
    expect(quantile({ bounds: [0.1, 0.5, Infinity], counts: [1, 1, 10] }, 0.99)).toBe(0.5);
  });

  it('gives the share at or under a target, interpolated inside its bucket', () => {
    expect(shareAtMost(tenObservations, 0.1)).toBeCloseTo(0.4);
    expect(shareAtMost(tenObservations, 0.3)).toBeCloseTo((4 + 4 * 0.5) / 10);
    expect(shareAtMost(tenObservations, 5)).toBe(1);
    expect(shareAtMost({ bounds: [0.1, Infinity], counts: [1, 4] }, 5)).toBeCloseTo(0.25);
  });

  it('subtracts an earlier record from a later one', () => {
    expect(subtract(tenObservations, { bounds: tenObservations.bounds, counts: [4, 4, 4, 4] }).counts).toEqual([0, 4, 6, 6]);
  });
});

describe('HistogramWindow', () => {
  const at = (counts: number[]) => new Map([['qwen', { bounds: [0.1, 1, Infinity], counts }]]);

  it('counts nothing from the first record: its observations may be hours old', () => {
    const w = new HistogramWindow(10_000);
    w.record(0, at([50, 90, 100]));
    expect(w.window('qwen')!.counts).toEqual([0, 0, 0]);
    expect(w.window('other')).toBeUndefined();
  });

  it('keeps what arrived within its span, measured from the last record at or before the span starts', () => {
    const w = new HistogramWindow(10_000);
    w.record(0, at([0, 0, 0]));
    w.record(5_000, at([1, 2, 2]));
    w.record(10_000, at([1, 4, 4]));
    expect(w.window('qwen')!.counts).toEqual([1, 4, 4]);
    w.record(15_000, at([3, 7, 8]));
    expect(w.window('qwen')!.counts).toEqual([2, 5, 6]);
  });

  it('counts a key first seen inside the window whole', () => {
    const w = new HistogramWindow(10_000);
    w.record(0, new Map());
    w.record(1_000, at([1, 1, 1]));
    expect(w.window('qwen')!.counts).toEqual([1, 1, 1]);
  });
});
