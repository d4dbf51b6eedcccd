/**
 * Regression: slow clients were held for ever — a connection that sent headers and never a body
 * stayed open (5,000 of 5,000 after 138 s), and a stream nobody read held its engine slot until
 * generation ended. Both are now bounded (limits.request_timeout_ms, client_stall_timeout_ms).
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { startEngine, startTestGateway } from './gateway-helpers.js';

describe('slow clients', () => {
  let engine: SimServer;
  let gw: Gateway;

  beforeAll(async () => {
    engine = await startEngine('vllm');
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      limits: { request_timeout_ms: 800, client_stall_timeout_ms: 800 },
      backends: [{ id: 'a', type: 'vllm', url: engine.url }],
      routes: [{ model: 'qwen', backends: ['a'] }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await engine?.close();
  });

  const open = (): Promise<Socket> => new Promise((resolve, reject) => {
    const { port } = new URL(gw.url);
    const s = connect(Number(port), '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const closed = (s: Socket) => new Promise<void>((resolve) => { if (s.destroyed) resolve(); else s.once('close', () => resolve()); });

  it('closes a connection that sends headers and then no body', async () => {
    const s = await open();
    s.on('data', () => {});
    s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n');
    const t0 = Date.now();
    await closed(s);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

});

describe('the relay and a client that takes nothing', () => {
  it('gives up after the stall limit: the stream ends as client-gone, so its upstream is aborted', async () => {
    const { EventEmitter } = await import('node:events');
    const { PassThrough } = await import('node:stream');
    const { relaySse } = await import('../../../core/server/sse-relay.js');
    // A response whose socket never drains (a client that stopped reading).
    const res = Object.assign(new EventEmitter(), {
      destroyed: false, writableEnded: false, written: 0,
      write(buf: Buffer) { this.written += buf.length; return false; },
      destroy() { this.destroyed = true; this.emit('close'); },
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
