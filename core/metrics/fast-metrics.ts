/**
 * Counters, gauges and histograms for the request path, printed by prom-client's Registry like
 * its own, whose label children cost nothing per update.
 *
 * prom-client's children keep the label object and, on every `inc` or `observe`, validate it and
 * hash it again (prom-client 15.1: lib/counter.js `inc`, lib/histogram.js `observe`, both through
 * `hashObject`): with a dozen updates per request, 4–6% of the gateway's CPU under the overhead
 * benchmark's load (bench/overhead/profile.ts). Here a child is found once, by its label values,
 * and an update is an addition to its own fields. A Registry asks a metric only for `name` and
 * `get()` (lib/registry.js `getMetricsAsString`), so these register beside prom-client's own and
 * appear in /metrics the same way: the same names, types, label order, `le` buckets, `_sum` and
 * `_count`.
 */
import type { Registry } from 'prom-client';

type LabelValues<L extends string> = Partial<Record<L, string | number>>;

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** What prom-client's Registry and the dashboard read from a metric. */
export interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

interface Options<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  registers?: Registry[];
}

abstract class FastMetric<L extends string, C> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  abstract readonly type: MetricData['type'];
  protected readonly labelNames: readonly L[];
  /** By label values joined; each with the label object it prints. */
  protected children = new Map<string, { labels: Record<string, string | number>; child: C }>();

  constructor(o: Options<L>) {
    this.name = o.name;
    this.help = o.help;
    this.labelNames = o.labelNames ?? [];
    // prom-client's Registry types its argument as its own Metric class; it reads name and get().
    for (const r of o.registers ?? []) r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected abstract make(): C;

  /** The child of these label values (every label named, as prom-client requires). */
  labels(values: LabelValues<L>): C {
    let key = '';
    for (let i = 0; i < this.labelNames.length; i++) {
      const v = values[this.labelNames[i]];
      if (v === undefined) throw new Error(`${this.name}: missing label ${this.labelNames[i]}`);
      key = i === 0 ? String(v) : `${key}\u0000${v}`;
    }
    let entry = this.children.get(key);
    if (!entry) {
      const labels: Record<string, string | number> = {};
      for (const n of this.labelNames) labels[n] = values[n]!;
      entry = { labels, child: this.make() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  remove(values: LabelValues<L>): void {
    this.children.delete(this.labelNames.map((n) => String(values[n])).join('\u0000'));
  }

  reset(): void {
    this.children = new Map();
  }

  abstract get(): Promise<MetricData>;
}

export class CounterChild {
  value = 0;

  inc(by = 1): void {
    if (!(by >= 0)) throw new Error(`a counter cannot go down or take ${by}`);
    this.value += by;
  }
}

export class FastCounter<L extends string = string> extends FastMetric<L, CounterChild> {
  readonly type = 'counter' as const;

  constructor(o: Options<L>) {
    super(o);
    if (this.labelNames.length === 0) this.labels({});
  }

  protected make(): CounterChild {
    return new CounterChild();
  }

  /** `inc()`, `inc(by)`, `inc(labels)` or `inc(labels, by)`, as prom-client's Counter takes them. */
  inc(labels?: LabelValues<L> | number, by?: number): void {
    if (typeof labels === 'object') this.labels(labels).inc(by);
    else this.labels({}).inc(labels);
  }

  get(): Promise<MetricData> {
    const values = [...this.children.values()].map(({ labels, child }) => ({ value: child.value, labels }));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }
}

export class GaugeChild {
  value = 0;

  inc(by = 1): void {
    this.value += by;
  }

  dec(by = 1): void {
    this.value -= by;
  }

  set(value: number): void {
    this.value = value;
  }
}

export class FastGauge<L extends string = string> extends FastMetric<L, GaugeChild> {
  readonly type = 'gauge' as const;

  protected make(): GaugeChild {
    return new GaugeChild();
  }

  get(): Promise<MetricData> {
    const values = [...this.children.values()].map(({ labels, child }) => ({ value: child.value, labels }));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }
}

export class HistogramChild {
  /** Observations per bucket (not cumulative), the last one past every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

export class FastHistogram<L extends string = string> extends FastMetric<L, HistogramChild> {
  readonly type = 'histogram' as const;
  private readonly bounds: readonly number[];

  constructor(o: Options<L> & { buckets: readonly number[] }) {
    super(o);
    this.bounds = [...o.buckets].sort((a, b) => a - b);
    if (this.labelNames.length === 0) this.labels({});
  }

  protected make(): HistogramChild {
    return new HistogramChild(this.bounds);
  }

  /** `observe(value)` (no labels) or `observe(labels, value)`. */
  observe(labels: LabelValues<L> | number, value?: number): void {
    if (typeof labels === 'number') this.labels({}).observe(labels);
    else this.labels(labels).observe(value!);
  }

  get(): Promise<MetricData> {
    const values: MetricValue[] = [];
    for (const { labels, child } of this.children.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += child.counts[i];
        values.push({ value: cumulative, labels: { le, ...labels }, metricName: `${this.name}_bucket` });
      });
      values.push({ value: child.count, labels: { le: '+Inf', ...labels }, metricName: `${this.name}_bucket` });
      values.push({ value: child.sum, labels, metricName: `${this.name}_sum` });
      values.push({ value: child.count, labels, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }
}
