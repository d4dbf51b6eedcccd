/**
 * Regression: errors produced before Switchyard's handler (malformed HTTP, 431, 408) came in
 * fastify's own shape or none, and text/plain or a body without a content type got 400, not 415;
 * a connection that sent headers and never a body was held for ever.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { startEngine, startTestGateway } from './gateway-helpers.js';

describe('errors before the handler are OpenAI-shaped', () => {
  let engine: SimServer;
  let gw: Gateway;

  beforeAll(async () => {
    engine = await startEngine('vllm');
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      limits: { request_timeout_ms: 600 },
      backends: [{ id: 'a', type: 'vllm', url: engine.url }],
      routes: [{ model: 'qwen', backends: ['a'] }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await engine?.close();
  });

  /** Sends raw bytes; resolves with everything the gateway wrote back before closing. */
  const raw = (bytes: string): Promise<string> => new Promise((resolve, reject) => {
    const { port } = new URL(gw.url);
    const s = connect(Number(port), '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.on('data', (d) => { out += d.toString(); });
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
  const codeOf = (answer: string) => (JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string } }).error.code;

  it('answers a malformed request 400 bad_request', async () => {
    const answer = await raw('GARBAGE / HTTP/1.1\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(codeOf(answer)).toBe('bad_request');
  });

  it('answers oversized headers 431 headers_too_large', async () => {
    const answer = await raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431/);
    expect(codeOf(answer)).toBe('headers_too_large');
  });

  it('closes a connection that sends headers and then no body', async () => {
    const t0 = Date.now();
    const answer = await raw('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(codeOf(answer)).toBe('request_timeout');
  });

  it('answers a request that never finishes 408 request_timeout', async () => {
    const answer = await raw('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{');
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(codeOf(answer)).toBe('request_timeout');
  });

  it('answers text/plain and a body without a content type 415', async () => {
    for (const headers of [{ 'content-type': 'text/plain' }, {}] as Array<Record<string, string>>) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers, body: headers['content-type'] ? 'hello' : undefined });
      expect(res.status).toBe(415);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
    }
  });
});
