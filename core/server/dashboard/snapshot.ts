/**
 * One dashboard snapshot: what /admin/routing says about each backend, per-route TTFT/TPOT
 * percentiles and SLO attainment over the last few seconds, routing decisions by reason since the
 * previous snapshot, usage per API key id, and each A/B route's arm report.
 *
 * Everything is read from state the gateway already keeps (the backends, the routing state, the
 * Prometheus registry, the arms): the request path does no extra work for the dashboard, and a
 * snapshot is built only while someone is watching (see feed.ts).
 */
import type { Registry } from 'prom-client';
import type { GatewayMetrics } from '../../metrics/gateway-metrics.js';
import type { RoutingLearner } from '../../routing/learner.js';
import type { RouteTable } from '../../routing/route-table.js';
import { HistogramWindow, quantile, shareAtMost, total, type Buckets } from './histogram-window.js';

export interface SnapshotSources {
  /** A getter: the table may be replaced while the gateway runs. */
  routes: () => RouteTable;
  learner: RoutingLearner;
  metrics: GatewayMetrics;
}

interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
}

export interface KeyUsage {
  key: string;
  model: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
}

/** Latencies in ms over the window; attainment is the share of requests within the route's target. */
interface RouteLatency {
  requests: number;
  ttft_ms: Percentiles | null;
  tpot_ms: Percentiles | null;
  slo: { ttft_ms?: number; tpot_ms?: number } | null;
  slo_attainment: { ttft?: number; tpot?: number } | null;
}

/** Counter values by one label (summed over the others). */
type Totals = Map<string, number>;

export class SnapshotBuilder {
  private readonly ttft: HistogramWindow;
  private readonly tpot: HistogramWindow;
  private lastDecisions: Totals | undefined;

  constructor(private readonly src: SnapshotSources, readonly windowMs = 10_000, private readonly now: () => number = Date.now) {
    this.ttft = new HistogramWindow(windowMs);
    this.tpot = new HistogramWindow(windowMs);
  }

  /** Forget the history: the next snapshot starts new windows and reports no decisions yet. */
  reset(): void {
    this.ttft.clear();
    this.tpot.clear();
    this.lastDecisions = undefined;
  }

  async build(): Promise<Record<string, unknown>> {
    const at = this.now();
    const { metrics } = this.src;
    const table = this.src.routes();
    const [ttft, tpot, decisions, usage] = await Promise.all([
      bucketsByModel(metrics.ttft), bucketsByModel(metrics.tpot), totalsBy(metrics.decisions, 'reason'), keyUsage(metrics.registry),
    ]);
    this.ttft.record(at, ttft);
    this.tpot.record(at, tpot);
    const decided: Record<string, number> = {};
    for (const [reason, n] of decisions) decided[reason] = this.lastDecisions ? n - (this.lastDecisions.get(reason) ?? 0) : 0;
    this.lastDecisions = decisions;

    return {
      at,
      window_ms: this.windowMs,
      backends: this.backends(table),
      routes: table.routes.map((route) => ({
        model: route.model,
        policy: route.policy.type,
        backends: route.backends.map((b) => b.id),
        ...this.latency(route.model, route.slo),
      })),
      decisions: decided,
      usage,
      ab: table.routes.filter((r) => r.arms.arms.length > 1).map((r) => ({ model: r.model, ...r.arms.report() })),
    };
  }

  private backends(table: RouteTable): unknown[] {
    const { state, breakers } = table;
    const backends = [...new Set(table.routes.flatMap((r) => r.backends))];
    return backends.map((b) => {
      const signals = b.signals();
      const prefixes = state.prefixes.of(b.id);
      return {
        id: b.id, engine: b.engine, simulated: b.simulated,
        health: b.health(), breaker: breakers.of(b.id).status(),
        in_flight: signals.inFlight, running: signals.running ?? null, waiting: signals.waiting ?? null,
        kv_usage: signals.kvUsage ?? null, prefix_hit_rate: signals.prefixHitRate ?? null,
        prefix_index: { chunks: prefixes.size, capacity: prefixes.capacity },
        routing_precision: this.src.learner.precisionOf(b.id).report(),
      };
    });
  }

  private latency(model: string, slo: { ttftMs?: number; tpotMs?: number } | undefined): RouteLatency {
    const ttft = this.ttft.window(model);
    const tpot = this.tpot.window(model);
    const attainment: { ttft?: number; tpot?: number } = {};
    if (slo?.ttftMs !== undefined && ttft) attainment.ttft = shareAtMost(ttft, slo.ttftMs / 1000);
    if (slo?.tpotMs !== undefined && tpot) attainment.tpot = shareAtMost(tpot, slo.tpotMs / 1000);
    return {
      requests: ttft ? total(ttft) : 0,
      ttft_ms: percentilesMs(ttft),
      tpot_ms: percentilesMs(tpot),
      slo: slo ? { ttft_ms: slo.ttftMs, tpot_ms: slo.tpotMs } : null,
      slo_attainment: slo ? attainment : null,
    };
  }
}

function percentilesMs(b: Buckets | undefined): Percentiles | null {
  if (!b || total(b) === 0) return null;
  const ms = (q: number) => Math.round((quantile(b, q) ?? 0) * 100_000) / 100;
  return { p50: ms(0.5), p90: ms(0.9), p99: ms(0.99) };
}

interface Readable {
  get(): Promise<{ values: Array<{ value: number; labels: Partial<Record<string, string | number>>; metricName?: string }> }>;
}

/** A histogram's cumulative buckets per model, summed over its backends. */
async function bucketsByModel(histogram: Readable): Promise<Map<string, Buckets>> {
  const counts = new Map<string, Map<number, number>>();
  for (const v of (await histogram.get()).values) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    const model = String(v.labels.model);
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
    let byLe = counts.get(model);
    if (!byLe) counts.set(model, (byLe = new Map()));
    byLe.set(le, (byLe.get(le) ?? 0) + v.value);
  }
  const out = new Map<string, Buckets>();
  for (const [model, byLe] of counts) {
    const bounds = [...byLe.keys()].sort((a, b) => a - b);
    out.set(model, { bounds, counts: bounds.map((le) => byLe.get(le)!) });
  }
  return out;
}

async function totalsBy(counter: Readable, label: string): Promise<Totals> {
  const out: Totals = new Map();
  for (const v of (await counter.get()).values) {
    const key = String(v.labels[label]);
    out.set(key, (out.get(key) ?? 0) + v.value);
  }
  return out;
}

const USAGE_METRICS = {
  requests: 'switchyard_key_requests_total',
  prompt_tokens: 'switchyard_key_prompt_tokens_total',
  completion_tokens: 'switchyard_key_completion_tokens_total',
  cached_tokens: 'switchyard_key_cached_prompt_tokens_total',
} as const;

/** Usage per (key id, model) from core/auth's usage counters; none when no keys are configured. */
async function keyUsage(registry: Registry): Promise<KeyUsage[]> {
  const rows = new Map<string, KeyUsage>();
  for (const [field, name] of Object.entries(USAGE_METRICS) as Array<[keyof typeof USAGE_METRICS, string]>) {
    const metric = registry.getSingleMetric(name);
    if (!metric) continue;
    for (const v of (await metric.get()).values) {
      const key = String(v.labels.key);
      const model = String(v.labels.model);
      const id = `${key}\u0000${model}`;
      let row = rows.get(id);
      if (!row) rows.set(id, (row = { key, model, requests: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0 }));
      row[field] += v.value;
    }
  }
  return [...rows.values()].sort((a, b) => a.key.localeCompare(b.key) || a.model.localeCompare(b.model));
}
