import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FastCounter, FastGauge, FastHistogram } from '../../../core/metrics/fast-metrics.js';

/** The same metrics made by prom-client and by fast-metrics.ts, updated alike, print alike. */
describe('fast metrics', () => {
  it('print in /metrics exactly as prom-client\'s own, for the same updates', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const buckets = [0.005, 0.01, 0.1, 1, 2.5];
    const labelNames = ['model', 'backend'] as const;
    const make = (r: Registry, fast: boolean) => fast
      ? {
        c: new FastCounter({ name: 'sy_c_total', help: 'c', labelNames, registers: [r] }),
        u: new FastCounter({ name: 'sy_u_total', help: 'unlabelled', registers: [r] }),
        g: new FastGauge({ name: 'sy_g', help: 'g', labelNames, registers: [r] }),
        h: new FastHistogram({ name: 'sy_h_seconds', help: 'h', labelNames, buckets, registers: [r] }),
        n: new FastHistogram({ name: 'sy_n_seconds', help: 'unlabelled h', buckets, registers: [r] }),
      }
      : {
        c: new Counter({ name: 'sy_c_total', help: 'c', labelNames, registers: [r] }),
        u: new Counter({ name: 'sy_u_total', help: 'unlabelled', registers: [r] }),
        g: new Gauge({ name: 'sy_g', help: 'g', labelNames, registers: [r] }),
        h: new Histogram({ name: 'sy_h_seconds', help: 'h', labelNames, buckets, registers: [r] }),
        n: new Histogram({ name: 'sy_n_seconds', help: 'unlabelled h', buckets, registers: [r] }),
      };
    for (const [r, fast] of [[theirs, false], [ours, true]] as const) {
      const m = make(r, fast);
      const a = m.h.labels({ model: 'm', backend: 'a' });
      const values = [0.001, 0.005, 0.0051, 0.5, 1, 3, 100, 0.01];
      for (const v of values) a.observe(v);
      m.h.observe({ model: 'm', backend: 'b' }, 2);
      m.n.observe(0.02);
      m.c.labels({ model: 'm', backend: 'a' }).inc();
      m.c.labels({ model: 'm', backend: 'a' }).inc(4);
      m.c.inc({ model: 'x', backend: 'b' }, 2.5);
      const g = m.g.labels({ model: 'm', backend: 'a' });
      g.inc();
      g.inc();
      g.dec();
      m.g.labels({ model: 'gone', backend: 'z' }).inc();
      m.g.remove({ model: 'gone', backend: 'z' });
    }
    const mine = await ours.metrics();
    expect(mine).toBe(await theirs.metrics());
    expect(mine).toContain('sy_h_seconds_bucket{le="0.005",model="m",backend="a"} 2');
    expect(mine).toContain('sy_u_total 0');
    // The JSON form (the dashboard reads get()) carries the same values.
    const essentials = async (r: Registry) => (await r.getMetricsAsJSON()).map((m) => ({
      name: m.name, help: m.help, type: m.type, aggregator: m.aggregator,
      values: m.values.map((v) => ({ value: v.value, labels: v.labels, metricName: (v as { metricName?: string }).metricName })),
    }));
    expect(await essentials(ours)).toEqual(await essentials(theirs));
  });

  it('refuses what prom-client refuses: a counter going down, a missing label, a non-number', () => {
    const c = new FastCounter({ name: 'c_total', help: 'c', labelNames: ['a'] });
    expect(() => c.labels({ a: 'x' }).inc(-1)).toThrow();
    expect(() => c.labels({})).toThrow(/missing label a/);
    const h = new FastHistogram({ name: 'h', help: 'h', buckets: [1] });
    expect(() => h.observe(Number.NaN)).toThrow();
  });
});
