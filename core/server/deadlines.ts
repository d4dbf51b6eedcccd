/**
 * Upstream deadlines of one request, past the response headers' (undici's headersTimeout): its
 * first streamed token, the longest stall between tokens, and the whole request. Each cancels the
 * request with its own catalogue error, which the client gets as the answer (before the first
 * byte) or as the stream's error event before `[DONE]` (after it).
 *
 * One timer per request, armed once at the start and re-armed only when it wakes before a
 * deadline: a token writes a timestamp and nothing else, the first one too (it comes on the
 * first-chunk path). The timer sleeps at most `stallMs` before a stream's first token, so a stall
 * right after it is still seen `stallMs` after its last token; once tokens flow it wakes at the
 * last token's time plus `stallMs`, and it never sleeps past the whole request's deadline.
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
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  /** performance.now() of the last token; 0 before the first. */
  private lastTokenAt = 0;
  private stream = false;

  constructor(private readonly spec: DeadlineSpec, private readonly cancel: Cancel) {}

  /**
   * The deadlines count from now (the request admitted): the whole request's and, for a stream,
   * its first token's, so an engine that never sends the stream's headers is cut as one that
   * sends headers and no token. A non-streamed answer comes whole: the response-headers timeout
   * (`limits.upstream_headers_timeout_ms`) and the whole-request deadline bound it.
   */
  start(stream: boolean): void {
    this.startedAt = performance.now();
    this.stream = stream;
    const { totalMs, firstTokenMs, stallMs } = this.spec;
    // Whole milliseconds from the spec: requests started together share node's timer list.
    this.sleep(stream ? Math.min(totalMs, firstTokenMs, stallMs) : totalMs);
  }

  /** A token (any content event) arrived: from now on, no stall may last `stallMs`. */
  token(): void {
    this.lastTokenAt = performance.now();
  }

  /** The timer woke: a deadline that has passed cancels the request; else it sleeps until the next one can. */
  private wake(): void {
    this.timer = undefined;
    const now = performance.now();
    const { totalMs, firstTokenMs, stallMs } = this.spec;
    if (now - this.startedAt >= totalMs) return this.fire('SY_ERR_DEADLINE_EXCEEDED', `the request took longer than ${totalMs} ms`);
    let next = this.startedAt + totalMs;
    if (this.stream && this.lastTokenAt === 0) {
      if (now - this.startedAt >= firstTokenMs) return this.fire('SY_ERR_FIRST_TOKEN_TIMEOUT', `the engine sent no token within ${firstTokenMs} ms`);
      next = Math.min(next, this.startedAt + firstTokenMs, now + stallMs);
    } else if (this.stream) {
      if (now - this.lastTokenAt >= stallMs) return this.fire('SY_ERR_UPSTREAM_STALLED', `the engine sent nothing for ${stallMs} ms mid-stream`);
      next = Math.min(next, this.lastTokenAt + stallMs);
    }
    this.sleep(next - now);
  }

  private sleep(ms: number): void {
    this.timer = setTimeout(() => this.wake(), Math.max(1, Math.ceil(ms)));
    this.timer.unref();
  }

  private fire(name: 'SY_ERR_DEADLINE_EXCEEDED' | 'SY_ERR_FIRST_TOKEN_TIMEOUT' | 'SY_ERR_UPSTREAM_STALLED', message: string): void {
    this.clear();
    this.cancel.cancel(new GatewayError(name, message));
  }

  /** The request ended: no deadline outlives it. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
