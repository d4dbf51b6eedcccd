import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { essentialsHandler } from '../../../bench/overhead/essentials.js';
import { startZeroUpstream, type ZeroUpstream } from '../../../bench/overhead/zero-upstream.js';

const KEY = 'sk-essentials-test';
const CHAT = { model: 'zero-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 };

describe('essentials floor (bench reference row)', () => {
  let zero: ZeroUpstream;
  let pool: Pool;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    zero = await startZeroUpstream({ port: 0, chunks: 3 });
    pool = new Pool(zero.url, { connections: 4 });
    server = createServer(essentialsHandler([pool], { key: KEY, model: 'zero-model' }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await pool?.close();
    await zero?.close();
  });

  const post = (body: string, key: string | null = KEY) => fetch(url, {
    method: 'POST', body, headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
  });

  it('forwards a keyed, valid request and answers the engine\'s bytes with a request id', async () => {
    const res = await post(JSON.stringify(CHAT));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const json = (await res.json()) as { object: string; usage: { completion_tokens: number } };
    expect(json.object).toBe('chat.completion');
    expect(json.usage.completion_tokens).toBeGreaterThan(0);
  });

  it('refuses what a gateway must refuse: no key, a wrong key, bad JSON, a body off the schema, an unknown model', async () => {
    expect((await post(JSON.stringify(CHAT), null)).status).toBe(401);
    expect((await post(JSON.stringify(CHAT), 'sk-wrong')).status).toBe(401);
    expect((await post('{"model":')).status).toBe(400);
    expect((await post(JSON.stringify({ model: 'zero-model', messages: [] }))).status).toBe(400);
    const unknown = await post(JSON.stringify({ ...CHAT, model: 'nope' }));
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
  });
});
