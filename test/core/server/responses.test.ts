/**
 * /v1/responses: passed to the backends that serve it (a 400 `endpoint_not_supported` elsewhere),
 * streams relayed as the engine's typed events (no `[DONE]`, no chat error chunk), and a request
 * continuing a response (`previous_response_id`) sent back to the replica that holds it — each
 * upstream here knows only its own responses, as vLLM's per-process store does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../core/server/gateway.js';
import { startTestGateway, waitFor } from './gateway-helpers.js';

interface ResponsesUpstream {
  server: Server;
  url: string;
  /** Its health check (GET /v1/models) answers 503 while set. */
  sick: boolean;
  /** The next stream ends before `response.completed`. */
  truncateNext: boolean;
  /** The exact bytes of the last stream it sent. */
  lastStream: string;
  bodies: Array<Record<string, unknown>>;
}

function sse(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

async function startResponsesUpstream(name: string): Promise<ResponsesUpstream> {
  const stored = new Set<string>();
  let next = 0;
  const up: ResponsesUpstream = { server: createServer(), url: '', sick: false, truncateNext: false, lastStream: '', bodies: [] };
  up.server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(up.sick ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }] }));
        return;
      }
      if (req.url !== '/v1/responses') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Not Found', type: 'not_found', code: 404 } }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      up.bodies.push(body);
      const previous = body.previous_response_id;
      if (typeof previous === 'string' && !stored.has(previous)) {
        res.writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { message: `Response with id '${previous}' not found.`, type: 'invalid_request_error', param: null, code: 404 } }));
        return;
      }
      const id = `resp_${name}_${++next}`;
      stored.add(id);
      const usage = { input_tokens: 5, output_tokens: 2, total_tokens: 7, input_tokens_details: { cached_tokens: 0 } };
      const response = { id, object: 'response', created_at: 1, model: 'm', status: 'completed', previous_response_id: previous ?? null };
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ...response, output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'hi there' }] }], usage }));
        return;
      }
      const events = [
        sse('response.created', { sequence_number: 0, response: { ...response, status: 'in_progress' } }),
        sse('response.output_text.delta', { sequence_number: 1, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'hi' }),
        sse('response.output_text.delta', { sequence_number: 2, item_id: 'msg_1', output_index: 0, content_index: 0, delta: ' there' }),
      ];
      if (up.truncateNext) up.truncateNext = false;
      else events.push(sse('response.completed', { sequence_number: 3, response: { ...response, usage } }));
      up.lastStream = events.join('');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const e of events) res.write(e);
      res.end();
    });
  });
  await new Promise<void>((r) => up.server.listen(0, '127.0.0.1', r));
  up.url = `http://127.0.0.1:${(up.server.address() as AddressInfo).port}`;
  return up;
}

describe('/v1/responses', () => {
  let a: ResponsesUpstream;
  let b: ResponsesUpstream;
  let chat: Server;
  let gw: Gateway;

  beforeAll(async () => {
    [a, b] = await Promise.all([startResponsesUpstream('a'), startResponsesUpstream('b')]);
    chat = createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'c' }] })); });
    await new Promise<void>((r) => chat.listen(0, '127.0.0.1', r));
    const http = { type: 'openai', models: ['m'], responses: true, health_interval_ms: 50 };
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [
        { id: 'a', url: a.url, ...http },
        { id: 'b', url: b.url, ...http },
        { id: 'c', type: 'openai', url: `http://127.0.0.1:${(chat.address() as AddressInfo).port}`, models: ['c'] },
      ],
      // Round robin alternates a and b: only the remembered owner keeps a conversation on one.
      routes: [{ model: 'm', backends: ['a', 'b'], policy: { type: 'round-robin' } }, { model: 'chat-only', backends: ['c'] }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await Promise.all([a, b].map((u) => new Promise((r) => u?.server.close(r))));
    await new Promise((r) => chat?.close(r));
  });

  const post = (body: Record<string, unknown>) => fetch(`${gw.url}/v1/responses`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });

  it('sends previous_response_id back to the replica that holds the response (non-streamed)', async () => {
    const first = await post({ model: 'm', input: 'hello' });
    expect(first.status).toBe(200);
    const owner = first.headers.get('x-switchyard-backend');
    let previous = ((await first.json()) as { id: string }).id;
    expect(previous).toMatch(new RegExp(`^resp_${owner}_`));
    for (let turn = 0; turn < 4; turn++) {
      const res = await post({ model: 'm', input: 'and then?', previous_response_id: previous });
      const answer = (await res.json()) as { id: string; previous_response_id: string };
      expect(res.status, JSON.stringify(answer)).toBe(200);
      expect(res.headers.get('x-switchyard-backend')).toBe(owner);
      expect(answer.previous_response_id).toBe(previous);
      previous = answer.id;
    }
    // Without previous_response_id, requests still spread over both replicas.
    const spread = new Set<string | null>();
    for (let i = 0; i < 2; i++) {
      const res = await post({ model: 'm', input: 'x' });
      await res.arrayBuffer();
      spread.add(res.headers.get('x-switchyard-backend'));
    }
    expect(spread).toEqual(new Set(['a', 'b']));
  });

  it('relays a stream as the engine sent it, and remembers its owner from response.created', async () => {
    const res = await post({ model: 'm', input: 'hello', stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const owner = res.headers.get('x-switchyard-backend')!;
    const text = await res.text();
    expect(text).toBe((owner === 'a' ? a : b).lastStream);
    expect(text).not.toContain('[DONE]');
    const id = /"response\.created".*?"id":"([^"]+)"/.exec(text)![1];
    for (let turn = 0; turn < 3; turn++) {
      const next = await post({ model: 'm', input: 'more', stream: true, previous_response_id: id });
      expect(next.status).toBe(200);
      expect(next.headers.get('x-switchyard-backend')).toBe(owner);
      expect(await next.text()).toContain('"type":"response.completed"');
    }
  });

  it('ends a stream cut short with a Responses error event, not a chat error chunk and [DONE]', async () => {
    a.truncateNext = true;
    b.truncateNext = true;
    const res = await post({ model: 'm', input: 'hello', stream: true });
    const text = await res.text();
    a.truncateNext = false;
    b.truncateNext = false;
    const owner = res.headers.get('x-switchyard-backend') === 'a' ? a : b;
    expect(text.startsWith(owner.lastStream)).toBe(true);
    const tail = text.slice(owner.lastStream.length);
    expect(tail).toMatch(/^event: error\ndata: /);
    expect(JSON.parse(tail.split('\n')[1].slice('data: '.length))).toMatchObject({ type: 'error', code: 'stream_interrupted' });
    expect(text).not.toContain('[DONE]');
  });

  it('does not add chat stream_options to a Responses request', async () => {
    const res = await post({ model: 'm', input: 'x', stream: true });
    await res.text();
    const seen = [...a.bodies, ...b.bodies].at(-1)!;
    expect(seen.stream_options).toBeUndefined();
  });

  it('answers a clear 503 when the replica holding the response is unhealthy, rather than asking another', async () => {
    const first = await post({ model: 'm', input: 'hello' });
    const owner = first.headers.get('x-switchyard-backend') === 'a' ? a : b;
    const ownerId = owner === a ? 'a' : 'b';
    const { id } = (await first.json()) as { id: string };
    owner.sick = true;
    try {
      await waitFor(() => gw.backends.find((x) => x.id === ownerId)!.health().status === 'unhealthy');
      const before = a.bodies.length + b.bodies.length;
      const res = await post({ model: 'm', input: 'and then?', previous_response_id: id });
      const body = (await res.json()) as { error: { code: string; param: string } };
      expect(res.status).toBe(503);
      expect(body.error).toMatchObject({ code: 'response_unavailable', param: 'previous_response_id' });
      expect(a.bodies.length + b.bodies.length).toBe(before);
    } finally {
      owner.sick = false;
    }
    await waitFor(() => gw.backends.find((x) => x.id === ownerId)!.health().status === 'healthy');
  });

  it('answers 400 endpoint_not_supported for a route whose backends do not serve it', async () => {
    const res = await post({ model: 'chat-only', input: 'hello' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('endpoint_not_supported');
  });
});
