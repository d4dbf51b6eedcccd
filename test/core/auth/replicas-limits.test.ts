import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../../bench/fleet.js';
import type { SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { startRedis, type TestRedis } from '../state/redis-server.js';
import { startEngine, startTestGateway } from '../server/gateway-helpers.js';

// Two gateway processes and a real redis-server: one key's limits hold across both.
const KEY = 'sk-shared-team-0123456789';
const SLOTS_KEY = 'sk-three-slots-0123456789';
const ADMIN = 'sk-admin-0123456789';
const RATE_HEADERS = ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests', 'x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens'];

describe('limits exact across gateway processes sharing Redis', () => {
  let redis: TestRedis;
  let engine: SimServer;
  const fleets: Fleet[] = [];
  let closed: Gateway;

  const config = (onStoreFailure: 'open' | 'closed') => ({
    listen: { host: '127.0.0.1', port: 0 },
    store: { type: 'redis', url: redis.url },
    backends: [{ id: 'e', type: 'vllm', url: engine.url }],
    routes: [{ model: 'm', backends: ['e'] }],
    auth: {
      keys: [{ id: 'shared', key: KEY, limits: { rpm: 30, tpm: 1_000_000 } }, { id: 'slots', key: SLOTS_KEY, limits: { concurrency: 3 } }],
      admin_keys: [ADMIN],
      on_store_failure: onStoreFailure,
    },
  });

  beforeAll(async () => {
    redis = await startRedis();
    engine = await startEngine('vllm');
    fleets.push(...await Promise.all([startFleet(config('open')), startFleet(config('open'))]));
    closed = await startTestGateway(config('closed'));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(fleets.map((f) => f.stop()));
    await closed?.drain();
    await engine?.close();
    await redis?.stop();
  });

  const ask = async (url: string) => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 }),
    });
    const body = await res.json() as { error?: { code: string; message: string; type: string; param: unknown } };
    return { status: res.status, headers: res.headers, body };
  };

  it('rpm 30 through two gateways: 30 requests pass in the window (one more per 2 s the requests took), the rest 429 with the headers', async () => {
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => ask(fleets[i % 2]!.url)));
    const elapsedS = (Date.now() - t0) / 1000;
    const passed = results.filter((r) => r.status === 200).length;
    console.log(`[limits] rpm 30, 50 requests through 2 gateways in ${elapsedS.toFixed(2)} s: ${passed} passed`);
    expect(passed).toBeGreaterThanOrEqual(30);
    // The bucket refills at 30 a minute (one every 2 s) while the requests run: a slow machine
    // may see one or two more.
    expect(passed).toBeLessThanOrEqual(30 + Math.ceil(elapsedS / 2));
    // Each gateway let some through: the count is shared, not split.
    for (const f of fleets) expect(results.some((r, i) => r.status === 200 && fleets[i % 2] === f)).toBe(true);
    const refused = results.filter((r) => r.status !== 200);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'rate_limit_error', param: null });
      for (const h of RATE_HEADERS) expect(r.headers.get(h), h).not.toBeNull();
      expect(r.headers.get('x-ratelimit-limit-requests')).toBe('30');
      expect(r.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // A third gateway sharing the store sees the same spent window.
    expect((await ask(closed.url)).status).toBe(429);
  });

  it('concurrency 3 through two gateways: 3 requests in flight at once in all, the rest 429; a finished one frees its slot for either', async () => {
    const long = (url: string) => fetch(`${url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${SLOTS_KEY}` },
      // Long enough (hundreds of model tokens) that every request below arrives while the first ones run.
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Tell me a long story' }], max_tokens: 2000, ignore_eos: true }),
    }).then(async (res) => ({ status: res.status, code: res.status === 200 ? undefined : ((await res.json()) as { error: { code: string } }).error.code, text: res.status === 200 ? await res.text() : '' }));
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => long(fleets[i % 2]!.url)));
    const passed = results.filter((r) => r.status === 200).length;
    console.log(`[limits] concurrency 3, 10 requests at once through 2 gateways: ${passed} passed`);
    expect(passed).toBe(3);
    expect(results.filter((r) => r.status === 429).every((r) => r.code === 'rate_limit_exceeded')).toBe(true);
    // Each slot was given back: three more run, through either gateway.
    const again = await Promise.all([long(fleets[0]!.url), long(fleets[1]!.url), long(fleets[1]!.url)]);
    expect(again.map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('Redis gone: open gateways limit per process and count the failures; a closed one refuses with limits_unavailable', async () => {
    await redis.stop();
    for (const f of fleets) {
      for (let i = 0; i < 3; i++) expect((await ask(f.url)).status).toBe(200);
    }
    const metrics = await (await fetch(`${fleets[0]!.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    const failures = Number(/^switchyard_limit_store_failures_total\{op="take"\} (\S+)$/m.exec(metrics)?.[1] ?? 0);
    expect(failures).toBeGreaterThanOrEqual(3);
    const refused = await ask(closed.url);
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ error: { code: 'limits_unavailable', type: 'server_error', param: null, message: expect.stringMatching(/rate-limit store is unreachable/) } });
    expect(refused.headers.get('retry-after')).toBe('1');
  });
});
