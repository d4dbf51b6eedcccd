/**
 * GET /v1/models/{id}: one model as OpenAI answers it (the same entry /v1/models lists), aliases
 * and slashed engine-style names included; a name the key may not use is as unknown as one that
 * does not exist (404 `model_not_found`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../core/server/gateway.js';
import { startTestGateway } from './gateway-helpers.js';

const KEYS = { narrow: 'sk-narrow-0123456789', wide: 'sk-wide-0123456789' };

describe('GET /v1/models/{id}', () => {
  let upstream: Server;
  let gw: Gateway;

  beforeAll(async () => {
    upstream = createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[]}'); });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'o', type: 'openai', url, models: ['Qwen/Qwen2.5-7B-Instruct', 'small'] }],
      routes: [{ model: 'Qwen/Qwen2.5-7B-Instruct', aliases: ['qwen'], backends: ['o'] }, { model: 'small', backends: ['o'] }],
      auth: { keys: [{ id: 'narrow', key: KEYS.narrow, models: ['small'] }, { id: 'wide', key: KEYS.wide }] },
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await new Promise((r) => upstream?.close(r));
  });

  const get = (path: string, key?: string) => fetch(`${gw.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

  it('answers one model as /v1/models lists it, by name, alias or escaped slash', async () => {
    const list = (await (await get('/v1/models', KEYS.wide)).json()) as { data: Array<{ id: string }> };
    for (const [path, id] of [['/v1/models/qwen', 'qwen'], ['/v1/models/Qwen/Qwen2.5-7B-Instruct', 'Qwen/Qwen2.5-7B-Instruct'],
      ['/v1/models/Qwen%2FQwen2.5-7B-Instruct', 'Qwen/Qwen2.5-7B-Instruct'], ['/v1/models/small', 'small']]) {
      const res = await get(path, KEYS.wide);
      expect(res.status, path).toBe(200);
      const model = (await res.json()) as { id: string; object: string; created: number; owned_by: string; root: string };
      expect(model).toEqual({ ...list.data.find((m) => m.id === id), created: model.created });
      expect(model).toMatchObject({ id, object: 'model', owned_by: 'openai' });
      expect(typeof model.created).toBe('number');
    }
  });

  it('answers 404 model_not_found, OpenAI-shaped, for an unknown model and for one the key may not use', async () => {
    for (const [path, key] of [['/v1/models/nope', KEYS.wide], ['/v1/models/qwen', KEYS.narrow], ['/v1/models/Qwen/Qwen2.5-7B-Instruct', KEYS.narrow]] as const) {
      const res = await get(path, key);
      expect(res.status, path).toBe(404);
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({ type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
      expect(body.error.message).toMatch(/does not exist or you do not have access to it/);
    }
    expect((await get('/v1/models/small', KEYS.narrow)).status).toBe(200);
    expect((await get('/v1/models/small')).status).toBe(401);
  });
});
