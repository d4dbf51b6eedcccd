/**
 * What a shared limit store's outage means. `open` (the default): each gateway limits on its own
 * (a MemoryLimitStore), so keys keep their limits per process and traffic keeps flowing; `closed`:
 * requests are refused with 503 `limits_unavailable` until the store answers again. Either way
 * each failure is counted (switchyard_limit_store_failures_total) and the change of state logged.
 */
import { GatewayError } from '../server/errors.js';
import { MemoryLimitStore, type KeyLimits, type LimitStore, type TakeResult } from './limit-store.js';

export interface GuardLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
}

export class GuardedLimitStore implements LimitStore {
  private readonly local = new MemoryLimitStore();
  /** Leases taken from the local store while the shared one was away: released there. */
  private readonly localLeases = new Set<string>();
  private failing = false;

  constructor(
    private readonly shared: LimitStore,
    private readonly mode: 'open' | 'closed',
    private readonly onFailure: (op: string) => void,
    private readonly log: GuardLogger,
  ) {}

  async take(key: string, limits: KeyLimits, tokens: number, lease: string): Promise<TakeResult> {
    try {
      const result = await this.shared.take(key, limits, tokens, lease);
      this.recovered();
      return result;
    } catch (err) {
      this.failed('take', err);
      if (this.mode === 'closed') {
        throw new GatewayError('SY_ERR_LIMITS_UNAVAILABLE', 'the rate-limit store is unreachable and this gateway refuses requests it cannot count (auth.on_store_failure: closed)', { headers: { 'retry-after': '1' } });
      }
      const result = await this.local.take(key, limits, tokens, lease);
      if (result.allowed && limits.concurrency !== undefined) this.localLeases.add(lease);
      return result;
    }
  }

  async charge(key: string, limits: KeyLimits, tokens: number): Promise<void> {
    try {
      await this.shared.charge(key, limits, tokens);
      this.recovered();
    } catch (err) {
      this.failed('charge', err);
      await this.local.charge(key, limits, tokens);
    }
  }

  async release(key: string, lease: string): Promise<void> {
    if (this.localLeases.delete(lease)) return this.local.release(key, lease);
    try {
      await this.shared.release(key, lease);
    } catch (err) {
      // The lease lapses in the store on its own.
      this.failed('release', err);
    }
  }

  async finish(key: string, limits: KeyLimits, tokens: number, lease: string): Promise<void> {
    if (this.localLeases.delete(lease)) return this.local.finish(key, limits, tokens, lease);
    try {
      await this.shared.finish(key, limits, tokens, lease);
      this.recovered();
    } catch (err) {
      // The lease lapses in the store on its own; the tokens are counted here meanwhile.
      this.failed('finish', err);
      await this.local.charge(key, limits, tokens);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.shared.close(), this.local.close()]);
  }

  private failed(op: string, err: unknown): void {
    this.onFailure(op);
    if (this.failing) return;
    this.failing = true;
    const message = err instanceof Error ? err.message : String(err);
    this.log.warn({ err: message, onStoreFailure: this.mode }, this.mode === 'open'
      ? 'rate-limit store unreachable: limiting per process until it is back (auth.on_store_failure: open)'
      : 'rate-limit store unreachable: refusing requests until it is back (auth.on_store_failure: closed)');
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.log.info({}, 'rate-limit store reachable again');
  }
}
