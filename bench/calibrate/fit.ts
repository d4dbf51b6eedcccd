/**
 * Fits a profile's step-time coefficients and frontend overhead to published tables: Nelder–Mead
 * in log space over simulated closed-loop runs (model-run.ts), minimising the squared log error
 * of every cell of every table the profile is matched to. One profile must fit its engine's short
 * and long tables together — the model's shape has to be right, not just its parameters.
 */
import type { EngineProfile } from '../../native/types.js';
import { simulateClosedLoop } from './model-run.js';
import type { PublishedTable, TableWorkload } from './tables.js';

export interface FitTarget {
  table: PublishedTable;
  workload: TableWorkload;
  arm: string;
}

export interface StepCoefficients {
  stepBaseMs: number;
  stepPerSeqMs: number;
  stepPerPrefillTokenMs: number;
  stepPerKvTokenMs: number;
  frontendOverheadMs: number;
}

const KEYS: Array<keyof StepCoefficients> = [
  'stepBaseMs', 'stepPerSeqMs', 'stepPerPrefillTokenMs', 'stepPerKvTokenMs', 'frontendOverheadMs',
];

export function simulateCells(
  profile: EngineProfile, overheadMs: number, target: FitTarget, requestsPerClient = 3,
): number[] {
  return target.table.concurrency.map((concurrency) =>
    simulateClosedLoop(profile, {
      concurrency,
      promptTokens: target.workload.promptTokens,
      outputTokens: target.workload.outputTokens,
      requestsPerClient,
      frontendOverheadMs: overheadMs,
    }),
  );
}

function loss(profile: EngineProfile, c: StepCoefficients, targets: FitTarget[]): number {
  const p = { ...profile, ...c };
  let sum = 0;
  for (const t of targets) {
    const sim = simulateCells(p, c.frontendOverheadMs, t);
    const pub = t.table.arms[t.arm];
    sim.forEach((v, i) => { sum += Math.log(v / pub[i]) ** 2; });
  }
  return sum;
}

/** Nelder–Mead over log-coefficients (all positive); a small floor keeps a zero start movable. */
export function fitProfile(
  profile: EngineProfile, start: StepCoefficients, targets: FitTarget[], iterations = 400,
  fixed: ReadonlyArray<keyof StepCoefficients> = [],
): { coefficients: StepCoefficients; rmsLogError: number } {
  // A coefficient the tables cannot identify is held at its physical value instead: with prefix
  // caching on and one repeated prompt, prefill cost barely shows in throughput, and a free fit
  // would trade it for overhead.
  const free = KEYS.filter((k) => !fixed.includes(k));
  const floor: Record<keyof StepCoefficients, number> = {
    stepBaseMs: 0.5, stepPerSeqMs: 0.005, stepPerPrefillTokenMs: 0.002, stepPerKvTokenMs: 1e-6, frontendOverheadMs: 1,
  };
  const toX = (c: StepCoefficients) => free.map((k) => Math.log(Math.max(c[k], floor[k])));
  const fromX = (x: number[]) =>
    ({ ...start, ...Object.fromEntries(free.map((k, i) => [k, Math.exp(x[i])])) }) as StepCoefficients;
  const f = (x: number[]) => loss(profile, fromX(x), targets);
  const n = free.length;
  const x0 = toX(start);
  let simplex = [x0, ...free.map((_, i) => x0.map((v, j) => (j === i ? v + 0.4 : v)))];
  let values = simplex.map(f);
  for (let it = 0; it < iterations; it++) {
    const order = values.map((v, i) => i).sort((a, b) => values[a] - values[b]);
    simplex = order.map((i) => simplex[i]);
    values = order.map((i) => values[i]);
    const centroid = x0.map((_, j) => simplex.slice(0, n).reduce((s, x) => s + x[j], 0) / n);
    const along = (t: number) => centroid.map((c, j) => c + t * (simplex[n][j] - c));
    const reflected = along(-1);
    const fr = f(reflected);
    if (fr < values[0]) {
      const expanded = along(-2);
      const fe = f(expanded);
      [simplex[n], values[n]] = fe < fr ? [expanded, fe] : [reflected, fr];
    } else if (fr < values[n - 1]) {
      [simplex[n], values[n]] = [reflected, fr];
    } else {
      const contracted = along(0.5);
      const fc = f(contracted);
      if (fc < values[n]) {
        [simplex[n], values[n]] = [contracted, fc];
      } else {
        simplex = simplex.map((x) => x.map((v, j) => simplex[0][j] + 0.5 * (v - simplex[0][j])));
        values = simplex.map(f);
      }
    }
    if (Math.max(...values) - Math.min(...values) < 1e-7) break;
  }
  const best = values.indexOf(Math.min(...values));
  const cells = targets.reduce((s, t) => s + t.table.concurrency.length, 0);
  return { coefficients: fromX(simplex[best]), rmsLogError: Math.sqrt(values[best] / cells) };
}
