/**
 * The quick league end to end: every workload and default profile, one seed, two rates — its
 * structure and the invariants the numbers must keep whatever the routers do.
 */
import { describe, expect, it } from 'vitest';
import { runLeague, type LeagueResult } from '../../../bench/league/league.js';
import { defaultProfileNames } from '../../../bench/league/profiles.js';
import { leagueHtml, leagueText } from '../../../bench/league/report.js';
import { WORKLOADS } from '../../../bench/league/workloads.js';

describe('league --quick', () => {
  let result: LeagueResult;

  it('runs every workload with every profile', () => {
    result = runLeague({ quick: true, workloads: WORKLOADS, seeds: 1 });
    expect(result.workloads.map((w) => w.name)).toEqual([...WORKLOADS]);
    for (const w of result.workloads) {
      expect(w.profiles.map((p) => p.profile)).toEqual(defaultProfileNames());
      for (const p of w.profiles) {
        expect(p.sweeps).toHaveLength(1);
        expect(p.sweeps[0].points.map((x) => x.rate)).toEqual([...w.rates].sort((a, b) => a - b));
        expect(p.reference).toHaveLength(1);
        expect(p.reference[0].rate).toBe(w.referenceRate);
      }
    }
  });

  it('the bound: Belady\'s MIN ≥ pooled LRU ≥ 0, and no profile beats MIN by more than rounding', () => {
    for (const w of result.workloads) {
      for (const b of w.bound) {
        expect(b.lru).toBeGreaterThanOrEqual(0);
        expect(b.belady).toBeGreaterThanOrEqual(b.lru);
        expect(b.belady).toBeLessThanOrEqual(1);
      }
      for (const p of w.profiles) {
        for (const s of [...p.reference, ...p.sweeps[0].points]) {
          expect(s.hitRate).toBeGreaterThanOrEqual(0);
          expect(s.hitRate).toBeLessThanOrEqual(w.bound[0].belady + 0.02);
          expect(s.attainment).toBeGreaterThanOrEqual(0);
          expect(s.attainment).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  it('the p90 TTFT floor is positive and no profile\'s p90, at any rate, is below it', () => {
    for (const w of result.workloads) {
      const floor = w.bound[0].p90TtftFloorMs;
      expect(floor).toBeGreaterThan(0);
      for (const p of w.profiles) {
        // Reached exactly where a profile keeps every compulsory miss on an idle replica (up to float rounding).
        for (const s of [...p.reference, ...p.sweeps[0].points]) expect(s.p90TtftMs).toBeGreaterThanOrEqual(floor - 1e-6);
      }
    }
  });

  it('the product\'s profiles report how right their cached-token predictions were: precision and recall in [0, 1]', () => {
    for (const w of result.workloads) {
      for (const p of w.profiles.filter((x) => !x.peer && x.profile.startsWith('prefix-affinity'))) {
        const s = p.reference[0];
        // Every workload shares prefixes: the router predicts hits, and the engines report some.
        expect(s.precision, `${w.name} ${p.profile}`).toBeGreaterThan(0);
        expect(s.precision).toBeLessThanOrEqual(1);
        expect(s.recall).toBeGreaterThan(0);
        expect(s.recall).toBeLessThanOrEqual(1);
      }
    }
  });

  it('round-robin spreads requests evenly over the replicas', () => {
    for (const w of result.workloads) {
      const rr = w.profiles.find((p) => p.profile === 'round-robin')!;
      for (const s of [...rr.reference, ...rr.sweeps[0].points]) {
        expect(s.perReplica.reduce((a, b) => a + b, 0)).toBe(w.requests);
        expect(Math.max(...s.perReplica) - Math.min(...s.perReplica)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('goodput sits between the last rate met and the first missed, and the reference load is 80% of least-load\'s', () => {
    for (const w of result.workloads) {
      for (const p of w.profiles) {
        const { points, goodput } = p.sweeps[0];
        const fail = points.find((x) => x.attainment < 0.95);
        const lastPass = [...points].reverse().find((x) => x.attainment >= 0.95 && (!fail || x.rate < fail.rate));
        if (!fail) expect(goodput).toMatchObject({ rate: Math.max(...points.map((x) => x.rate)), atLeast: true });
        else if (!lastPass) expect(goodput.rate).toBeUndefined();
        else {
          expect(goodput.rate!).toBeGreaterThanOrEqual(lastPass.rate);
          expect(goodput.rate!).toBeLessThanOrEqual(fail.rate);
        }
      }
      const ll = w.profiles.find((p) => p.profile === 'least-load')!;
      const base = ll.goodput.median > 0 ? ll.goodput.median : Math.min(...w.rates);
      expect(w.referenceRate).toBeCloseTo(0.8 * base, 2);
    }
  });

  it('reports a table per workload and an HTML page with its charts', () => {
    const text = leagueText(result);
    for (const w of WORKLOADS) expect(text).toContain(`${w} — `);
    expect(text).toContain('Belady MIN');
    const html = leagueHtml(result);
    expect(html).toContain('<svg');
    expect(html).toContain('Goodput per workload and profile');
    expect(html.match(/TTFT p90 against rate<\/text>/g)).toHaveLength(WORKLOADS.length);
  });
});

describe('league: several gateways sharing a store', () => {
  it('each gateway routes its share with its own state; placements and load reach the others', () => {
    const one = runLeague({ quick: true, workloads: ['W1'], profiles: ['prefix-affinity'], seeds: 1 });
    const three = runLeague({ quick: true, workloads: ['W1'], profiles: ['prefix-affinity'], seeds: 1, gateways: 3 });
    expect(three.gateways).toBe(3);
    const [a, b] = [one, three].map((r) => r.workloads[0].profiles[0].reference[0]);
    // Every request answered either way; three gateways, each with a third of the samples and a
    // delayed view of the others' load, do not decide exactly as one does.
    expect(b.perReplica.reduce((s, x) => s + x, 0)).toBe(a.perReplica.reduce((s, x) => s + x, 0));
    expect(b.hitRate).toBeGreaterThan(0);
    expect(leagueText(three)).toMatch(/3 gateways sharing a store/);
  });
});
