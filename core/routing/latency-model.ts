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

  constructor(readonly dims: number, private readonly forgetting = 0.995, initial?: number[]) {
    this.theta = initial ? [...initial] : new Array<number>(dims).fill(0);
    this.p = Array.from({ length: dims }, (_, i) => Array.from({ length: dims }, (_, j) => (i === j ? 1e4 : 0)));
  }

  predict(x: readonly number[]): number {
    let y = 0;
    for (let i = 0; i < this.dims; i++) y += this.theta[i] * x[i];
    return y;
  }

  update(x: readonly number[], y: number): void {
    const n = this.dims;
    const px = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) px[i] += this.p[i][j] * x[j];
    let denom = this.forgetting;
    for (let i = 0; i < n; i++) denom += x[i] * px[i];
    const err = y - this.predict(x);
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

  constructor(private readonly minSamples = 12) {}

  get fitted(): boolean {
    return this.ttft.samples >= this.minSamples;
  }

  get tpotFitted(): boolean {
    return this.tpot.samples >= this.minSamples;
  }

  /** Predicted TTFT in ms; coefficients clamped at 0 so noise never makes work look free. */
  predictTtft(f: TtftFeatures): number {
    const [b, a, w] = this.ttft.theta;
    return Math.max(0, b) + Math.max(0, a) * ((f.uncachedTokens + (f.backlogTokens ?? 0)) / 1000) + Math.max(0, w) * f.ahead;
  }

  /** The backend's own time to prefill this many tokens (no queue), in ms. */
  predictPrefill(uncachedTokens: number): number {
    return Math.max(0, this.ttft.theta[1]) * (uncachedTokens / 1000);
  }

  predictTpot(running: number): number {
    const [c, d] = this.tpot.theta;
    return Math.max(0, c) + Math.max(0, d) * running;
  }

  observeTtft(f: TtftFeatures, ttftMs: number): void {
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

  of(backendId: string): BackendLatencyModel {
    let m = this.byBackend.get(backendId);
    if (!m) {
      m = new BackendLatencyModel();
      this.byBackend.set(backendId, m);
    }
    return m;
  }
}
