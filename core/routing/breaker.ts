/**
 * Passive failover state per backend, in core so every plugin gets it: a circuit breaker that
 * opens on consecutive failures or on a failure rate over recent dispatches, lets one probe
 * through when its cool-down ends (half-open), and closes on that probe's success; and a retry
 * budget that caps retries to a fraction of traffic, so a failing fleet is not hit with a storm of
 * retries.
 */
export interface BreakerOptions {
  consecutiveFailures: number;
  /** Failure rate over the last `window` dispatches that opens the breaker (with ≥ minSamples). */
  failureRate: number;
  window: number;
  minSamples: number;
  openMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { consecutiveFailures: 5, failureRate: 0.5, window: 20, minSamples: 10, openMs: 5000 };

export type BreakerState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private consecutive = 0;
  private readonly recent: boolean[] = [];
  private openedAt = 0;
  private probing = false;
  opened = 0;

  constructor(private readonly opts: BreakerOptions = DEFAULT_BREAKER, private readonly now: () => number = Date.now) {}

  status(): BreakerState {
    if (this.state === 'open' && this.now() - this.openedAt >= this.opts.openMs) this.state = 'half-open';
    return this.state;
  }

  /** May a request go to this backend now? In half-open, only one probe at a time. */
  allows(): boolean {
    const s = this.status();
    if (s === 'closed') return true;
    return s === 'half-open' && !this.probing;
  }

  /** Called when a request is actually sent (claims the half-open probe). */
  onDispatch(): void {
    if (this.status() === 'half-open') this.probing = true;
  }

  onSuccess(): void {
    this.consecutive = 0;
    this.push(true);
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.recent.length = 0;
    }
    this.probing = false;
  }

  /**
   * The attempt proved nothing about the backend (an engine error the request itself may have
   * caused, or a gateway-side failure): frees a half-open probe without moving the counts.
   */
  onInconclusive(): void {
    this.probing = false;
  }

  onFailure(): void {
    this.consecutive++;
    this.push(false);
    this.probing = false;
    if (this.state === 'half-open') return this.open();
    const failures = this.recent.filter((ok) => !ok).length;
    if (this.consecutive >= this.opts.consecutiveFailures ||
      (this.recent.length >= this.opts.minSamples && failures / this.recent.length >= this.opts.failureRate)) {
      this.open();
    }
  }

  private open(): void {
    this.state = 'open';
    this.openedAt = this.now();
    this.opened++;
  }

  private push(ok: boolean): void {
    this.recent.push(ok);
    if (this.recent.length > this.opts.window) this.recent.shift();
  }
}

/** Retries allowed: `ratio` of requests, plus a small floor per second so a quiet route can retry. */
export class RetryBudget {
  private tokens: number;
  private last: number;

  constructor(private readonly ratio = 0.2, private readonly floorPerSecond = 5, private readonly now: () => number = Date.now) {
    this.tokens = floorPerSecond;
    this.last = now();
  }

  onRequest(): void {
    this.refill();
    this.tokens = Math.min(this.tokens + this.ratio, 100 + this.floorPerSecond);
  }

  tryRetry(): boolean {
    this.refill();
    if (this.tokens < 1 - 1e-9) return false; // 5 × 0.2 is 0.9999… in floating point
    this.tokens -= 1;
    return true;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.tokens + ((t - this.last) / 1000) * this.floorPerSecond, 100 + this.floorPerSecond);
    this.last = t;
  }
}

export class Breakers {
  private readonly byBackend = new Map<string, CircuitBreaker>();

  constructor(private readonly opts: BreakerOptions = DEFAULT_BREAKER) {}

  of(backendId: string): CircuitBreaker {
    let b = this.byBackend.get(backendId);
    if (!b) {
      b = new CircuitBreaker(this.opts);
      this.byBackend.set(backendId, b);
    }
    return b;
  }

  /** Drops a backend's breaker (the backend left the gateway). */
  forget(backendId: string): void {
    this.byBackend.delete(backendId);
  }
}
