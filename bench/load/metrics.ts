/**
 * Aggregates one load level with vLLM's definitions (`vllm-project/vllm: vllm/benchmarks/serve.py`
 * calculate_metrics; REFERENCE §4.1), plus what a gateway benchmark must not hide: requests shed
 * with 429/503 are counted and reported, never dropped, and latency statistics cover completed
 * requests only.
 */
import { build } from 'hdr-histogram-js';
import type { RequestOutcome } from './client.js';

/** Percentiles reported for every latency metric (`p99.9_ttft_ms` style keys). */
export const PERCENTILES = [50, 90, 95, 99, 99.9] as const;

/** Answers that mean "not now" from an admission controller: shed load, not broken requests. */
export const SHED_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** One measured request as the runner records it. */
export interface RequestRecord extends RequestOutcome {
  /** When the request was due: its arrival (open loop) or its dispatch (closed loop). */
  arrivalMs: number;
  /** Wait on the `--max-concurrency` semaphore: st − arrival. */
  clientQueueMs: number;
  /** usage.completion_tokens, else the answer re-tokenized (never the chunk count). */
  outputTokens: number;
  /** usage.prompt_tokens, else the workload's expected count. */
  promptTokens: number;
  group?: number;
  turn?: number;
}

/** `--slo`: a request is good when it meets every limit given (ms). */
export interface SloConfig {
  ttft?: number;
  tpot?: number;
  e2el?: number;
}

export interface LatencyStats {
  count: number;
  mean: number;
  median: number;
  std: number;
  /** Keyed by percentile as written in output keys: '50', '99.9'. */
  percentiles: Record<string, number>;
}

export interface LevelMetrics {
  durationS: number;
  completed: number;
  /** Every request that did not complete, shed ones included (vLLM's `failed`). */
  failed: number;
  shed: number;
  /** Failures by HTTP status; 'network' = no response, 'stream' = a 200 whose stream broke. */
  errorsByStatus: Record<string, number>;
  totalInputTokens: number;
  totalOutputTokens: number;
  requestThroughput: number;
  /** null when no SLO was given (as vLLM writes None). */
  requestGoodput: number | null;
  goodCompleted: number | null;
  outputThroughput: number;
  totalTokenThroughput: number;
  maxOutputTokensPerS: number;
  maxConcurrentRequests: number;
  ttft: LatencyStats;
  tpot: LatencyStats;
  itl: LatencyStats;
  e2el: LatencyStats;
  clientQueue: LatencyStats;
  /** Requests (of any outcome) per `x-switchyard-backend` value. */
  backendCounts: Record<string, number>;
  backendShare: Record<string, number>;
  /** max / mean requests per backend seen; null when no response named a backend. */
  imbalance: number | null;
  cachedTokens: number;
  /** Σcached / Σprompt over completed requests (EvalScope); null when no usage reported cached tokens. */
  kvHitRate: number | null;
  /** Multi-round: TTFT of first turns vs later turns (EvalScope reports both). */
  turnTtft: { first: LatencyStats; later: LatencyStats } | null;
}

/**
 * Mean, median and std (population) exactly as numpy computes them; percentiles from an
 * HdrHistogram at 1 µs resolution and 3 significant digits: the smallest recorded value (to within
 * 0.1%) with at least p% of samples at or below it — not numpy's linear interpolation between
 * neighbours, so a small sample's p99 (and p50 against the median) can differ slightly from vLLM's.
 * An empty list gives zeros, as vLLM's `np.mean(x or 0)` does.
 */
export function latencyStats(valuesMs: readonly number[]): LatencyStats {
  const percentiles: Record<string, number> = {};
  if (valuesMs.length === 0) {
    for (const p of PERCENTILES) percentiles[String(p)] = 0;
    return { count: 0, mean: 0, median: 0, std: 0, percentiles };
  }
  let sum = 0;
  for (const v of valuesMs) sum += v;
  const mean = sum / valuesMs.length;
  let sq = 0;
  for (const v of valuesMs) sq += (v - mean) ** 2;
  const sorted = Float64Array.from(valuesMs).sort();
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const histogram = build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, autoResize: true, bitBucketSize: 32 });
  try {
    for (const v of valuesMs) histogram.recordValue(Math.max(0, Math.round(v * 1000)));
    for (const p of PERCENTILES) percentiles[String(p)] = histogram.getValueAtPercentile(p) / 1000;
  } finally {
    histogram.destroy();
  }
  return { count: valuesMs.length, mean, median, std: Math.sqrt(sq / valuesMs.length), percentiles };
}

/** TPOT of one request: (E2EL − TTFT)/(out − 1), defined only when out > 1. */
export function tpotMs(r: Pick<RequestRecord, 'e2elMs' | 'ttftMs' | 'outputTokens'>): number | undefined {
  return r.outputTokens > 1 ? (r.e2elMs - r.ttftMs) / (r.outputTokens - 1) : undefined;
}

/** Meets every given SLO; out ≤ 1 counts as TPOT 0 (vLLM's `all_tpots`). Limits are inclusive. */
export function meetsSlo(r: RequestRecord, slo: SloConfig): boolean {
  if (slo.ttft !== undefined && r.ttftMs > slo.ttft) return false;
  if (slo.tpot !== undefined && (tpotMs(r) ?? 0) > slo.tpot) return false;
  if (slo.e2el !== undefined && r.e2elMs > slo.e2el) return false;
  return true;
}

/** Peak number of completed requests in flight at once, over half-open [start, end). */
export function peakConcurrency(records: readonly RequestRecord[]): number {
  const events: Array<[number, number]> = [];
  for (const r of records) events.push([r.startMs, 1], [r.startMs + r.e2elMs, -1]);
  // Ties: a departure precedes an arrival at the same instant.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, delta] of events) {
    now += delta;
    if (now > peak) peak = now;
  }
  return peak;
}

/** Most content chunks in any 1-s bin from the first start, chunk times start + ttft + Σitl. */
export function maxOutputTokensPerS(records: readonly RequestRecord[]): number {
  if (records.length === 0) return 0;
  let start = Infinity;
  let end = -Infinity;
  for (const r of records) {
    start = Math.min(start, r.startMs);
    end = Math.max(end, r.startMs + r.e2elMs);
  }
  const bins = new Float64Array(Math.ceil((end - start) / 1000) + 1);
  for (const r of records) {
    let t = r.startMs + r.ttftMs;
    const add = (time: number) => {
      const bin = Math.floor((time - start) / 1000);
      if (bin >= 0 && bin < bins.length) bins[bin]++;
    };
    add(t);
    for (const gap of r.itlMs) add((t += gap));
  }
  return Math.max(...bins);
}

function failureKey(r: RequestRecord): string {
  if (r.status === 0) return 'network';
  if (r.status === 200) return 'stream';
  return String(r.status);
}

/** Aggregates one level; `durationS` runs from the first dispatch until every request is done. */
export function computeMetrics(records: readonly RequestRecord[], durationS: number, slo?: SloConfig): LevelMetrics {
  const done = records.filter((r) => r.success);
  const errorsByStatus: Record<string, number> = {};
  let shed = 0;
  for (const r of records) {
    if (r.success) continue;
    const key = failureKey(r);
    errorsByStatus[key] = (errorsByStatus[key] ?? 0) + 1;
    if (SHED_STATUSES.has(r.status)) shed++;
  }
  const itls: number[] = [];
  const tpots: number[] = [];
  let totalIn = 0;
  let totalOut = 0;
  let cached = 0;
  let cachedSeen = false;
  for (const r of done) {
    totalIn += r.promptTokens;
    totalOut += r.outputTokens;
    for (const gap of r.itlMs) itls.push(gap);
    const tpot = tpotMs(r);
    if (tpot !== undefined) tpots.push(tpot);
    if (r.cachedTokens !== null) {
      cached += r.cachedTokens;
      cachedSeen = true;
    }
  }
  const sloGiven = slo !== undefined && (slo.ttft !== undefined || slo.tpot !== undefined || slo.e2el !== undefined);
  const good = sloGiven ? done.filter((r) => meetsSlo(r, slo)).length : null;
  const backendCounts: Record<string, number> = {};
  for (const r of records) if (r.backend !== null) backendCounts[r.backend] = (backendCounts[r.backend] ?? 0) + 1;
  const counts = Object.values(backendCounts);
  const routed = counts.reduce((a, b) => a + b, 0);
  const backendShare = Object.fromEntries(Object.entries(backendCounts).map(([k, n]) => [k, n / routed]));
  const turns = done.some((r) => r.turn !== undefined);
  const per = (x: number) => (durationS > 0 ? x / durationS : 0);
  return {
    durationS, completed: done.length, failed: records.length - done.length, shed, errorsByStatus,
    totalInputTokens: totalIn, totalOutputTokens: totalOut,
    requestThroughput: per(done.length), requestGoodput: good === null ? null : per(good), goodCompleted: good,
    outputThroughput: per(totalOut), totalTokenThroughput: per(totalIn + totalOut),
    maxOutputTokensPerS: maxOutputTokensPerS(done), maxConcurrentRequests: peakConcurrency(done),
    ttft: latencyStats(done.map((r) => r.ttftMs)),
    tpot: latencyStats(tpots),
    itl: latencyStats(itls),
    e2el: latencyStats(done.map((r) => r.e2elMs)),
    clientQueue: latencyStats(records.map((r) => r.clientQueueMs)),
    backendCounts, backendShare,
    imbalance: counts.length === 0 ? null : Math.max(...counts) / (routed / counts.length),
    cachedTokens: cached,
    kvHitRate: cachedSeen && totalIn > 0 ? cached / totalIn : null,
    turnTtft: turns
      ? { first: latencyStats(done.filter((r) => r.turn === 1).map((r) => r.ttftMs)), later: latencyStats(done.filter((r) => (r.turn ?? 1) > 1).map((r) => r.ttftMs)) }
      : null,
  };
}
