/**
 * A/B arms of a route: weighted, with an optional sticky key so one conversation stays on one arm,
 * and per-arm statistics (TTFT, TPOT, end-to-end, throughput, errors) with the difference between
 * arms and its 95% confidence interval (Welch), served at GET /admin/ab/<model>.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { hashString } from './prefix-key.js';
import { seededRandom } from './policy.js';

export interface ArmSpec {
  name: string;
  backends: string[];
  weight: number;
}

export type StickySpec = { header: string } | { field: 'user' } | { apiKey: true };

/** Recent samples of one metric: mean/variance over all, percentiles over a bounded window. */
class Series {
  private readonly window: number[] = [];
  private next = 0;
  n = 0;
  private mean = 0;
  private m2 = 0;

  constructor(private readonly capacity = 10_000) {}

  add(v: number): void {
    this.n++;
    const d = v - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (v - this.mean);
    if (this.window.length < this.capacity) this.window.push(v);
    else {
      this.window[this.next] = v;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  summary(): { n: number; mean: number; std: number; p50: number; p90: number; p99: number } | null {
    if (this.n === 0) return null;
    const sorted = [...this.window].sort((a, b) => a - b);
    const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return { n: this.n, mean: this.mean, std: this.n > 1 ? Math.sqrt(this.m2 / (this.n - 1)) : 0, p50: p(0.5), p90: p(0.9), p99: p(0.99) };
  }
}

export interface ArmOutcome {
  ok: boolean;
  ttftMs?: number;
  tpotMs?: number;
  e2eMs: number;
  completionTokens?: number;
  /** For the access log (arms compare latencies only). */
  promptTokens?: number;
  cachedTokens?: number;
  status?: number | string;
}

class ArmStats {
  readonly ttft = new Series();
  readonly tpot = new Series();
  readonly e2e = new Series();
  requests = 0;
  errors = 0;
  completionTokens = 0;
  readonly since = Date.now();

  record(o: ArmOutcome): void {
    this.requests++;
    if (!o.ok) {
      this.errors++;
      return;
    }
    if (o.ttftMs !== undefined) this.ttft.add(o.ttftMs);
    if (o.tpotMs !== undefined) this.tpot.add(o.tpotMs);
    this.e2e.add(o.e2eMs);
    this.completionTokens += o.completionTokens ?? 0;
  }
}

function difference(a: ReturnType<Series['summary']>, b: ReturnType<Series['summary']>): { diff: number; ci95: [number, number] } | null {
  if (!a || !b || a.n < 2 || b.n < 2) return null;
  const diff = b.mean - a.mean;
  const se = Math.sqrt((a.std ** 2) / a.n + (b.std ** 2) / b.n);
  return { diff, ci95: [diff - 1.96 * se, diff + 1.96 * se] };
}

export class Arms {
  private readonly stats = new Map<string, ArmStats>();
  private readonly total: number;
  private readonly random: () => number;

  constructor(readonly arms: readonly ArmSpec[], readonly sticky: StickySpec | undefined, seed: number) {
    this.total = arms.reduce((s, a) => s + a.weight, 0);
    this.random = seededRandom(seed);
    for (const a of arms) this.stats.set(a.name, new ArmStats());
  }

  /** The arm for a request: by its sticky key when it has one (same key, same arm), else by weight. */
  pick(body: Readonly<Record<string, unknown>>, headers: IncomingHttpHeaders): ArmSpec {
    if (this.arms.length === 1) return this.arms[0];
    const key = this.stickyKey(body, headers);
    const point = (key === undefined ? this.random() : (hashString(key) % 1_000_003) / 1_000_003) * this.total;
    let acc = 0;
    for (const a of this.arms) {
      acc += a.weight;
      if (point < acc) return a;
    }
    return this.arms[this.arms.length - 1];
  }

  private stickyKey(body: Readonly<Record<string, unknown>>, headers: IncomingHttpHeaders): string | undefined {
    const s = this.sticky;
    if (!s) return undefined;
    if ('header' in s) {
      const v = headers[s.header.toLowerCase()];
      return typeof v === 'string' && v !== '' ? v : undefined;
    }
    if ('field' in s) return typeof body.user === 'string' && body.user !== '' ? body.user : undefined;
    const auth = headers.authorization;
    return typeof auth === 'string' ? auth : undefined;
  }

  record(arm: string, outcome: ArmOutcome): void {
    let s = this.stats.get(arm);
    if (!s) {
      s = new ArmStats();
      this.stats.set(arm, s);
    }
    s.record(outcome);
  }

  report(): Record<string, unknown> {
    const arms = [...this.stats.entries()].map(([name, s]) => {
      const seconds = Math.max(1e-3, (Date.now() - s.since) / 1000);
      return {
        name,
        weight: this.arms.find((a) => a.name === name)?.weight ?? 0,
        requests: s.requests,
        errors: s.errors,
        error_rate: s.requests > 0 ? s.errors / s.requests : 0,
        output_tokens_per_s: s.completionTokens / seconds,
        ttft_ms: s.ttft.summary(),
        tpot_ms: s.tpot.summary(),
        e2e_ms: s.e2e.summary(),
        series: s,
      };
    });
    const comparisons = [];
    for (let i = 1; i < arms.length; i++) {
      const [a, b] = [arms[0], arms[i]];
      comparisons.push({
        baseline: a.name, arm: b.name,
        ttft_ms: difference(a.series.ttft.summary(), b.series.ttft.summary()),
        tpot_ms: difference(a.series.tpot.summary(), b.series.tpot.summary()),
        e2e_ms: difference(a.series.e2e.summary(), b.series.e2e.summary()),
      });
    }
    return {
      arms: arms.map(({ series: _series, ...rest }) => rest),
      // diff = arm − baseline; a CI that excludes 0 is a difference at the 95% level.
      comparisons,
    };
  }
}
