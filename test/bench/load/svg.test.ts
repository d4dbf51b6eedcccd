import { describe, expect, it } from 'vitest';
import { barChart, stackedBarChart } from '../../../bench/load/svg.js';

/** Heights of the bars (the <rect> marks with a tooltip; legend swatches have none), in drawing order. */
const heights = (svg: string) => [...svg.matchAll(/<rect [^>]*height="([\d.]+)"[^>]*><title>/g)].map((m) => Number(m[1]));

describe('report charts', () => {
  it('draws absolute values to scale: a value twice another is a bar twice as tall', () => {
    const svg = barChart({ title: 'TTFT p90', categories: ['rr', 'pa'], xLabel: 'policy', yLabel: 'ms', series: [{ name: 'p90', values: [400, 200] }] });
    const [rr, pa] = heights(svg);
    expect(rr / pa).toBeCloseTo(2, 1);
    // The axis reaches the largest value (nice ticks): the tall bar fits inside the 300-px plot.
    expect(rr).toBeLessThan(300);
    expect(svg).toContain('<title>p90 @ rr: 400</title>');
  });

  it('keeps stacked bars for shares (fractions of one whole)', () => {
    const svg = stackedBarChart({ title: 'share', categories: ['c'], xLabel: '', yLabel: '', series: [{ name: 'a', values: [0.25] }, { name: 'b', values: [0.75] }] });
    const [a, b] = heights(svg);
    expect(b / a).toBeCloseTo(3, 1);
  });
});
