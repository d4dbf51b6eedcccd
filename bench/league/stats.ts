/**
 * What one run's records say (SLO attainment, p90 TTFT, throughput, hit rate, balance), goodput
 * over a rate sweep (DistServe: the highest rate at which ≥ 95% of requests meet both SLOs), and
 * the capacity-aware bound of a workload's request order.
 */
import { blockKeys } from '../../core/routing/kv-tracker.js';
import { capacityBound } from './bound.js';
import type { RunRecords } from './harness.js';
import { engineProfileOf } from './replica.js';
import type { LeagueRequest, Workload } from './workload.js';

export const ATTAINMENT = 0.95;

export interface PointSummary {
  rate: number;
  seed: number;
  /** Share of requests meeting both the TTFT and the TPOT target (unanswered ones do not). */
  attainment: number;
  p90TtftMs: number;
  /** Output tokens/s over the run (first arrival to last answer, model time). */
  throughput: number;
  /** Engine-reported cached prompt tokens ÷ prompt tokens. */
  hitRate: number;
  perReplica: number[];
  /** Requests per replica, max ÷ mean. */
  imbalance: number;
  /** Per replica: its share of requests ÷ its share of the fleet's prefill capacity. */
  capacityShare: number[];
  /**
   * Routing precision and recall of the router's cached-token predictions, as /admin/routing
   * reports them: Σ min(predicted, reported) over Σ predicted, and over Σ reported (NaN with nothing to divide).
   */
  precision: number;
  recall: number;
  wallMs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * A replica's capacity: its prefill rate (tokens/ms of its profile), the work these workloads are
 * bound by — an H100 prefills 7.5× faster than an A10.
 */
export function capacityShares(w: Workload): number[] {
  const rates = w.fleet.map((s) => 1 / engineProfileOf(s).stepPerPrefillTokenMs);
  const total = rates.reduce((a, b) => a + b, 0);
  return rates.map((r) => r / total);
}

export function summarise(w: Workload, rec: RunRecords, rate: number, seed: number, wallMs: number): PointSummary {
  const n = rec.arrival.length;
  let met = 0;
  let out = 0;
  let cached = 0;
  let prompt = 0;
  let start = Infinity;
  let end = 0;
  const ttfts: number[] = [];
  const perReplica = new Array<number>(w.fleet.length).fill(0);
  for (let i = 0; i < n; i++) {
    if (rec.replica[i] >= 0) perReplica[rec.replica[i]]++;
    prompt += rec.promptTokens[i];
    cached += rec.cachedTokens[i];
    out += rec.completionTokens[i];
    if (rec.arrival[i] < start) start = rec.arrival[i];
    if (Number.isNaN(rec.finish[i])) continue;
    end = Math.max(end, rec.finish[i]);
    const ttft = rec.firstToken[i] - rec.arrival[i];
    ttfts.push(ttft);
    const tokens = rec.completionTokens[i];
    const tpot = tokens > 1 ? (rec.finish[i] - rec.firstToken[i]) / (tokens - 1) : 0;
    if (ttft <= w.slo.ttftMs && tpot <= w.slo.tpotMs) met++;
  }
  ttfts.sort((a, b) => a - b);
  const mean = n / w.fleet.length;
  const shares = capacityShares(w);
  return {
    rate, seed, attainment: met / n, p90TtftMs: percentile(ttfts, 90), throughput: end > start ? out / ((end - start) / 1000) : 0,
    hitRate: prompt > 0 ? cached / prompt : 0, perReplica, imbalance: Math.max(...perReplica) / mean,
    capacityShare: perReplica.map((c, k) => c / n / shares[k]),
    precision: rec.prediction.predicted > 0 ? rec.prediction.matched / rec.prediction.predicted : NaN,
    recall: rec.prediction.reported > 0 ? rec.prediction.matched / rec.prediction.reported : NaN,
    wallMs,
  };
}

export interface Goodput {
  /** Undefined when even the lowest rate tried fails. */
  rate?: number;
  /** Every rate tried passed: goodput is at least `rate`. */
  atLeast?: boolean;
  note: string;
}

/**
 * Goodput over a sweep (points of one profile and seed, any order): interpolated between the last
 * rate that met the target and the first that did not (the first failure ends the sweep's
 * meaning: a later pass is noise) — as bench/scenarios/routing.ts's maxRates.
 */
export function goodput(points: ReadonlyArray<Pick<PointSummary, 'rate' | 'attainment'>>, target = ATTAINMENT): Goodput {
  const runs = [...points].sort((a, b) => a.rate - b.rate);
  const pct = (a: number) => `${(100 * a).toFixed(1)}%`;
  const fail = runs.findIndex((r) => r.attainment < target);
  if (runs.length === 0) return { note: 'no runs' };
  if (fail === 0) return { note: `${pct(runs[0].attainment)} at ${runs[0].rate}, the lowest rate tried` };
  if (fail < 0) {
    const last = runs[runs.length - 1];
    return { rate: last.rate, atLeast: true, note: `met at every rate tried, up to ${last.rate}` };
  }
  const lo = runs[fail - 1];
  const hi = runs[fail];
  const rate = lo.rate + ((lo.attainment - target) / Math.max(1e-9, lo.attainment - hi.attainment)) * (hi.rate - lo.rate);
  return { rate, note: `${pct(lo.attainment)} at ${lo.rate}, ${pct(hi.attainment)} at ${hi.rate}` };
}

/**
 * The capacity-aware bound (bound.ts) of a workload replayed in `order` (request indices, as
 * they arrived), at the engines' block size, with the fleet's total KV capacity pooled. An answer
 * the engine caches as it decodes (multi-turn) brings its blocks in without being counted.
 */
export function workloadBound(w: Workload, order: readonly number[]): { belady: number; lru: number } {
  const profiles = w.fleet.map(engineProfileOf);
  const blockSize = profiles[0].blockSize;
  const capacity = profiles.reduce((s, p) => s + p.numBlocks, 0);
  const keys: number[] = [];
  const counted: number[] = [];
  let prompt = 0;
  for (const i of order) {
    const r = w.requests[i];
    prompt += r.ids.length;
    const { own, answer } = requestBlockKeys(r, blockSize);
    for (const k of own) {
      keys.push(k);
      counted.push(1);
    }
    for (const k of answer) {
      keys.push(k);
      counted.push(0);
    }
  }
  return capacityBound(keys, capacity, blockSize, prompt, counted);
}

/**
 * A request's block keys: its prompt's, and those its answer adds after them (an engine caches an
 * answer's blocks as it decodes them; a later turn's prompt holds them). An answer the engine
 * writes itself (no scripted one) is no later prompt's, yet it fills the cache all the same: its
 * full blocks get keys of their own, negative so that no prompt's key (kv-tracker.ts: 52 bits,
 * never negative) can equal one. MIN never keeps them; an LRU holds them as an engine does.
 */
export function requestBlockKeys(r: LeagueRequest, blockSize: number): { own: number[]; answer: number[] } {
  const own = blockKeys(r.ids, blockSize);
  if (!r.answer) {
    // The league's requests run to max_tokens (ignore_eos), so the answer's length is known.
    const blocks = Math.floor((r.ids.length + r.maxTokens) / blockSize) - own.length;
    return { own, answer: Array.from({ length: blocks }, (_, j) => -(r.index * 65_536 + j + 1)) };
  }
  const whole = new Int32Array(r.ids.length + r.answer.length);
  whole.set(r.ids);
  whole.set(r.answer, r.ids.length);
  return { own, answer: blockKeys(whole, blockSize).slice(own.length) };
}
