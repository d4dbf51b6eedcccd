import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { startEngine, startTestGateway } from '../server/gateway-helpers.js';

// Tenants end to end: a gateway with API keys in front of emulated engines, over real HTTP.
const KEYS = { stream: 'sk-streamer-0123456789', a: 'sk-team-a-0123456789', b: 'sk-team-b-0123456789', tokens: 'sk-tokens-0123456789', one: 'sk-one-at-a-time-0123', slot: 'sk-slot-tokens-0123456', admin: 'sk-admin-0123456789' };
const RATE_HEADERS = ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests', 'x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens'];

function expectOpenAiError(body: unknown, code: string): void {
  expect(body).toEqual({ error: { message: expect.any(String), type: expect.any(String), param: expect.toBeOneOf([null, expect.any(String)]), code } });
}

describe('tenants: API keys, model access, limits, usage', () => {
  let fast: SimServer;
  let slow: SimServer;
  let gw: Gateway;

  beforeAll(async () => {
    fast = await startEngine('vllm', { replicaName: 'fast', enablePromptTokensDetails: true });
    slow = await startEngine('vllm', { replicaName: 'slow', timeScale: 1 });
    gw = await startTestGateway({
      backends: [{ id: 'fast', type: 'vllm', url: fast.url }, { id: 'slow', type: 'vllm', url: slow.url }],
      routes: [{ model: 'm', aliases: ['m-alias'], backends: ['fast'] }, { model: 'other', backends: ['fast'] }, { model: 'slow', backends: ['slow'] }],
      auth: {
        keys: [
          { id: 'team-a', key: KEYS.a, models: ['m'], limits: { rpm: 3, tpm: 1_000_000 }, priority: 'high' },
          { id: 'team-b', key: KEYS.b },
          { id: 'tokens', key: KEYS.tokens, limits: { rpm: 1000, tpm: 100 } },
          { id: 'one', key: KEYS.one, limits: { rpm: 1000, tpm: 1_000_000, concurrency: 1 } },
          { id: 'slot', key: KEYS.slot, limits: { tpm: 6000, concurrency: 2 } },
          { id: 'streamer', key: KEYS.stream, limits: { tpm: 600 } },
        ],
        admin_keys: [KEYS.admin],
      },
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await Promise.all([fast?.close(), slow?.close()]);
  });

  const chat = (headers: Record<string, string>, body: Record<string, unknown> = {}) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 4, ...body }),
  });
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  it('401 invalid_api_key without a key or with an unknown one, in either header; a known key in either passes', async () => {
    for (const headers of [{}, bearer('sk-nope'), { 'x-api-key': 'sk-nope' }, { authorization: 'Basic dXNlcjpwdw==' }] as Array<Record<string, string>>) {
      const res = await chat(headers);
      expect(res.status).toBe(401);
      const body = await res.json();
      expectOpenAiError(body, 'invalid_api_key');
      expect(JSON.stringify(body)).not.toContain('sk-nope');
    }
    expect((await chat(bearer(KEYS.b))).status).toBe(200);
    expect((await chat({ 'x-api-key': KEYS.b })).status).toBe(200);
    // Checked before the body is even read.
    const noBody = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(noBody.status).toBe(401);
  });

  it('404 model_not_found for a model the key may not use; /v1/models lists only its models', async () => {
    const res = await chat(bearer(KEYS.a), { model: 'other' });
    expect(res.status).toBe(404);
    const body = await res.json() as { error: { message: string } };
    expectOpenAiError(body, 'model_not_found');
    expect(body.error.message).toBe('The model `other` does not exist or you do not have access to it.');
    expect((await chat(bearer(KEYS.a), { model: 'm-alias' })).status).toBe(200);
    const ids = async (key: string) => ((await (await fetch(`${gw.url}/v1/models`, { headers: bearer(key) })).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
    expect(await ids(KEYS.a)).toEqual(['m', 'm-alias']);
    expect(await ids(KEYS.b)).toEqual(['m', 'm-alias', 'other', 'slow']);
    expect((await fetch(`${gw.url}/v1/models`)).status).toBe(401);
  });

  it('/admin/* and /metrics need an admin key; a tenant key is not one; /health and /ready are open', async () => {
    for (const path of ['/admin/routing', '/admin/ab/m', '/metrics']) {
      for (const headers of [{}, bearer(KEYS.b), bearer('sk-nope')]) {
        const res = await fetch(`${gw.url}${path}`, { headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expectOpenAiError(await res.json(), 'invalid_api_key');
      }
      expect((await fetch(`${gw.url}${path}`, { headers: bearer(KEYS.admin) })).status).toBe(200);
      expect((await fetch(`${gw.url}${path}`, { headers: { 'x-api-key': KEYS.admin } })).status).toBe(200);
    }
    // Regression: the guard read the raw URL, and the router decodes percent-escapes.
    for (const path of ['/%61dmin/routing', '/%6detrics', '/admin/routing?x=1']) {
      expect((await fetch(`${gw.url}${path}`)).status, path).toBe(401);
    }
    const escaped = await fetch(`${gw.url}/%761/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(escaped.status).toBe(401);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    expect((await fetch(`${gw.url}/ready`)).status).toBe(200);
    // An admin key is not a tenant key.
    expect((await chat(bearer(KEYS.admin))).status).toBe(401);
  });

  it('rpm: the key gets its burst with the six headers on each answer, then 429 rate_limit_exceeded with Retry-After', async () => {
    // team-a has spent one request in the tests above (m-alias): two left.
    const remaining: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await chat(bearer(KEYS.a));
      expect(res.status).toBe(200);
      for (const h of RATE_HEADERS) expect(res.headers.get(h), h).not.toBeNull();
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe('3');
      remaining.push(res.headers.get('x-ratelimit-remaining-requests')!);
      await res.arrayBuffer();
    }
    expect(remaining).toEqual(['1', '0']);
    const refused = await chat(bearer(KEYS.a));
    expect(refused.status).toBe(429);
    expectOpenAiError(await refused.json(), 'rate_limit_exceeded');
    for (const h of RATE_HEADERS) expect(refused.headers.get(h), h).not.toBeNull();
    expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(20);
    // Streams carry the headers too.
    const stream = await chat(bearer(KEYS.b), { stream: true });
    expect(stream.headers.get('content-type')).toMatch(/event-stream/);
    await stream.text();
  });

  it('tpm: the prompt is charged up front, the engine usage after; over the limit 429 with the headers', async () => {
    // ~300 bytes of body ≈ 75 tokens estimated, against 100 per minute.
    const body = { messages: [{ role: 'user', content: 'word '.repeat(40) }], max_tokens: 80, ignore_eos: true };
    const first = await chat(bearer(KEYS.tokens), body);
    expect(first.status).toBe(200);
    const usage = ((await first.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    expect(usage.completion_tokens).toBe(80);
    expect(Number(first.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(100);
    const refused = await chat(bearer(KEYS.tokens), body);
    expect(refused.status).toBe(429);
    const error = ((await refused.json()) as { error: { message: string; code: string } }).error;
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.message).toMatch(/100 tokens per minute/);
    for (const h of RATE_HEADERS) expect(refused.headers.get(h), h).not.toBeNull();
    expect(refused.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
    // The whole answer was charged (prompt + 80 completion > 100): the bucket is in debt, so the
    // wait (0.6 s a token) is longer than the ~75 estimated tokens alone would need.
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(50);
  });

  it('concurrency: a second request while one is in flight gets 429 with the headers', async () => {
    const controller = new AbortController();
    const first = await chat(bearer(KEYS.one), { model: 'slow', max_tokens: 400, stream: true }).then((r) => r, (e: unknown) => { throw e; });
    expect(first.status).toBe(200);
    const refused = await chat(bearer(KEYS.one), { model: 'slow' });
    expect(refused.status).toBe(429);
    const error = ((await refused.json()) as { error: { message: string; code: string } }).error;
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.message).toMatch(/1 requests in flight/);
    for (const h of RATE_HEADERS) expect(refused.headers.get(h), h).not.toBeNull();
    expect(refused.headers.get('retry-after')).toBe('1');
    controller.abort();
    await first.body?.cancel();
    // The slot comes back when the first request ends (here: its client went away).
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      const res = await chat(bearer(KEYS.one), { model: 'm' });
      status = res.status;
      await res.arrayBuffer();
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(200);
  });

  it('tpm with an in-flight limit: the answer\'s usage is charged as its slot is freed', async () => {
    const first = await chat(bearer(KEYS.slot), { max_tokens: 200, ignore_eos: true });
    expect(((await first.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(200);
    const afterFirst = Number(first.headers.get('x-ratelimit-remaining-tokens'));
    const second = await chat(bearer(KEYS.slot), { max_tokens: 1 });
    await second.arrayBuffer();
    expect(second.status).toBe(200);
    // Between the two: the first answer's 200 completion tokens (and its prompt's difference from
    // the estimate), then the second's estimate, less ~100 tokens a second of refill.
    expect(afterFirst - Number(second.headers.get('x-ratelimit-remaining-tokens'))).toBeGreaterThan(180);
    // Both slots are free again: two at once pass.
    const both = await Promise.all([chat(bearer(KEYS.slot), { max_tokens: 1 }), chat(bearer(KEYS.slot), { max_tokens: 1 })]);
    for (const res of both) {
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  });

  it('tpm: completion tokens count while a stream runs, not only at its end', async () => {
    const remainingTokens = async () => {
      const res = await chat(bearer(KEYS.stream), { max_tokens: 1 });
      await res.arrayBuffer();
      return Number(res.headers.get('x-ratelimit-remaining-tokens'));
    };
    const before = await remainingTokens();
    const res = await chat(bearer(KEYS.stream), { max_tokens: 20_000, ignore_eos: true, stream: true });
    const reader = res.body!.getReader();
    let events = 0;
    const decoder = new TextDecoder();
    while (events < 250) events += (decoder.decode((await reader.read()).value).match(/^data: \{/gm) ?? []).length;
    const during = await remainingTokens();
    expect((await reader.read()).done).toBe(false); // still streaming: its usage is not in yet
    await reader.cancel();
    // The stream's prompt and the small request cost ~30 estimated tokens each (the bucket
    // refills 10 a second); the 250+ tokens streamed so far are charged on top.
    expect(before - during).toBeGreaterThan(150);
  });

  it('counts usage per key id and model, never the key', async () => {
    const system = 'You answer questions about the shipping schedule with care and precision. '.repeat(8);
    for (let i = 0; i < 2; i++) await (await chat(bearer(KEYS.b), { messages: [{ role: 'system', content: system }, { role: 'user', content: 'When?' }] })).arrayBuffer();
    const text = await (await fetch(`${gw.url}/metrics`, { headers: bearer(KEYS.admin) })).text();
    const value = (name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    expect(value('switchyard_key_requests_total', 'key="team-a",model="m"')).toBe(3);
    expect(value('switchyard_key_requests_total', 'key="tokens",model="m"')).toBe(1);
    expect(value('switchyard_key_completion_tokens_total', 'key="tokens",model="m"')).toBe(80);
    expect(value('switchyard_key_prompt_tokens_total', 'key="team-b",model="m"')).toBeGreaterThan(0);
    expect(value('switchyard_rate_limited_total', 'key="team-a",limit="rpm"')).toBe(1);
    expect(value('switchyard_rate_limited_total', 'key="tokens",limit="tpm"')).toBe(1);
    expect(value('switchyard_rate_limited_total', 'key="one",limit="concurrency"')).toBe(1);
    expect(value('switchyard_key_cached_prompt_tokens_total', 'key="team-b",model="m"')).toBeGreaterThan(0);
    for (const key of Object.values(KEYS)) expect(text).not.toContain(key);
  });
});

describe('tenants: no keys', () => {
  let engine: SimServer;
  let gw: Gateway;
  beforeAll(async () => {
    engine = await startEngine('vllm', { replicaName: 'slow', timeScale: 1 });
    gw = await startTestGateway({
      backends: [{ id: 'e', type: 'vllm', url: engine.url }],
      routes: [{ model: 'm', backends: ['e'] }],
      limits: { max_in_flight_per_client: 1 },
      auth: { trusted_proxies: ['127.0.0.1'] },
      metrics: { public: true },
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await engine?.close();
  });

  const chat = (headers: Record<string, string>, maxTokens: number, stream = false) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Hello' }], max_tokens: maxTokens, stream }),
  });

  it('serves without a key, caps requests in flight per client address (X-Forwarded-For from a trusted proxy)', async () => {
    const first = await chat({ 'x-forwarded-for': '198.51.100.1' }, 400, true);
    expect(first.status).toBe(200);
    const same = await chat({ 'x-forwarded-for': '198.51.100.1' }, 1);
    expect(same.status).toBe(429);
    expectOpenAiError(await same.json(), 'rate_limit_exceeded');
    expect(same.headers.get('retry-after')).toBe('1');
    const other = await chat({ 'x-forwarded-for': '198.51.100.2' }, 1);
    expect(other.status).toBe(200);
    await other.arrayBuffer();
    await first.body?.cancel();
  });

  it('/metrics is public when metrics.public; /admin still needs an admin key when an auth: section exists', async () => {
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${gw.url}/admin/routing`)).status).toBe(401);
  });
});
