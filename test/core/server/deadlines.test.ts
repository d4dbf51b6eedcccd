/**
 * A hung engine does not hold a client forever: a stream whose first token never comes, a stream
 * that stalls mid-way, and a request that outlives its route's whole deadline each end with their
 * own catalogue error — the answer before the first byte, the stream's error event before [DONE]
 * after it. (Before: non-streamed requests waited 600 s and stalled streams 300 s.)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { postSse, startEngine, startTestGateway } from './gateway-helpers.js';

describe('upstream deadlines', () => {
  let silent: SimServer;
  let stalling: SimServer;
  let gw: Gateway;

  beforeAll(async () => {
    [silent, stalling] = await Promise.all([startEngine('vllm'), startEngine('vllm')]);
    // One engine never sends a token; the other stalls after three.
    await fetch(`${silent.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stallAfter: 0 }) });
    await fetch(`${stalling.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stallAfter: 3 }) });
    const timeouts = { first_token_ms: 400, stall_ms: 400, total_ms: 1500 };
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'silent', type: 'vllm', url: silent.url, health_interval_ms: 60_000 }, { id: 'stalling', type: 'vllm', url: stalling.url, health_interval_ms: 60_000 }],
      routes: [
        { model: 'silent', backends: ['silent'], retries: 0, timeouts },
        { model: 'stalling', backends: ['stalling'], retries: 0, timeouts },
      ],
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await Promise.all([silent?.close(), stalling?.close()]);
  });

  const chat = (model: string, stream: boolean) => ({ model, stream, max_tokens: 50, messages: [{ role: 'user', content: 'hello' }] });

  it('ends a stream whose first token never comes with first_token_timeout and [DONE]', async () => {
    const read = await postSse(`${gw.url}/v1/chat/completions`, chat('silent', true));
    expect(read.status).toBe(200);
    const last = read.events.filter((e) => e !== '[DONE]').at(-1)!;
    expect(JSON.parse(last).error.code).toBe('first_token_timeout');
    expect(read.events.at(-1)).toBe('[DONE]');
  });

  it('ends a stream that stalls mid-way with upstream_stalled and [DONE], its tokens delivered first', async () => {
    const read = await postSse(`${gw.url}/v1/chat/completions`, chat('stalling', true));
    expect(read.status).toBe(200);
    const data = read.events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e) as { choices?: unknown[]; error?: { code: string } });
    expect(data.filter((d) => d.choices).length).toBeGreaterThanOrEqual(3);
    expect(data.at(-1)?.error?.code).toBe('upstream_stalled');
    expect(read.events.at(-1)).toBe('[DONE]');
  });

  it('answers a non-streamed request that outlives the route deadline with 504 deadline_exceeded, and serves on', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat('stalling', false)) });
    expect(res.status).toBe(504);
    const json = await res.json() as { error: { code: string; type: string } };
    expect(json.error).toMatchObject({ code: 'deadline_exceeded', type: 'upstream_error' });
    await fetch(`${stalling.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stallAfter: null }) });
    const ok = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat('stalling', false)) });
    expect(ok.status).toBe(200);
  });
});

describe('a stream whose engine never sends its headers', () => {
  let mute: Server;
  let gw: Gateway;

  beforeAll(async () => {
    // Answers its model list, and holds every completion without a byte.
    mute = createServer((req, res) => {
      if (req.method === 'GET') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }] }));
      else req.resume();
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'mute', type: 'openai', url: `http://127.0.0.1:${(mute.address() as AddressInfo).port}`, models: ['m'], health_path: '/v1/models', load_interval_ms: 0 }],
      routes: [{ model: 'm', backends: ['mute'], retries: 0, timeouts: { first_token_ms: 400, stall_ms: 400, total_ms: 60_000 } }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
    mute?.closeAllConnections();
    await new Promise((r) => mute?.close(r));
  });

  it('is answered 504 first_token_timeout once first_token_ms has passed since the request began', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('first_token_timeout');
  });
});
