/**
 * Regression: slow clients were held for ever — a connection that sent headers and never a body
 * stayed open (5,000 of 5,000 after 138 s; now limits.request_timeout_ms: client-errors.test.ts),
 * and a stream nobody read held its engine slot until generation ended (now
 * limits.client_stall_timeout_ms, below).
 */
import { describe, expect, it } from 'vitest';

describe('the relay and a client that takes nothing', () => {
  it('gives up after the stall limit: the stream ends as client-gone, so its upstream is aborted', async () => {
    const { EventEmitter } = await import('node:events');
    const { PassThrough } = await import('node:stream');
    const { relaySse } = await import('../../../core/server/sse-relay.js');
    // A response whose socket never drains (a client that stopped reading).
    const res = Object.assign(new EventEmitter(), {
      destroyed: false, writableEnded: false, written: 0,
      write(buf: Buffer) { this.written += buf.length; return false; },
      destroy() { this.destroyed = true; (this as unknown as InstanceType<typeof EventEmitter>).emit('close'); },
    });
    const upstream = new PassThrough();
    upstream.write('data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n');
    const t0 = Date.now();
    const outcome = await relaySse(upstream, res as never, { stripUsage: true, now: () => performance.now(), isClientGone: () => res.destroyed, stallTimeoutMs: 300 });
    expect(outcome.end).toBe('client-gone');
    expect(outcome.error).toMatch(/took nothing for 300 ms/);
    expect(res.destroyed).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    upstream.destroy();
  });
});
