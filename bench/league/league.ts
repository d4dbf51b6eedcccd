/**
 * The league: every routing profile on the same fleets and workloads. Per workload, each profile
 * and seed sweeps the rate upward until the SLO attainment falls below 95% (goodput); then every
 * profile runs at the reference load — 80% of least-load's goodput — for its p90 TTFT,
 * throughput, hit rate and balance; and the workload's capacity-aware bound is computed over the
 * same request order.
 */
import { GatewayMetrics } from '../../core/metrics/gateway-metrics.js';
import { runPoint } from './harness.js';
import { resolveProfiles, type LeagueProfile } from './profiles.js';
import { ATTAINMENT, goodput, summarise, workloadBound, type Goodput, type PointSummary } from './stats.js';
import { p90TtftFloor } from './ttft-floor.js';
import type { Workload } from './workload.js';
import { buildWorkload, type WorkloadName } from './workloads.js';

export interface LeagueOptions {
  quick: boolean;
  workloads: readonly WorkloadName[];
  profiles?: readonly string[];
  seeds: number;
  /** Gateway processes sharing a store, each sent every n-th request (default 1). */
  gateways?: number;
  /** Overrides every workload's rate ladder. */
  rates?: readonly number[];
  log?: (line: string) => void;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface ProfileResult {
  profile: string;
  peer: boolean;
  exact: boolean;
  sweeps: Array<{ seed: number; points: PointSummary[]; goodput: Goodput }>;
  /** Over seeds; a seed whose lowest rate failed counts as 0. Sweep points include the bisections. */
  goodput: Spread;
  /** One point per seed at the workload's reference rate. */
  reference: PointSummary[];
}

export interface WorkloadResult {
  name: string;
  title: string;
  notes: string;
  slo: Workload['slo'];
  fleet: Workload['fleet'];
  rates: readonly number[];
  requests: number;
  /** 80% of the base profile's median goodput. */
  referenceRate: number;
  referenceBase: string;
  /**
   * Per seed: Belady's MIN and a pooled LRU over the pooled KV capacity, as prompt-token hit
   * rates; and the p90 TTFT floor no router can beat (ttft-floor.ts), model ms.
   */
  bound: Array<{ seed: number; belady: number; lru: number; p90TtftFloorMs: number }>;
  profiles: ProfileResult[];
  wallMs: number;
}

export interface LeagueResult {
  quick: boolean;
  seeds: number;
  gateways: number;
  workloads: WorkloadResult[];
  wallMs: number;
}

export function spread(values: readonly number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return { median: NaN, min: NaN, max: NaN };
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, min: s[0], max: s[s.length - 1] };
}

/** One process-wide metrics registry: the learner writes to it; nothing reads it here. */
let metrics: GatewayMetrics | undefined;

function point(w: Workload, profile: LeagueProfile, rate: number, seed: number, gateways: number): { summary: PointSummary; order: number[] } {
  metrics ??= new GatewayMetrics([]);
  const t0 = performance.now();
  const rec = runPoint({ workload: w, profile, rate, seed, metrics, gateways });
  const summary = summarise(w, rec, rate, seed, performance.now() - t0);
  const order = Array.from(rec.arrival.keys()).sort((a, b) => rec.arrival[a] - rec.arrival[b] || a - b);
  return { summary, order };
}

/** Bisections of the bracket between the last rate met and the first missed: ×1.5 steps → ~5%. */
const BISECTIONS = 3;
/** Steps past the ladder's top a sweep may climb (×1.5 each: up to ~11× the top). */
const MAX_EXTENSIONS = 6;

/**
 * The ladder's rates upward until the attainment falls below 95%, then the bracket between the
 * last rate met and the first missed bisected (geometrically) — goodput to about 5% at about half
 * the runs of a fine ladder. Quick runs try every rate of the ladder and no more (tests).
 */
function sweep(w: Workload, profile: LeagueProfile, seed: number, rates: readonly number[], quick: boolean, gateways: number): PointSummary[] {
  const points: PointSummary[] = [];
  const run = (rate: number) => {
    const p = point(w, profile, rate, seed, gateways).summary;
    points.push(p);
    return p.attainment >= ATTAINMENT;
  };
  let lo: number | undefined;
  let hi: number | undefined;
  const ladder = [...rates].sort((a, b) => a - b);
  for (const rate of ladder) {
    if (run(rate)) lo = rate;
    else {
      hi = rate;
      if (!quick) break;
    }
  }
  // Every rate of the ladder met: climb on (×1.5) until one is missed, so no profile's goodput is
  // reported as "at least the ladder's top" while another's is measured.
  for (let k = 0; !quick && hi === undefined && lo !== undefined && k < MAX_EXTENSIONS; k++) {
    const rate = Number((lo * 1.5).toPrecision(3));
    if (run(rate)) lo = rate;
    else hi = rate;
  }
  if (quick || lo === undefined || hi === undefined) return points;
  let [met, missed]: [number, number] = [lo, hi];
  for (let i = 0; i < BISECTIONS; i++) {
    const mid = Number(Math.sqrt(met * missed).toPrecision(3));
    if (mid <= met || mid >= missed) break;
    if (run(mid)) met = mid;
    else missed = mid;
  }
  return points;
}

export function runWorkload(name: WorkloadName, o: LeagueOptions): WorkloadResult {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const profiles = resolveProfiles(o.profiles);
  const seeds = Array.from({ length: o.seeds }, (_, i) => i + 1);
  const workloads = new Map<number, Workload>();
  const workloadOf = (seed: number) => {
    let w = workloads.get(seed);
    if (!w) {
      w = buildWorkload(name, { quick: o.quick, seed });
      workloads.set(seed, w);
    }
    return w;
  };
  const first = workloadOf(1);
  const rates = o.rates ?? first.rates;
  // The base of the reference load runs first.
  const base = profiles.find((p) => p.name === 'least-load') ?? profiles[0];
  const ordered = [base, ...profiles.filter((p) => p !== base)];
  const results = new Map<LeagueProfile, ProfileResult>();
  for (const profile of ordered) {
    const sweeps = seeds.map((seed) => {
      const points = sweep(workloadOf(seed), profile, seed, rates, o.quick, o.gateways ?? 1);
      const g = goodput(points);
      log(`${name} ${profile.name} seed ${seed}: goodput ${g.rate === undefined ? '–' : `${g.atLeast ? '≥ ' : ''}${g.rate.toFixed(2)}`} req/s (${g.note}; ${(points.reduce((s, p) => s + p.wallMs, 0) / 1000).toFixed(1)} s)`);
      return { seed, points, goodput: g };
    });
    results.set(profile, {
      profile: profile.name, peer: profile.peer, exact: profile.exact, sweeps,
      goodput: spread(sweeps.map((s) => s.goodput.rate ?? 0)), reference: [],
    });
  }
  const baseGoodput = results.get(base)!.goodput.median;
  const referenceRate = Number((0.8 * (baseGoodput > 0 ? baseGoodput : Math.min(...rates))).toPrecision(3));
  const orders = new Map<number, number[]>();
  for (const profile of ordered) {
    const r = results.get(profile)!;
    for (const seed of seeds) {
      const { summary, order } = point(workloadOf(seed), profile, referenceRate, seed, o.gateways ?? 1);
      r.reference.push(summary);
      if (!orders.has(seed)) orders.set(seed, order);
    }
  }
  const bound = seeds.map((seed) => ({ seed, ...workloadBound(workloadOf(seed), orders.get(seed)!), p90TtftFloorMs: p90TtftFloor(workloadOf(seed), orders.get(seed)!) }));
  return {
    name, title: first.title, notes: first.notes, slo: first.slo, fleet: first.fleet, rates, requests: first.requests.length,
    referenceRate, referenceBase: base.name, bound, profiles: profiles.map((p) => results.get(p)!), wallMs: performance.now() - t0,
  };
}

export function runLeague(o: LeagueOptions): LeagueResult {
  const t0 = performance.now();
  const workloads = o.workloads.map((name) => {
    const r = runWorkload(name, o);
    o.log?.(`${name} done in ${(r.wallMs / 1000).toFixed(1)} s`);
    return r;
  });
  return { quick: o.quick, seeds: o.seeds, gateways: o.gateways ?? 1, workloads, wallMs: performance.now() - t0 };
}
