/**
 * Regression: a client could open every backend's circuit breaker with a handful of requests —
 * a body nested thousands deep made the upstream serialisation throw (counted as the engine's
 * failure), and any engine 5xx the request itself provokes counted against each backend it was
 * retried on. A request's own failures must never take the route down for other clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { startReplicaPair } from './gateway-helpers.js';

/** JSON text of a value nested `depth` arrays deep (JSON.stringify itself overflows on it). */
function nested(depth: number): string {
  return `${'['.repeat(depth)}"x"${']'.repeat(depth)}`;
}

describe('breaker blame: a client cannot open the breakers', () => {
  let a: SimServer;
  let b: SimServer;
  let gw: Gateway;

  beforeAll(async () => {
    // Health checks run rarely, so only the passive path (the breaker) could eject a backend.
    ({ a, b, gw } = await startReplicaPair([
      { model: 'qwen', backends: ['a', 'b'], policy: { type: 'prefix-affinity' }, retries: 1 },
      { model: 'qwen-rr', backends: ['a', 'b'], policy: { type: 'round-robin' }, retries: 1 },
    ]));
  });
  afterAll(async () => {
    await gw?.drain();
    await Promise.all([a?.close(), b?.close()]);
  });

  const post = (body: unknown, headers: Record<string, string> = {}) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const good = async (model: string) => {
    const res = await post({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    await res.arrayBuffer();
    return res.status;
  };

  it('refuses a deeply nested body with 400 invalid_json, in any field, and every backend stays closed', async () => {
    const deep = nested(5000);
    const bodies = [
      `{"model":"qwen","messages":[{"role":"user","content":"hi"}],"extra":${deep}}`,
      `{"model":"qwen","messages":[{"role":"user","content":[${deep}]}]}`,
      `{"model":"qwen","messages":[{"role":"user","content":"hi"}],"tools":[${deep}]}`,
      `{"model":"qwen-rr","messages":[{"role":"assistant","content":null,"tool_calls":[${deep}]}]}`,
    ];
    for (let i = 0; i < 3; i++) {
      for (const body of bodies) {
        const res = await post(body);
        expect(res.status).toBe(400);
        const json = await res.json() as { error: { code: string; message: string } };
        expect(json.error.code).toBe('invalid_json');
        expect(json.error.message).toMatch(/nests deeper than/);
      }
    }
    // A body well within the limit still passes.
    const ok = await post({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, extra: JSON.parse(nested(100)) as unknown });
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    for (let i = 0; i < 10; i++) expect(await good('qwen')).toBe(200);
    expect(gw.routes.breakers.of('a').status()).toBe('closed');
    expect(gw.routes.breakers.of('b').status()).toBe('closed');
  });

  it('an engine error the request provokes on every backend blames no backend and is not retried further', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await post({ model: 'qwen-rr', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, { 'x-return-error': '500' });
      expect(res.status).toBe(502);
      const json = await res.json() as { error: { code: string } };
      expect(json.error.code).toBe('upstream_error');
    }
    expect(gw.routes.breakers.of('a').status()).toBe('closed');
    expect(gw.routes.breakers.of('b').status()).toBe('closed');
    for (let i = 0; i < 10; i++) expect(await good('qwen-rr')).toBe(200);
  });

  it('a backend that fails requests which succeed elsewhere is still ejected', async () => {
    // b now answers 500 to everything, while a serves the same requests. The retry budget spent
    // by the test before refills first (5 retries a second).
    await new Promise((r) => setTimeout(r, 1500));
    await fetch(`${b.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errorRates: [{ status: 500, probability: 1 }] }) });
    try {
      const served: string[] = [];
      for (let i = 0; i < 30; i++) {
        const res = await post({ model: 'qwen-rr', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
        expect(res.status).toBe(200);
        served.push(res.headers.get('x-switchyard-backend')!);
        await res.arrayBuffer();
      }
      expect(gw.routes.breakers.of('b').status()).not.toBe('closed');
      expect(gw.routes.breakers.of('a').status()).toBe('closed');
    } finally {
      await fetch(`${b.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errorRates: [] }) });
    }
  });
});
