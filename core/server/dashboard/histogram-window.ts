/**
 * Latency percentiles over the last few seconds, from the gateway's own Prometheus histograms:
 * each tick records every route's cumulative bucket counts, and a window is the newest record
 * minus the oldest one still inside it. Nothing is added to the request path.
 *
 * Quantiles interpolate linearly inside a bucket, as Prometheus's histogram_quantile does (so
 * they are estimates, as fine as the bucket bounds); the +Inf bucket answers with the highest
 * finite bound.
 */

/** Cumulative counts per upper bound (ascending; the last bound is +Inf). */
export interface Buckets {
  bounds: number[];
  counts: number[];
}

/** The observations in `now` that are not in `then` (same bounds). */
export function subtract(now: Buckets, then: Buckets | undefined): Buckets {
  if (!then) return now;
  return { bounds: now.bounds, counts: now.counts.map((c, i) => Math.max(0, c - (then.counts[i] ?? 0))) };
}

export function total(b: Buckets): number {
  return b.counts.length > 0 ? b.counts[b.counts.length - 1]! : 0;
}

/** The q-quantile (0..1) of the observations; undefined when there are none. */
export function quantile(b: Buckets, q: number): number | undefined {
  const n = total(b);
  if (n === 0) return undefined;
  const rank = q * n;
  for (let i = 0; i < b.counts.length; i++) {
    if (b.counts[i]! < rank) continue;
    const upper = b.bounds[i]!;
    const lower = i > 0 ? b.bounds[i - 1]! : 0;
    if (!Number.isFinite(upper)) return lower;
    const below = i > 0 ? b.counts[i - 1]! : 0;
    const inside = b.counts[i]! - below;
    return inside > 0 ? lower + (upper - lower) * ((rank - below) / inside) : upper;
  }
  return b.bounds[b.bounds.length - 2];
}

/** The share of observations at or under `x`, interpolated inside its bucket; undefined when none. */
export function shareAtMost(b: Buckets, x: number): number | undefined {
  const n = total(b);
  if (n === 0) return undefined;
  for (let i = 0; i < b.bounds.length; i++) {
    const upper = b.bounds[i]!;
    if (x > upper) continue;
    const lower = i > 0 ? b.bounds[i - 1]! : 0;
    const below = i > 0 ? b.counts[i - 1]! : 0;
    if (!Number.isFinite(upper)) return below / n;
    const part = upper > lower ? (x - lower) / (upper - lower) : 1;
    return (below + (b.counts[i]! - below) * part) / n;
  }
  return 1;
}

/** Per-key bucket records over time; `window(key)` is what arrived within the last `spanMs`. */
export class HistogramWindow {
  private readonly records: Array<{ at: number; byKey: ReadonlyMap<string, Buckets> }> = [];

  constructor(private readonly spanMs: number) {}

  record(at: number, byKey: ReadonlyMap<string, Buckets>): void {
    this.records.push({ at, byKey });
    // Keep one record at or before the window's start: it is the baseline subtracted.
    while (this.records.length > 2 && this.records[1]!.at <= at - this.spanMs) this.records.shift();
  }

  window(key: string): Buckets | undefined {
    const newest = this.records[this.records.length - 1]?.byKey.get(key);
    if (!newest) return undefined;
    return this.records.length > 1 ? subtract(newest, this.records[0]!.byKey.get(key) ?? zero(newest)) : zero(newest);
  }

  clear(): void {
    this.records.length = 0;
  }
}

function zero(b: Buckets): Buckets {
  return { bounds: b.bounds, counts: b.counts.map(() => 0) };
}
