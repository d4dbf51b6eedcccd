/**
 * Regression: every client header reached the engines (Cookie, Proxy-Authorization,
 * X-Forwarded-For…), and a client's X-Request-Id was adopted unchecked (8 KB, anything).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../core/server/gateway.js';
import { startTestGateway } from './gateway-helpers.js';

describe('headers the engine gets, and the request id', () => {
  let upstream: Server;
  let gw: Gateway;
  let seen: IncomingHttpHeaders = {};

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      if (req.method === 'POST') seen = req.headers;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'o', type: 'openai', url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, models: ['m'], health_path: '/v1/models', load_interval_ms: 0, forward_headers: ['X-Tenant'] }],
      routes: [{ model: 'm', backends: ['o'] }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await new Promise((r) => upstream?.close(r));
  });

  const post = (headers: Record<string, string>) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
  });

  it('passes the engine only Accept, the trace context and the headers the backend names: never credentials or the proxy trail', async () => {
    const res = await post({
      cookie: 'session=secret', 'proxy-authorization': 'Basic abc', 'x-forwarded-for': '10.0.0.1', 'x-forwarded-host': 'evil',
      forwarded: 'for=10.0.0.1', 'x-real-ip': '10.0.0.1', authorization: 'Bearer sk-gateway-key', 'x-api-key': 'sk-gateway-key',
      'x-tenant': 'named', 'x-anything-else': 'dropped', accept: 'application/json',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=1',
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    for (const h of ['cookie', 'proxy-authorization', 'x-forwarded-for', 'x-forwarded-host', 'forwarded', 'x-real-ip', 'authorization', 'x-api-key', 'x-anything-else']) expect(seen[h], h).toBeUndefined();
    expect(seen['x-tenant']).toBe('named');
    expect(seen.accept).toBe('application/json');
    expect(seen.traceparent).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(seen.tracestate).toBe('vendor=1');
  });

  it('refuses forward_headers that would pass credentials or the gateway\'s own headers', async () => {
    const { default: openai } = await import('../../../plugins/openai/index.js');
    expect(openai.validate({ forward_headers: ['x-tenant', 'X-Org'] })).toEqual([]);
    for (const bad of [['authorization'], ['Cookie'], ['x-api-key'], ['content-length'], 'x-tenant', ['bad header']]) {
      expect(openai.validate({ forward_headers: bad }), JSON.stringify(bad)).toHaveLength(1);
    }
  });

  it('adopts a sane client request id, and replaces an oversized or odd one', async () => {
    const kept = await post({ 'x-request-id': 'trace-42:abc.DEF_9' });
    await kept.arrayBuffer();
    expect(kept.headers.get('x-request-id')).toBe('trace-42:abc.DEF_9');
    expect(seen['x-request-id']).toBe('trace-42:abc.DEF_9');
    for (const bad of ['x'.repeat(8192), 'has space', '<script>']) {
      const res = await post({ 'x-request-id': bad });
      await res.arrayBuffer();
      const id = res.headers.get('x-request-id')!;
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(seen['x-request-id']).toBe(id);
    }
  });
});
