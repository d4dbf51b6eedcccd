/**
 * The inference fast lane (core/server/fast-lane.ts) answers every request as fastify's routes
 * do. Each case goes twice to the same gateway: with a Content-Length (the lane takes it) and
 * chunked (the lane leaves it to fastify); status, error body and the headers that matter must
 * be the same, and the lane must have served exactly the first of each pair.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../core/server/gateway.js';
import type { SimServer } from '../../../bench/sim/server.js';
import { startEngine, startTestGateway } from './gateway-helpers.js';

interface Sent { status: number; headers: Record<string, string | string[] | undefined>; text: string }

function post(base: string, path: string, body: string, headers: Record<string, string>, chunked: boolean): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const req = request(url, { method: 'POST', headers: chunked ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', reject);
    if (chunked) {
      // Two writes before end: node sends Transfer-Encoding: chunked.
      req.write(body.slice(0, Math.floor(body.length / 2)));
      req.write(body.slice(Math.floor(body.length / 2)));
    } else {
      req.write(body);
    }
    req.end();
  });
}

const KEY = 'sk-lane-test';
const json = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };
const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'm', max_tokens: 3, messages: [{ role: 'user', content: 'Hello there' }], ...extra });
let deep = '"x"';
for (let i = 0; i < 200; i++) deep = `{"a":${deep}}`;

const ERROR_CASES: Array<{ name: string; path?: string; body: string; headers?: Record<string, string> }> = [
  { name: 'invalid JSON', body: '{"model": "m", "messages": [' },
  { name: 'a __proto__ key', body: '{"model":"m","messages":[{"role":"user","content":"x"}],"__proto__":{"polluted":true}}' },
  { name: 'a constructor.prototype key', body: '{"model":"m","messages":[{"role":"user","content":"x"}],"constructor":{"prototype":{"polluted":true}}}' },
  { name: 'a body nested too deep', body: `{"model":"m","messages":[{"role":"user","content":"x"}],"metadata":${deep}}` },
  { name: 'a JSON null', body: 'null' },
  { name: 'a field of the wrong type', body: chat({ max_tokens: 'ten' }) },
  { name: 'no messages', body: JSON.stringify({ model: 'm' }) },
  { name: 'an unknown model', body: chat({ model: 'nope' }) },
  { name: 'a model the key may not use', body: chat({ model: 'other' }) },
  { name: 'no key', body: chat(), headers: { 'content-type': 'application/json' } },
  { name: 'a wrong key', body: chat(), headers: { 'content-type': 'application/json', authorization: 'Bearer sk-wrong' } },
  { name: 'a malformed SLO header', body: chat(), headers: { ...json, 'x-slo-ttft-ms': 'soon' } },
  { name: 'embeddings from a route with no embedding backend', path: '/v1/embeddings', body: JSON.stringify({ model: 'm', input: 'x' }) },
];

describe('the inference fast lane answers as fastify does', () => {
  let engine: SimServer;
  let gw: Gateway;

  beforeAll(async () => {
    engine = await startEngine('vllm');
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      auth: { keys: [{ id: 'lane', key: KEY, models: ['m'] }], admin_keys: ['sk-admin-lane'] },
      backends: [{ id: 'e', type: 'vllm', url: engine.url }],
      routes: [{ model: 'm', backends: ['e'] }, { model: 'other', backends: ['e'] }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await engine?.close();
  });

  async function pair(path: string, body: string, headers: Record<string, string>): Promise<[Sent, Sent]> {
    const before = gw.app.fastLane.served;
    const lane = await post(gw.url, path, body, headers, false);
    expect(gw.app.fastLane.served, 'the lane took the request with a Content-Length').toBe(before + 1);
    const routed = await post(gw.url, path, body, headers, true);
    expect(gw.app.fastLane.served, 'the lane left the chunked request to fastify').toBe(before + 1);
    return [lane, routed];
  }

  it.each(ERROR_CASES)('$name', async ({ path, body, headers }) => {
    const [lane, routed] = await pair(path ?? '/v1/chat/completions', body, headers ?? json);
    expect(lane.status).toBeGreaterThanOrEqual(400);
    expect(lane.status).toBe(routed.status);
    expect(JSON.parse(lane.text)).toEqual(JSON.parse(routed.text));
    for (const name of ['content-type', 'x-content-type-options', 'www-authenticate']) expect(lane.headers[name], name).toEqual(routed.headers[name]);
    expect(lane.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('relays an answer with the same status and headers, and keeps a sane X-Request-Id', async () => {
    const [lane, routed] = await pair('/v1/chat/completions', chat(), { ...json, 'x-request-id': 'lane-1' });
    expect(lane.status).toBe(200);
    expect(routed.status).toBe(200);
    for (const name of ['content-type', 'x-content-type-options', 'x-switchyard-backend']) expect(lane.headers[name], name).toEqual(routed.headers[name]);
    expect(lane.headers['x-request-id']).toBe('lane-1');
    expect(JSON.parse(lane.text)).toMatchObject({ object: 'chat.completion', usage: { completion_tokens: 3 } });
    expect(lane.headers['content-length']).toBe(String(Buffer.byteLength(lane.text)));
  });

  it('streams on the lane as on fastify', async () => {
    const [lane, routed] = await pair('/v1/chat/completions', chat({ stream: true }), json);
    expect(lane.headers['content-type']).toBe(routed.headers['content-type']);
    expect(lane.headers['x-content-type-options']).toBe('nosniff');
    expect(lane.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(lane.text.match(/^data: /gm)?.length).toBe(routed.text.match(/^data: /gm)?.length);
  });

  it("lets go of a request's bytes once they are read (no listener keeps them while the answer streams)", async () => {
    const seen: IncomingMessage[] = [];
    const onRequest = (req: IncomingMessage) => { seen.push(req); };
    gw.app.server.on('request', onRequest);
    try {
      const [lane, routed] = await pair('/v1/chat/completions', chat({ stream: true }), json);
      expect(lane.status).toBe(200);
      expect(routed.status).toBe(200);
    } finally {
      gw.app.server.off('request', onRequest);
    }
    expect(seen).toHaveLength(2);
    for (const req of seen) expect(req.listenerCount('data'), req.headers['transfer-encoding'] ?? 'content-length').toBe(0);
  });

  it('leaves other content types, query strings aside, and escaped paths to fastify', async () => {
    const before = gw.app.fastLane.served;
    const plain = await post(gw.url, '/v1/chat/completions', chat(), { ...json, 'content-type': 'text/plain' }, false);
    expect(plain.status).toBe(415);
    const escaped = await post(gw.url, '/v1/chat/%63ompletions', chat(), json, false);
    expect(escaped.status).toBe(200);
    expect(gw.app.fastLane.served).toBe(before);
    const query = await post(gw.url, '/v1/chat/completions?trace=1', chat(), json, false);
    expect(query.status).toBe(200);
    expect(gw.app.fastLane.served).toBe(before + 1);
  });
});

describe('the upstream body', () => {
  let capture: Server;
  let gw: Gateway;
  const received: string[] = [];

  beforeAll(async () => {
    // An OpenAI-compatible upstream that keeps each request body's bytes.
    capture = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        received.push(Buffer.concat(parts).toString('utf8'));
        const body = JSON.stringify({ id: 'c', object: 'chat.completion', created: 0, model: 'x', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(capture.address() as AddressInfo).port}`;
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'same', type: 'openai', url, models: ['same'] }, { id: 'renamed', type: 'openai', url, models: ['engine-name'] }],
      routes: [{ model: 'same', backends: ['same'] }, { model: 'public', backends: ['renamed'] }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await new Promise((resolve) => capture?.close(resolve));
  });

  const send = (body: string) => post(gw.url, '/v1/chat/completions', body, { 'content-type': 'application/json' }, false);

  it('is the client\'s bytes as they came when the gateway changes nothing', async () => {
    const text = '{ "messages" : [ {"role":"user","content":"caf\\u00e9 \u00e9"} ],\n  "model":"same", "max_tokens": 4 }';
    expect((await send(text)).status).toBe(200);
    expect(received.at(-1)).toBe(text);
  });

  it('is written again when the engine knows the model by another name, the body began with a byte-order mark, or a stream must ask for usage', async () => {
    expect((await send('{"model":"public","messages":[{"role":"user","content":"x"}]}')).status).toBe(200);
    expect(JSON.parse(received.at(-1)!)).toEqual({ model: 'engine-name', messages: [{ role: 'user', content: 'x' }] });
    expect((await send('\ufeff{"model":"same","messages":[{"role":"user","content":"bom"}]}')).status).toBe(200);
    expect(received.at(-1)!.charCodeAt(0)).toBe(123); // '{': the byte-order mark the parser dropped is not sent on
    // A stream's stream_options null, or a model the engine knows by another name: written again.
    await send('{"model":"same","stream":true,"stream_options":null,"messages":[{"role":"user","content":"x"}]}');
    expect(JSON.parse(received.at(-1)!)).toEqual({ model: 'same', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }] });
    await send('{"model":"public","stream":true,"messages":[{"role":"user","content":"x"}]}');
    expect(JSON.parse(received.at(-1)!)).toEqual({ model: 'engine-name', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }] });
    // A stream's own stream_options are kept beside the usage the gateway asks for.
    await send('{"model":"same","stream":true,"stream_options":{"continuous_usage_stats":true},"messages":[{"role":"user","content":"x"}]}');
    expect(JSON.parse(received.at(-1)!)).toEqual({
      model: 'same', stream: true, stream_options: { continuous_usage_stats: true, include_usage: true }, messages: [{ role: 'user', content: 'x' }],
    });
  });

  it("is, for a stream that must ask for usage, the client's bytes with that one member in front", async () => {
    const text = ' {\n "model" : "same", "stream": true, "messages":[{"role":"user","content":"caf\\u00e9"}] }';
    await send(text);
    expect(received.at(-1)).toBe(` {"stream_options":{"include_usage":true},\n "model" : "same", "stream": true, "messages":[{"role":"user","content":"caf\\u00e9"}] }`);
    expect(JSON.parse(received.at(-1)!)).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });
});
