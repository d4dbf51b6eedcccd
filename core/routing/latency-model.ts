/**
 * Per-backend online latency models, fitted from observed outcomes by recursive least squares
 * with forgetting (so a backend whose behaviour drifts is re-learned):
 *
 *   TTFT ≈ b + a·(uncached prompt tokens + prefill backlog ahead) + w·(requests ahead)   [ms]
 *   TPOT ≈ c + d·(sequences running beside it)                            [ms]
 *
 * One model per backend, so mixed fleets (an A10 and an H100, vLLM and TensorRT-LLM) each get
 * their own coefficients; prefix affinity and SLO placement compare candidates in predicted
 * milliseconds instead of hand-tuned weights.
 */

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
   * Uncached prompt tokens of the requests ahead that have no first token yet: the prefill work
   * this one waits behind. A prefill-bound engine's queue is measured in tokens, not requests — a
   * prefix holder with four short (cached) prompts ahead is not as busy as one with four cold ones.
   */
  backlogTokens?: number;
}

export class BackendLatencyModel {
  private readonly ttft = new OnlineLinearModel(3);
  private readonly tpot = new OnlineLinearModel(2);

  /**
   * Requests this gateway sent the backend that have no first token yet, and their uncached
   * prompt tokens: prefill work a new request lands behind. Arrivals that come together (a
   * cohort of answers that ended together, each client sending its next prompt) would otherwise
   * all look like one request's worth of load and go to the same place.
   */
  prefilling = 0;
  backlogTokens = 0;

  constructor(private readonly minSamples = 12, private readonly fleet?: LatencyModels) {}

  get fitted(): boolean {
    return this.ttft.samples >= this.minSamples;
  }

  get tpotFitted(): boolean {
    return this.tpot.samples >= this.minSamples;
  }

  /** Predicted TTFT in ms; coefficients clamped at 0 so noise never makes a queue look shorter. */
  predictTtft(f: TtftFeatures): number {
    const [b, , w] = this.ttft.theta;
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
    if (this.identifiesPrefill()) return this.ttft.theta[1];
    const borrowed = this.fleet?.steepestPrefillSlope() ?? 0;
    return borrowed > 0 ? borrowed : Math.max(0, this.ttft.theta[1]);
  }

  /** The backend's own samples fit a prefill slope clear of zero. */
  identifiesPrefill(): boolean {
    return this.fitted && this.ttft.theta[1] > 2 * this.ttft.stdErr(1);
  }

  /** The slope this backend's own samples fit (≤ 0 when they do not identify it). */
  ownPrefillSlope(): number {
    return this.ttft.theta[1];
  }

  predictTpot(running: number): number {
    const [c, d] = this.tpot.theta;
    return Math.max(0, c) + Math.max(0, d) * running;
  }

  observeTtft(f: TtftFeatures, ttftMs: number): void {
    this.fleet?.refitted();
    this.ttft.update([1, (f.uncachedTokens + (f.backlogTokens ?? 0)) / 1000, f.ahead], ttftMs);
  }

  observeTpot(running: number, tpotMs: number): void {
    this.tpot.update([1, running], tpotMs);
  }

  coefficients(): { ttft: { base: number; perKiloToken: number; perAhead: number; samples: number }; tpot: { base: number; perRunning: number; samples: number } } {
    return {
      ttft: { base: this.ttft.theta[0], perKiloToken: this.ttft.theta[1], perAhead: this.ttft.theta[2], samples: this.ttft.samples },
      tpot: { base: this.tpot.theta[0], perRunning: this.tpot.theta[1], samples: this.tpot.samples },
    };
  }
}

export class LatencyModels {
  private readonly byBackend = new Map<string, BackendLatencyModel>();
  /** Cached until the next TTFT sample anywhere in the fleet. */
  private steepest?: number;

  of(backendId: string): BackendLatencyModel {
    let m = this.byBackend.get(backendId);
    if (!m) {
      m = new BackendLatencyModel(undefined, this);
      this.byBackend.set(backendId, m);
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
