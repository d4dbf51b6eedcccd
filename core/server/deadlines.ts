/**
 * Upstream deadlines of one request, past the response headers' (undici's headersTimeout): its
 * first streamed token, the longest stall between tokens, and the whole request. Each cancels the
 * request with its own catalogue error, which the client gets as the answer (before the first
 * byte) or as the stream's error event before `[DONE]` (after it).
 *
 * One timer at a time, re-armed lazily: a token only writes a timestamp, and the stall timer,
 * when it fires early, sleeps again for what is left — the relay's per-token path stays a store.
 */
import type { Cancel } from '../plugin/cancel.js';
import { GatewayError } from './errors.js';

export interface DeadlineSpec {
  firstTokenMs: number;
  stallMs: number;
  totalMs: number;
}

/**
 * A hung engine must not hold a client forever: a first token within 2 min (a long queue and a
 * 100k-token prefill), no 60 s silence mid-stream, 30 min in all (SGLang's request timeout).
 */
export const DEFAULT_DEADLINES: Readonly<DeadlineSpec> = { firstTokenMs: 120_000, stallMs: 60_000, totalMs: 1_800_000 };

export class UpstreamDeadlines {
  private total: NodeJS.Timeout | undefined;
  private phase: NodeJS.Timeout | undefined;
  private lastTokenAt = 0;
  private tokens = false;

  constructor(private readonly spec: DeadlineSpec, private readonly cancel: Cancel) {}

  /**
   * Arms the whole-request deadline and, for a stream, its first token's: both count from now
   * (the request admitted), so an engine that never sends the stream's headers is cut as one that
   * sends headers and no token. A non-streamed answer comes whole: the response-headers timeout
   * (`limits.upstream_headers_timeout_ms`) and the whole-request deadline bound it.
   */
  start(stream: boolean): void {
    this.total = setTimeout(() => this.fire('SY_ERR_DEADLINE_EXCEEDED', `the request took longer than ${this.spec.totalMs} ms`), this.spec.totalMs);
    this.total.unref();
    if (stream) this.arm(this.spec.firstTokenMs, () => this.fire('SY_ERR_FIRST_TOKEN_TIMEOUT', `the engine sent no token within ${this.spec.firstTokenMs} ms`));
  }

  /** A token (any content event) arrived: from now on, no stall may last `stallMs`. */
  token(): void {
    this.lastTokenAt = performance.now();
    if (!this.tokens) {
      this.tokens = true;
      this.armStall(this.spec.stallMs);
    }
  }

  private armStall(ms: number): void {
    this.arm(ms, () => {
      const idle = performance.now() - this.lastTokenAt;
      if (idle >= this.spec.stallMs) this.fire('SY_ERR_UPSTREAM_STALLED', `the engine sent nothing for ${this.spec.stallMs} ms mid-stream`);
      else this.armStall(this.spec.stallMs - idle);
    });
  }

  private arm(ms: number, fn: () => void): void {
    clearTimeout(this.phase);
    this.phase = setTimeout(fn, Math.max(1, ms));
    this.phase.unref();
  }

  private fire(name: 'SY_ERR_DEADLINE_EXCEEDED' | 'SY_ERR_FIRST_TOKEN_TIMEOUT' | 'SY_ERR_UPSTREAM_STALLED', message: string): void {
    this.clear();
    this.cancel.cancel(new GatewayError(name, message));
  }

  /** The request ended: no deadline outlives it. */
  clear(): void {
    clearTimeout(this.total);
    clearTimeout(this.phase);
    this.total = this.phase = undefined;
  }
}
