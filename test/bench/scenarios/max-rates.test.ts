import { describe, expect, it } from 'vitest';
import { maxRates } from '../../../bench/scenarios/routing.js';
import type { LevelMetrics } from '../../../bench/load/metrics.js';

// Only the attainment matters to maxRates; the metrics stand for it.
const run = (policy: string, rate: number, met: number) => ({ policy, gateways: 1, rate, metrics: { met } as unknown as LevelMetrics });
const attained = (m: LevelMetrics) => (m as unknown as { met: number }).met;

describe('routing scenario: highest rate under the SLO', () => {
  it('interpolates between the last rate that met the target and the first that did not', () => {
    const [ll] = maxRates([run('least-load', 12, 0.98), run('least-load', 14, 0.967), run('least-load', 16, 0.926)], 0.95, attained);
    // 96.7% at 14, 92.6% at 16: 95% is crossed 1.7/4.1 of the way.
    expect(ll.rate).toBeCloseTo(14 + (2 * 1.7) / 4.1, 6);
    expect(ll.note).toBe('96.7% at 14, 92.6% at 16');
  });

  it('stops at the first failing rate even when a higher one happened to pass', () => {
    const [x] = maxRates([run('slo', 16, 0.97), run('slo', 18, 0.94), run('slo', 20, 0.96)], 0.95, attained);
    expect(x.rate).toBeGreaterThan(16);
    expect(x.rate).toBeLessThan(18);
  });

  it('says when every rate met it, and when none did', () => {
    const out = maxRates([run('a', 10, 0.99), run('a', 12, 0.98), run('b', 10, 0.5)], 0.95, attained);
    expect(out.find((o) => o.policy === 'a')).toMatchObject({ rate: 12 });
    expect(out.find((o) => o.policy === 'a')!.note).toMatch(/met at every rate tried/);
    expect(out.find((o) => o.policy === 'b')!.rate).toBeUndefined();
  });
});
