import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../../core/server/gateway.js';
import { startTestGateway } from '../gateway-helpers.js';
import { ADMIN_KEY, TENANT_KEY, readSnapshots, sendTraffic, startFleet, type Fleet, type Snapshot } from './fleet.js';

const login = (url: string, key: string) => fetch(`${url}/dashboard/login`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }),
});

/** The `name=value` part of a Set-Cookie header. */
const cookieOf = (setCookie: string | null) => setCookie!.split(';')[0]!;
const noCredentials: Array<Record<string, string>> = [{}, { authorization: `Bearer ${TENANT_KEY}` }, { cookie: 'switchyard_session=made-up' }];

// One fleet (its replicas are slow to start) for both gateways: with auth, and without.
let fleet: Fleet;
let url: string;

beforeAll(async () => {
  fleet = await startFleet();
  url = fleet.gw.url;
});
afterAll(async () => {
  await fleet?.close();
});

describe('dashboard with auth on', () => {
  it('shows the login form, not the dashboard, without a session', async () => {
    const res = await fetch(`${url}/dashboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const page = await res.text();
    expect(page).toContain('id="login"');
    expect(page).not.toContain('id="backends"');
  });

  it('answers a wrong key with 401 invalid_api_key and sets no cookie', async () => {
    for (const key of ['not-a-key', TENANT_KEY]) {
      const res = await login(url, key);
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(await res.json()).toEqual({ error: { message: 'Incorrect admin key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    }
  });

  it('refuses the data stream without a session or an admin key', async () => {
    for (const headers of noCredentials) {
      const res = await fetch(`${url}/dashboard/events`, { headers });
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe('invalid_api_key');
    }
  });

  it('logs in with the admin key: an HttpOnly, SameSite=Strict session cookie that opens the page and its stream', async () => {
    const res = await login(url, ADMIN_KEY);
    expect(res.status).toBe(204);
    const setCookie = res.headers.get('set-cookie')!;
    const attributes = setCookie.split(';').map((a) => a.trim());
    expect(attributes).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/']));
    expect(setCookie).not.toContain(ADMIN_KEY);
    const cookie = cookieOf(setCookie);
    expect(cookie).toMatch(/^switchyard_session=[A-Za-z0-9_-]{24}\.[0-9a-z]+\.[A-Za-z0-9_-]{43}$/);

    const page = await fetch(`${url}/dashboard`, { headers: { cookie } });
    expect(await page.text()).toContain('id="backends"');
    const uplot = await fetch(`${url}/dashboard/assets/uPlot.iife.min.js`);
    expect(uplot.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await uplot.text()).toContain('uPlot');
    expect((await fetch(`${url}/dashboard/assets/..%2Fsessions.ts`)).status).toBe(404);

    const [first] = await readSnapshots(url, { cookie }, () => true);
    expect(first!.backends.map((b: Snapshot) => b.id)).toEqual(['replica-0', 'replica-1']);

    const out = await fetch(`${url}/dashboard/logout`, { method: 'POST', headers: { cookie } });
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await fetch(`${url}/dashboard/events`, { headers: { cookie } })).status).toBe(401);
  });

  it('streams snapshots that follow the traffic: decisions by reason, latencies, SLO attainment, usage per key, A/B arms', async () => {
    let traffic: Promise<void> | undefined;
    let failure: unknown;
    const decided = (seen: Snapshot[]) => seen.reduce((n, s) => n + Object.values(s.decisions as Record<string, number>).reduce((a, b) => a + b, 0), 0);
    // The admin key itself opens the stream too, as it opens /admin.
    const seen = await readSnapshots(url, { authorization: `Bearer ${ADMIN_KEY}` }, (s, all) => {
      if (failure) throw failure;
      // The first snapshot is the baseline the counters' deltas start from: traffic starts after it.
      traffic ??= sendTraffic(url, 24).catch((err: unknown) => { failure = err; });
      const qwen = s.routes.find((r: Snapshot) => r.model === 'qwen');
      return decided(all) >= 24 && qwen.ttft_ms !== null && s.usage.some((u: Snapshot) => u.requests >= 12) && s.ab[0]?.arms.every((a: Snapshot) => a.requests >= 6);
    });
    await traffic;
    expect(failure).toBeUndefined();

    const first = seen[0]!;
    const last = seen[seen.length - 1]!;
    expect(Object.values(first.decisions).every((n) => n === 0)).toBe(true);
    expect(decided(seen)).toBe(24);
    expect(last.at).toBeGreaterThan(first.at);

    for (const b of last.backends) {
      expect(b.health.status).not.toBe('unhealthy');
      expect(b.breaker).toBe('closed');
      expect(b.prefix_index.chunks).toBeGreaterThan(0);
      expect(b).toHaveProperty('kv_usage');
      expect(b).toHaveProperty('routing_precision');
    }
    const qwen = last.routes.find((r: Snapshot) => r.model === 'qwen');
    expect(qwen.slo).toEqual({ ttft_ms: 2000, tpot_ms: 100 });
    expect(qwen.ttft_ms.p50).toBeGreaterThan(0);
    expect(qwen.ttft_ms.p99).toBeGreaterThanOrEqual(qwen.ttft_ms.p50);
    expect(qwen.tpot_ms.p50).toBeGreaterThan(0);
    expect(qwen.slo_attainment.ttft).toBeGreaterThanOrEqual(0);
    expect(qwen.slo_attainment.ttft).toBeLessThanOrEqual(1);
    expect(last.routes.find((r: Snapshot) => r.model === 'qwen-ab').slo).toBeNull();

    expect(last.usage).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'team-a', model: 'qwen', requests: 12 })]));
    expect(last.usage.find((u: Snapshot) => u.model === 'qwen').completion_tokens).toBeGreaterThan(0);

    const ab = last.ab[0];
    expect(ab.model).toBe('qwen-ab');
    expect(ab.arms.map((a: Snapshot) => a.name)).toEqual(['first', 'second']);
    expect(ab.comparisons[0]).toMatchObject({ baseline: 'first', arm: 'second' });
    expect(ab.comparisons[0].ttft_ms.ci95).toHaveLength(2);
  });
});

describe('dashboard without auth', () => {
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'only', type: 'vllm', url: fleet.sims[0]!.url }],
      routes: [{ model: 'qwen', backends: ['only'] }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
  });

  it('is open like /admin: the page, and its stream with no session', async () => {
    // inject(): a keep-alive socket left idle here would hold the drain below for node's keepAliveTimeout.
    expect((await gw.app.inject('/dashboard')).body).toContain('id="backends"');
    const [first] = await readSnapshots(gw.url, {}, () => true);
    expect(first!.auth).toBe(false);
    expect(first!.backends[0].id).toBe('only');
    expect(first!.usage).toEqual([]);
    expect(first!.ab).toEqual([]);
  });

  it('ends open streams when the gateway drains, instead of holding the drain open', async () => {
    const res = await fetch(`${gw.url}/dashboard/events`);
    const reader = res.body!.getReader();
    await reader.read();
    await gw.drain();
    let ended = false;
    while (!ended) ended = (await reader.read()).done;
    expect(ended).toBe(true);
  });
});
