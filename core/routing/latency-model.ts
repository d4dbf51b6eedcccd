/**
 * Per-backend online latency models, fitted from observed outcomes by recursive least squares
 * with forgetting (so a backend whose behaviour drifts is re-learned):
 *
 *   TTFT ≈ b + a·(uncached prompt tokens + prefill backlog ahead) + w·(requests ahead)   [ms]
 *   TPOT ≈ c + d·(sequences running beside it)                            [ms]
 *
 * One model per kind of backend (alike backends — same engine, same reported KV capacity — share
 * one; likenessOf), so mixed fleets (an A10 and an H100, vLLM and TensorRT-LLM) each get their own
 * coefficients; prefix affinity and SLO placement compare candidates in predicted milliseconds
 * instead of hand-tuned weights.
 */
import type { Backend, BackendCapabilities } from '../plugin/types.js';

/** Recursive least squares over a small fixed feature vector. */
export class OnlineLinearModel {
  readonly theta: number[];
  private readonly p: number[][];
  samples = 0;
  /** Mean squared prediction error (a priori, before each update), with the same forgetting. */
  private errSq = 0;
  private errWeight = 0;

  constructor(readonly dims: number, private readonly forgetting = 0.995, initial?: number[]) {
    this.theta = initial ? [...initial] : new Array<number>(dims).fill(0);
    this.p = Array.from({ length: dims }, (_, i) => Array.from({ length: dims }, (_, j) => (i === j ? 1e4 : 0)));
  }

  predict(x: readonly number[]): number {
    let y = 0;
    for (let i = 0; i < this.dims; i++) y += this.theta[i] * x[i];
    return y;
  }

  /** The standard error of coefficient `i`: √(P[i][i] · residual variance). */
  stdErr(i: number): number {
    return this.errWeight > 0 ? Math.sqrt(Math.max(0, this.p[i][i]) * (this.errSq / this.errWeight)) : Infinity;
  }

  update(x: readonly number[], y: number): void {
    const n = this.dims;
    const px = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) px[i] += this.p[i][j] * x[j];
    let denom = this.forgetting;
    for (let i = 0; i < n; i++) denom += x[i] * px[i];
    const err = y - this.predict(x);
    this.errSq = this.forgetting * this.errSq + err * err;
    this.errWeight = this.forgetting * this.errWeight + 1;
    for (let i = 0; i < n; i++) this.theta[i] += (px[i] / denom) * err;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) this.p[i][j] = (this.p[i][j] - (px[i] * px[j]) / denom) / this.forgetting;
    }
    this.samples++;
  }
}

export interface TtftFeatures {
  uncachedTokens: number;
  ahead: number;
  /**
   * Uncached prompt tokens of the requests ahead that have no first token yet, less what the
   * backend has probably prefilled of them (backlogAhead): the prefill work this one waits
   * behind. A prefill-bound engine's queue is measured in tokens, not requests — a prefix holder
   * with four short (cached) prompts ahead is not as busy as one with four cold ones.
   */
  backlogTokens?: number;
}

/**
 * A KV cache this full (the share of its blocks in use, as the engine reports it) admits waiting
 * requests as running ones free memory, not at its prefill rate: a backlog is not counted as
 * draining meanwhile. Counted as draining there, the prefill backlog made memory-bound replicas
 * look ready and drew requests to them (league W1, 4 × H100 with 150k KV tokens each, seeds 1–8:
 * TTFT misses at 52.5 and 55.2 req/s 111 and 462 without the drain, 127 and 518 with it, 104 and
 * 468 with it stopped past 0.9 — 109/471 at 0.95, 111/459 at 0.8; at 55.2 req/s, seed 3, 48% of
 * the usages read at decisions were past 0.95). W4's replicas stay far below it (mean 0.05 at its
 * reference load, seed 3), and its figures are the same with and without.
 */
export const MEMORY_BOUND_KV_USAGE = 0.9;

/** What likenessOf reads of a backend. */
export type LikenessSource = Pick<Backend, 'type' | 'engine'> & { readonly capabilities: Pick<BackendCapabilities, 'kvCapacityTokens'> };

/**
 * What makes two backends alike enough to share one latency model: the same plugin type and
 * engine, and the same reported KV capacity in tokens (the engine's own figure: it differs with
 * the GPU's memory and with the model's KV size per token, so an A10 and an H100 never share one,
 * even serving one model from one engine). Undefined — alike to none — while the backend reports
 * no capacity: nothing else tells its GPU apart.
 */
export function likenessOf(backend: LikenessSource): string | undefined {
  const cap = backend.capabilities.kvCapacityTokens;
  if (!(cap !== undefined && cap > 0)) return undefined;
  return `${backend.type}\u0000${backend.engine}\u0000${cap}`;
}

/** The TTFT and TPOT models fitted on every sample of a set of alike backends. */
class SharedModels {
  readonly ttft = new OnlineLinearModel(3);
  readonly tpot = new OnlineLinearModel(2);
}

export class BackendLatencyModel {
  /** The backend's own samples: what it predicts from while it is alike to no other. */
  private readonly ttft = new OnlineLinearModel(3);
  private readonly tpot = new OnlineLinearModel(2);
  /** The model of the backends alike to this one (likenessOf), once known. */
  private shared?: SharedModels;
  likeness?: string;
  /** What the likeness was last computed from (LatencyModels.of): recomputed only when either changes. */
  likenessFrom?: { backend: LikenessSource; cap: number | undefined };

  /**
   * Requests this gateway sent the backend that have no first token yet, and their uncached
   * prompt tokens: prefill work a new request lands behind. Arrivals that come together (a
   * cohort of answers that ended together, each client sending its next prompt) would otherwise
   * all look like one request's worth of load and go to the same place.
   */
  prefilling = 0;
  backlogTokens = 0;
  /**
   * Of `backlogTokens`, what the backend has probably prefilled already: the time since the
   * backlog formed at its own prefill rate (the fitted slope). An engine with chunked prefill
   * works through a long prompt a chunk per step, and what a new request waits behind is what is
   * left of it, not its whole length: counted whole, a replica 0.7 s into an 85k-token prefill read
   * 2.0 s of predicted TTFT for a cached prompt that saw 0.95 s (league W4, seed 3). Started
   * afresh at each first token: an engine prefills its requests in order (a running prompt's
   * chunk first, then the next's), so the one that just finished was the head and the next has
   * only now begun — carried over, an estimate that ran ahead of a slow head credited its
   * successor with progress it never made (a 38-token prompt predicted 15 ms behind 40k tokens
   * left, and served in 1.1 s). League W4 at its reference load (8.39 req/s), p90 TTFT over seeds
   * 1–8: 583, 634, 882, 841, 604, 850, 861, 588 ms (mean 731) → 576, 608, 777, 774, 632, 848,
   * 816, 601 (704); the chosen backend's predicted TTFT off by 117–235 ms at the 90th percentile
   * before, 52–171 after (seeds 1, 3, 4, 6). Capping what is drained at the oldest request's own
   * tokens (its successors have not begun) predicted closer still, but read 723 over those seeds.
   * Nothing drains while the backend's KV cache is nearly full (MEMORY_BOUND_KV_USAGE): see there.
   */
  private drained = 0;
  private drainedAt?: number;
  /** The KV usage the backend last reported (backlogAhead's caller passes it). */
  private kvUsage?: number;

  constructor(private readonly minSamples = 12, private readonly fleet?: LatencyModels, private readonly now: () => number = () => performance.now()) {}

  /** The uncached prompt tokens still to prefill ahead of a new request: the backlog less what was probably drained. `kvUsage`: the backend's, as it reports it now. */
  backlogAhead(kvUsage?: number): number {
    if (kvUsage !== undefined) this.kvUsage = kvUsage;
    this.drain();
    return Math.max(0, this.backlogTokens - this.drained);
  }

  /** A request of this many uncached tokens was sent and awaits its first token. */
  enqueued(tokens: number): void {
    this.drain();
    this.backlogTokens += tokens;
    this.prefilling++;
  }

  /** A request's prefill is over (its first token, or it ended): its tokens leave the backlog, and the next one's draining starts now. */
  dequeued(tokens: number): void {
    this.drain();
    this.backlogTokens = Math.max(0, this.backlogTokens - tokens);
    this.drained = 0;
    this.prefilling = Math.max(0, this.prefilling - 1);
  }

  private drain(): void {
    const t = this.now();
    const memoryBound = this.kvUsage !== undefined && this.kvUsage >= MEMORY_BOUND_KV_USAGE;
    if (!memoryBound && this.drainedAt !== undefined && this.backlogTokens > this.drained && t > this.drainedAt && this.fitted) {
      const slope = this.prefillSlope();
      if (slope > 0) this.drained = Math.min(this.backlogTokens, this.drained + ((t - this.drainedAt) * 1000) / slope);
    }
    this.drainedAt = t;
  }

  /** Joins the model of its alike backends (none: undefined); its past samples stay where they were. */
  share(likeness: string | undefined, shared: SharedModels | undefined): void {
    this.likeness = likeness;
    this.shared = shared;
  }

  /**
   * The model predictions come from: alike backends' shared one (fed by every one of them) once
   * that has `minSamples`, else the backend's own. Shared, a fleet of N alike replicas is fitted
   * after `minSamples` outcomes anywhere instead of `minSamples` on each — the Mooncake trace's
   * first 67–90 decisions were placed by request counts alone (league W4, 4 × H100 at 8.39 req/s,
   * seed 1; 24 once shared) — and its replicas stop differing by their fits' noise: fitted on a
   * quarter of the samples each, four identical H100s' prefill slopes came out 20.5–26.5 ms per
   * 1k tokens, a spread that, not their queues, decided placements. Kept shared after each has
   * enough of its own (each taking its own from `minSamples` on: league W4, 3 seeds, goodput
   * median 18.08 against 19.58 req/s, requests per replica max/mean 1.35 against 1.11) — a replica
   * that runs slower than its kind shows in its queue and backlog, which are its own. Never across
   * unlike backends: an A10's samples say nothing of an H100's prefill. Shared alone, with the
   * cold-prompt cost as it was, the early decisions went to the objective's weak spot and cost
   * W4 goodput (17.17 req/s): see ttftPlusWork (stages.ts).
   */
  private ttftModel(): OnlineLinearModel {
    return this.shared && this.shared.ttft.samples >= this.minSamples ? this.shared.ttft : this.ttft;
  }

  private tpotModel(): OnlineLinearModel {
    return this.shared && this.shared.tpot.samples >= this.minSamples ? this.shared.tpot : this.tpot;
  }

  get fitted(): boolean {
    return this.ttftModel().samples >= this.minSamples;
  }

  get tpotFitted(): boolean {
    return this.tpotModel().samples >= this.minSamples;
  }

  /** Predicts from the model it shares with alike backends. */
  get sharesModel(): boolean {
    return this.ttftModel() !== this.ttft;
  }

  /** Predicted TTFT in ms; coefficients clamped at 0 so noise never makes a queue look shorter. */
  predictTtft(f: TtftFeatures): number {
    const [b, , w] = this.ttftModel().theta;
    return Math.max(0, b) + this.prefillSlope() * ((f.uncachedTokens + (f.backlogTokens ?? 0)) / 1000) + Math.max(0, w) * f.ahead;
  }

  /** The backend's own time to prefill this many tokens (no queue), in ms. */
  predictPrefill(uncachedTokens: number): number {
    return this.prefillSlope() * (uncachedTokens / 1000);
  }

  /**
   * Milliseconds per 1k uncached tokens. A fit may not tell prefill from queueing — cold prompts
   * of one length, each behind a different queue, as a gateway that sees a third of a backend's
   * traffic (one of three) often gets — and leave the slope near or below zero: a backend whose
   * prefill looks free then draws every cold prompt there is (league W1, 3 gateways: one gateway
   * sent its cold and spread requests to one replica until TTFTs there passed 1.5 s). A slope
   * within two standard errors of zero is not taken from the backend's own samples: it borrows
   * the steepest slope its fleet's backends did identify (the steepest: too high a cost keeps
   * prefix holders in use, too low a one buries a backend), and keeps its own, at least zero,
   * while none did.
   */
  prefillSlope(): number {
    if (this.identifiesPrefill()) return this.ttftModel().theta[1];
    const borrowed = this.fleet?.steepestPrefillSlope() ?? 0;
    return borrowed > 0 ? borrowed : Math.max(0, this.ttftModel().theta[1]);
  }

  /** The samples its model is fitted on (its alike backends' too, where shared) fit a prefill slope clear of zero. */
  identifiesPrefill(): boolean {
    const m = this.ttftModel();
    return this.fitted && m.theta[1] > 2 * m.stdErr(1);
  }

  /** The slope the backend's model fits, shared or its own (≤ 0 when the samples do not identify it). */
  ownPrefillSlope(): number {
    return this.ttftModel().theta[1];
  }

  predictTpot(running: number): number {
    const [c, d] = this.tpotModel().theta;
    return Math.max(0, c) + Math.max(0, d) * running;
  }

  observeTtft(f: TtftFeatures, ttftMs: number): void {
    this.fleet?.refitted();
    const x = [1, (f.uncachedTokens + (f.backlogTokens ?? 0)) / 1000, f.ahead];
    this.ttft.update(x, ttftMs);
    this.shared?.ttft.update(x, ttftMs);
  }

  observeTpot(running: number, tpotMs: number): void {
    this.tpot.update([1, running], tpotMs);
    this.shared?.tpot.update([1, running], tpotMs);
  }

  /** The coefficients predictions come from; `shared` when they are alike backends' model (its samples are theirs too). */
  coefficients(): { ttft: { base: number; perKiloToken: number; perAhead: number; samples: number }; tpot: { base: number; perRunning: number; samples: number }; shared: boolean } {
    const ttft = this.ttftModel();
    const tpot = this.tpotModel();
    return {
      ttft: { base: ttft.theta[0], perKiloToken: ttft.theta[1], perAhead: ttft.theta[2], samples: ttft.samples },
      tpot: { base: tpot.theta[0], perRunning: tpot.theta[1], samples: tpot.samples },
      shared: ttft !== this.ttft,
    };
  }
}

export class LatencyModels {
  private readonly byBackend = new Map<string, BackendLatencyModel>();
  /** Alike backends' shared models, by likenessOf. */
  private readonly shared = new Map<string, SharedModels>();
  /** Cached until the next TTFT sample anywhere in the fleet. */
  private steepest?: number;

  /** `now`: the clock backlogs drain by (ms; a benchmark in virtual time passes its own). */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** A backend's model; with `backend`, it also shares the model of the backends alike to it (likenessOf), or moves when its likeness changed (a capacity reported late). */
  of(backendId: string, backend?: LikenessSource): BackendLatencyModel {
    let m = this.byBackend.get(backendId);
    if (!m) {
      m = new BackendLatencyModel(undefined, this, this.now);
      this.byBackend.set(backendId, m);
    }
    const cap = backend?.capabilities.kvCapacityTokens;
    if (backend && (m.likenessFrom?.backend !== backend || m.likenessFrom.cap !== cap)) {
      m.likenessFrom = { backend, cap };
      const likeness = likenessOf(backend);
      if (likeness !== m.likeness) {
        let shared = likeness === undefined ? undefined : this.shared.get(likeness);
        if (likeness !== undefined && !shared) {
          shared = new SharedModels();
          this.shared.set(likeness, shared);
        }
        m.share(likeness, shared);
        this.steepest = undefined;
      }
    }
    return m;
  }

  /** Drops a backend's model (the backend left the gateway). */
  forget(backendId: string): void {
    if (this.byBackend.delete(backendId)) this.steepest = undefined;
  }

  /** The steepest prefill slope among the backends whose own samples identify one (0 when none does). */
  steepestPrefillSlope(): number {
    if (this.steepest === undefined) {
      let s = 0;
      for (const m of this.byBackend.values()) if (m.identifiesPrefill()) s = Math.max(s, m.ownPrefillSlope());
      this.steepest = s;
    }
    return this.steepest;
  }

  refitted(): void {
    this.steepest = undefined;
  }
}
