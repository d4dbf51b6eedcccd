/**
 * The limit-store seam: per-key request and token rates and requests in flight, decided
 * atomically per key. Two implementations pass one contract suite
 * (test/core/auth/limit-store-contract.ts): this process's memory, and Redis (redis-limits.ts),
 * which makes the limits exact across every gateway sharing it.
 *
 * Rates are token buckets: a bucket holds up to the per-minute limit and refills continuously
 * at limit/60 s, so a burst of `rpm` passes and then one request per 60/rpm s. A take is all or
 * nothing — a request refused for any reason consumes nothing. Token charges after admission
 * (the engine's real usage, completion tokens) may drive the token bucket below zero: that debt
 * is paid by the next requests' wait, which is how a stream that crossed the limit mid-answer
 * finishes and still counts.
 */

export interface KeyLimits {
  rpm?: number;
  tpm?: number;
  concurrency?: number;
}

export interface BucketState {
  limit: number;
  /** Whole units left now (never below 0 here; the bucket itself may be in debt). */
  remaining: number;
  /** Until the bucket is full again. */
  resetMs: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Which limit refused it (the first of concurrency, rpm, tpm that did). */
  refusedBy?: 'concurrency' | 'rpm' | 'tpm';
  /** How long until the refused request could pass (0 when allowed). */
  retryAfterMs: number;
  requests?: BucketState;
  tokens?: BucketState;
}

/**
 * Where keys' limits are counted. A store in process memory answers at once, without a promise:
 * the request path then waits for nothing (a shared store, Redis, answers with one).
 */
export interface LimitStore {
  /**
   * Admit one request of `key` costing `tokens` (its prompt, estimated): a request from the rpm
   * bucket, `tokens` from the tpm bucket (needing at least min(tokens, tpm) left), and an
   * in-flight slot named `lease`, all or none.
   */
  take(key: string, limits: KeyLimits, tokens: number, lease: string): TakeResult | Promise<TakeResult>;
  /** Adds `tokens` (negative: a refund) to what `key` has spent; never refuses. */
  charge(key: string, limits: KeyLimits, tokens: number): void | Promise<void>;
  /** Frees the in-flight slot `lease`. */
  release(key: string, lease: string): void | Promise<void>;
  /**
   * A request that held the slot `lease` is over: `charge(tokens)` and `release(lease)` in one
   * step (one round trip to a shared store, not two).
   */
  finish(key: string, limits: KeyLimits, tokens: number, lease: string): void | Promise<void>;
  close(): Promise<void>;
}

/** A bucket's level after refilling for `elapsedMs` (a missing bucket is full). */
export function refill(level: number | undefined, capacity: number, elapsedMs: number): number {
  if (level === undefined) return capacity;
  return Math.min(capacity, level + (Math.max(0, elapsedMs) * capacity) / 60_000);
}

export function bucketState(level: number, capacity: number): BucketState {
  return { limit: capacity, remaining: Math.max(0, Math.floor(level)), resetMs: Math.ceil(((capacity - level) * 60_000) / capacity) };
}

interface KeyBuckets {
  requests?: number;
  tokens?: number;
  at: number;
  leases: Set<string>;
}

/** Limits of this process alone (with `workers: N`, each worker keeps its own). */
export class MemoryLimitStore implements LimitStore {
  private readonly keys = new Map<string, KeyBuckets>();

  constructor(private readonly now: () => number = Date.now) {}

  take(key: string, limits: KeyLimits, tokens: number, lease: string): TakeResult {
    const b = this.refilled(key, limits);
    const result: TakeResult = { allowed: true, retryAfterMs: 0 };
    const refuse = (by: NonNullable<TakeResult['refusedBy']>, waitMs: number) => {
      result.allowed = false;
      result.refusedBy ??= by;
      result.retryAfterMs = Math.max(result.retryAfterMs, Math.ceil(waitMs));
    };
    if (limits.concurrency !== undefined && b.leases.size >= limits.concurrency) refuse('concurrency', 1000);
    if (limits.rpm !== undefined && b.requests! < 1) refuse('rpm', ((1 - b.requests!) * 60_000) / limits.rpm);
    const need = Math.min(tokens, limits.tpm ?? 0);
    if (limits.tpm !== undefined && b.tokens! < need) refuse('tpm', ((need - b.tokens!) * 60_000) / limits.tpm);
    if (result.allowed) {
      if (limits.rpm !== undefined) b.requests! -= 1;
      if (limits.tpm !== undefined) b.tokens! -= tokens;
      if (limits.concurrency !== undefined) b.leases.add(lease);
    }
    if (limits.rpm !== undefined) result.requests = bucketState(b.requests!, limits.rpm);
    if (limits.tpm !== undefined) result.tokens = bucketState(b.tokens!, limits.tpm);
    return result;
  }

  charge(key: string, limits: KeyLimits, tokens: number): void {
    if (limits.tpm === undefined || tokens === 0) return;
    const b = this.refilled(key, limits);
    b.tokens = Math.min(limits.tpm, b.tokens! - tokens);
  }

  release(key: string, lease: string): void {
    this.keys.get(key)?.leases.delete(lease);
  }

  finish(key: string, limits: KeyLimits, tokens: number, lease: string): void {
    this.charge(key, limits, tokens);
    this.release(key, lease);
  }

  async close(): Promise<void> {
    this.keys.clear();
  }

  private refilled(key: string, limits: KeyLimits): KeyBuckets {
    const now = this.now();
    let b = this.keys.get(key);
    if (!b) {
      b = { at: now, leases: new Set() };
      this.keys.set(key, b);
    }
    const elapsed = now - b.at;
    if (limits.rpm !== undefined) b.requests = refill(b.requests, limits.rpm, elapsed);
    if (limits.tpm !== undefined) b.tokens = refill(b.tokens, limits.tpm, elapsed);
    b.at = now;
    return b;
  }
}
