/**
 * Regression: requests the gateway refused itself (a bad field, no key, an unknown model, too
 * large a body, not JSON, over a key's limit) never showed in the metrics. Each answer that is one
 * of Switchyard's own errors now counts in switchyard_gateway_errors_total{status,code}.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../core/server/gateway.js';
import { startTestGateway } from './gateway-helpers.js';

const KEY = 'sk-tenant-0123456789';
const ADMIN = 'sk-admin-0123456789';

describe('switchyard_gateway_errors_total', () => {
  let upstream: Server;
  let gw: Gateway;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        object: 'list', data: [{ id: 'm' }], id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      limits: { body_bytes: 4096 },
      backends: [{ id: 'o', type: 'openai', url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, models: ['m'] }],
      routes: [{ model: 'm', backends: ['o'] }],
      auth: { keys: [{ id: 'tenant', key: KEY, limits: { rpm: 1 } }], admin_keys: [ADMIN] },
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await new Promise((r) => upstream?.close(r));
  });

  const chat = (body: string, headers: Record<string, string> = {}) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers }, body,
  });

  it('counts refusals before routing by status and code', async () => {
    const refusals: Array<[Promise<Response>, number, string]> = [
      [chat(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 'ten' })), 400, 'invalid_field'],
      [chat('{}', { authorization: 'Bearer sk-unknown-key' }), 401, 'invalid_api_key'],
      [chat(JSON.stringify({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] })), 404, 'model_not_found'],
      [chat(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(8192) }] })), 413, 'body_too_large'],
      [chat('hi', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
    ];
    for (const [answer, status] of refusals) {
      const res = await answer;
      await res.arrayBuffer();
      expect(res.status).toBe(status);
    }
    // The key's one request a minute: the second is refused 429.
    for (const expected of [200, 429]) {
      const res = await chat(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }));
      await res.arrayBuffer();
      expect(res.status).toBe(expected);
    }
    const text = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    for (const [, status, code] of [...refusals, [undefined, 429, 'rate_limit_exceeded'] as const]) {
      expect(text, code).toContain(`switchyard_gateway_errors_total{status="${status}",code="${code}"} 1`);
    }
  });
});
