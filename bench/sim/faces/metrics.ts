/**
 * What the faces' Prometheus pages share: snapshot-backed gauges and counters, the engines'
 * bucket lists, and a finished request's phase durations.
 *
 * Gauges and the engine's cumulative counters are read from `engine.snapshot()` at scrape time
 * (collect callbacks). prom-client counters cannot be set, so a snapshot-backed counter
 * increments by the delta since the previous scrape. Histograms are observed per request from the
 * engine's final-response timings (model time, seconds).
 *
 * Every engine here makes its labelled series when it starts (`metric.labels(...)` in Python),
 * so counters and histograms are on the page with zero counts before the first request; prom-client
 * makes a labelled series only on first use, hence the explicit `inc(labels, 0)` and `zero(labels)`.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Engine, EngineSnapshot } from '../../../native/engine.js';
import type { CompletedRequest } from '../generation.js';

export interface EngineMetrics {
  registry: Registry;
  observe(done: CompletedRequest): void;
}

export type Labels = Record<string, string>;

/** One snapshot per scrape: collect callbacks of the same scrape share it. */
export class SnapshotReader {
  private cached: EngineSnapshot | undefined;
  private at = 0;
  constructor(private readonly engine: Engine) {}
  get(): EngineSnapshot {
    const now = Date.now();
    if (this.cached === undefined || now - this.at > 5) {
      this.cached = this.engine.snapshot();
      this.at = now;
    }
    return this.cached;
  }
}

export function snapshotCounter(registry: Registry, name: string, help: string, labels: Labels,
  snap: SnapshotReader, read: (s: EngineSnapshot) => number): void {
  let last = 0;
  new Counter({
    name, help, labelNames: Object.keys(labels), registers: [registry],
    collect() {
      const value = read(snap.get());
      this.inc(labels, Math.max(0, value - last));
      last = Math.max(last, value);
    },
  });
}

export function snapshotGauge(registry: Registry, name: string, help: string, labels: Labels,
  snap: SnapshotReader, read: (s: EngineSnapshot) => number): void {
  new Gauge({ name, help, labelNames: Object.keys(labels), registers: [registry], collect() { this.set(labels, read(snap.get())); } });
}

/** A counter whose one series exists from the start. */
export function eagerCounter(registry: Registry, name: string, help: string, labels: Labels): Counter {
  const counter = new Counter({ name, help, labelNames: Object.keys(labels), registers: [registry] });
  counter.inc(labels, 0);
  return counter;
}

/** A histogram whose one series exists from the start, every bucket at zero. */
export function eagerHistogram(registry: Registry, name: string, help: string, labels: Labels, buckets: number[]): Histogram {
  const histogram = new Histogram({ name, help, buckets, labelNames: Object.keys(labels), registers: [registry] });
  histogram.zero(labels);
  return histogram;
}

/** vLLM's build_1_2_5_buckets (vllm/v1/metrics/loggers.py), which LMDeploy copies. */
export function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let exp = 1; ; exp *= 10) {
    for (const m of [1, 2, 5]) {
      if (m * exp > max) return out;
      out.push(m * exp);
    }
  }
}

// vllm/v1/metrics/loggers.py (PrometheusStatLogger); LMDeploy and TensorRT-LLM copy the TTFT and
// request lists.
export const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
export const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
export const REQUEST_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

/** Phase durations of a finished request, in seconds (model time). */
export interface Phases {
  e2e: number;
  queue: number;
  inference: number;
  ttft?: number;
  prefill?: number;
  decode?: number;
  /** vLLM's mean_time_per_output_token: decode time over the tokens after the first. */
  tpot?: number;
}

export function phases(done: CompletedRequest): Phases | undefined {
  const t = done.timings;
  if (t === undefined) return undefined;
  const s = (ms: number): number => Math.max(0, ms) / 1000;
  const scheduled = t.scheduledMs >= 0 ? t.scheduledMs : t.finishMs;
  const out: Phases = { e2e: s(t.finishMs - t.arrivalMs), queue: s(scheduled - t.arrivalMs), inference: s(t.finishMs - scheduled) };
  if (t.firstTokenMs >= 0) {
    out.ttft = s(t.firstTokenMs - t.arrivalMs);
    out.prefill = s(t.firstTokenMs - scheduled);
    out.decode = s(t.finishMs - t.firstTokenMs);
    out.tpot = done.completionTokens > 1 ? out.decode / (done.completionTokens - 1) : 0;
  }
  return out;
}
