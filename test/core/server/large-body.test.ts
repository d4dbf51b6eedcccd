/**
 * Bodies past the inline size (1 MiB) are parsed, checked, keyed and serialised in a worker
 * thread (core/server/large-body.ts): the engine gets the same JSON, the client the same errors,
 * as a body parsed on the event loop. (How much the event loop is spared is measured by
 * bench/reliability/event-loop-block.ts, not here.)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { Gateway } from '../../../core/server/gateway.js';
import { encodeBody, hasHeldFields, materializeBody } from '../../../core/plugin/body.js';
import { LargeBodies, largeBodyInfo, releaseBody } from '../../../core/server/large-body.js';
import { prefixKey } from '../../../core/routing/prefix-key.js';
import { GatewayError } from '../../../core/server/errors.js';
import { startTestGateway } from './gateway-helpers.js';

/** A chat body of about `mb` megabytes: many turns of a long conversation. */
function bigChat(mb: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const turn = 'lorem ipsum dolor sit amet, '.repeat(36); // ~1 KB
  const messages = Array.from({ length: Math.ceil(mb * 1024) }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `${i}: ${turn}` }));
  return { model: 'm', max_tokens: 3, messages, ...extra };
}

describe('large bodies through a gateway', () => {
  let upstream: Server;
  let gw: Gateway;
  const received: string[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'POST') received.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          id: 'x', object: 'chat.completion', created: 1, model: 'engine-m', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      limits: { body_bytes: 6 * 1024 * 1024 },
      backends: [{ id: 'o', type: 'openai', url, models: ['engine-m'], health_path: '/v1/models', load_interval_ms: 0 }],
      routes: [{ model: 'm', backends: ['o'], policy: { type: 'prefix-affinity' } }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await new Promise((r) => upstream?.close(r));
  });

  const post = (body: unknown) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body),
  });

  it('sends the engine the body it would have sent, with the model rewritten', async () => {
    const body = bigChat(2, { temperature: 0.5, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] });
    const res = await post(body);
    expect(res.status).toBe(200);
    expect((await res.json()).choices[0].message.content).toBe('ok');
    expect(JSON.parse(received.at(-1)!)).toEqual({ ...body, model: 'engine-m' });
    // The router keyed it as it keys any body: one placement, under the canonical prompt's key.
    const key = prefixKey(body, gw.routes.state.chunkBytes);
    expect(gw.routes.state.prefixes.of('o').match(key.hashes)).toBe(key.hashes.length);
  });

  it('streams: the engine is asked for usage, as for any stream', async () => {
    const res = await post(bigChat(1.5, { stream: true }));
    await res.arrayBuffer();
    const sent = JSON.parse(received.at(-1)!);
    expect(sent.stream).toBe(true);
    expect(sent.stream_options).toEqual({ include_usage: true });
    expect(sent.messages.length).toBe(1536);
  });

  it('refuses a bad large body as it refuses a small one: the same status, code and field', async () => {
    const cases: Array<[unknown, number, string, string | null]> = [
      [`${JSON.stringify(bigChat(1.2)).slice(0, -1)},`, 400, 'invalid_json', null],
      [bigChat(1.2, { max_tokens: 'ten' }), 400, 'invalid_field', 'max_tokens'],
      [{ ...bigChat(1.2), model: undefined }, 400, 'missing_model', 'model'],
      [{ ...bigChat(1.2), messages: [] }, 400, 'invalid_field', 'messages'],
      [`${JSON.stringify(bigChat(1.2)).slice(0, -1)},"x":${'['.repeat(200)}${']'.repeat(200)}}`, 400, 'invalid_json', null],
      [`${JSON.stringify(bigChat(1.2)).slice(0, -1)},"x":{"__proto__":{"polluted":true}}}`, 400, 'invalid_json', null],
      [bigChat(7), 413, 'body_too_large', null],
    ];
    for (const [body, status, code, param] of cases) {
      const res = await post(body);
      const answer = await res.json();
      expect({ status: res.status, code: answer.error.code, param: answer.error.param }).toEqual({ status, code, param });
    }
    // The small forms of the same mistakes answer alike.
    const small = await post({ model: 'm', max_tokens: 'ten', messages: [{ role: 'user', content: 'hi' }] });
    expect((await small.json()).error).toMatchObject({ code: 'invalid_field', param: 'max_tokens' });
    // And the gateway serves on.
    expect((await post(bigChat(1.1))).status).toBe(200);
  });
});

describe('LargeBodies', () => {
  let bodies: LargeBodies;
  const app = Fastify();
  const seen: Array<{ large: boolean; held: boolean; encoded: unknown; whole: unknown }> = [];

  beforeAll(async () => {
    bodies = new LargeBodies({ inlineBytes: 64 * 1024, bodyLimit: 8 * 1024 * 1024, chunkBytes: 256 });
    bodies.install(app);
    app.setErrorHandler((err: Error, _req, reply) => {
      void reply.code(err instanceof GatewayError ? err.status : 500).send({ name: err instanceof GatewayError ? err.errorName : err.message });
    });
    app.post('/v1/chat/completions', async (req) => {
      const body = req.body as Record<string, unknown>;
      const call = { ...body, model: 'engine' };
      const encoded = encodeBody(call);
      seen.push({
        large: largeBodyInfo(body) !== undefined, held: hasHeldFields(body),
        encoded: JSON.parse(typeof encoded === 'string' ? encoded : Buffer.from(await encoded).toString('utf8')),
        whole: await materializeBody(call),
      });
      releaseBody(body);
      return { ok: true };
    });
    app.post('/other', async (req) => ({ keys: Object.keys(req.body as object).length }));
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  it('holds a large body\'s bulky fields in the worker: encoded and materialised it is the body', async () => {
    const body = bigChat(0.2, { user: 'u1' });
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect(res.statusCode).toBe(200);
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ large: true, held: true });
    expect(last.encoded).toEqual({ ...body, model: 'engine' });
    expect(last.whole).toEqual({ ...body, model: 'engine' });
    expect(bodies.stats.parsed).toBeGreaterThan(0);
  });

  it('parses a small body on the event loop, and other routes\' bodies whatever their size', async () => {
    await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) });
    expect(seen.at(-1)).toMatchObject({ large: false, held: false, encoded: { model: 'engine', messages: [{ role: 'user', content: 'hi' }] } });
    const res = await app.inject({ method: 'POST', url: '/other', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(bigChat(0.2)) });
    expect(res.json()).toEqual({ keys: 3 });
  });

  it('starts a new worker for the next body when the worker is gone', async () => {
    const payload = JSON.stringify(bigChat(0.2));
    const first = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, payload });
    expect(first.statusCode).toBe(200);
    // Kill the worker between two requests: the next body starts a new one.
    const worker = (bodies as unknown as { worker?: { terminate(): Promise<number> } }).worker;
    await worker?.terminate();
    const next = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, payload });
    expect(next.statusCode).toBe(200);
    expect(bodies.stats.workerRestarts).toBe(1);
  });
});
