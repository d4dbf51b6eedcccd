import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monotonicClockMs, startZeroUpstream, type ZeroUpstream } from '../../../bench/overhead/zero-upstream.js';
import { loadConfig } from '../../../core/config/load.js';
import { startGateway, type Gateway } from '../../../core/server/gateway.js';

type Json = Record<string, any>;

const CHAT = { model: 'zero-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 };

async function postJson(url: string, body: unknown): Promise<{ status: number; headers: Headers; json: Json }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Json };
}

/** POST and split the SSE answer into its `data:` payloads. */
async function postSse(url: string, body: unknown): Promise<{ status: number; headers: Headers; events: string[] }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, events: text.split('\n\n').filter((e) => e.trim() !== '').map((e) => e.replace(/^data: /, '')) };
}

describe('zero upstream', () => {
  let zero: ZeroUpstream;
  let paced: ZeroUpstream;

  beforeAll(async () => {
    [zero, paced] = await Promise.all([startZeroUpstream({ port: 0, chunks: 5 }), startZeroUpstream({ port: 0, chunks: 3, itlMs: 2 })]);
  });
  afterAll(async () => {
    await Promise.all([zero?.close(), paced?.close()]);
  });

  it('answers a non-streamed chat.completion with usage, echoing the model', async () => {
    const { status, headers, json } = await postJson(`${zero.url}/v1/chat/completions`, { ...CHAT, model: 'any-name' });
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/json');
    expect(json).toMatchObject({
      object: 'chat.completion', model: 'any-name',
      choices: [{ index: 0, message: { role: 'assistant' }, finish_reason: 'length' }],
      usage: { completion_tokens: 5 },
    });
    expect(json.usage.total_tokens).toBe(json.usage.prompt_tokens + 5);
  });

  it('streams role, N content chunks, finish, usage when asked, then [DONE]', async () => {
    const { status, headers, events } = await postSse(`${zero.url}/v1/chat/completions`, { ...CHAT, stream: true, stream_options: { include_usage: true } });
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Json);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'zero-model')).toBe(true);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const content = chunks.filter((c) => typeof c.choices[0]?.delta?.content === 'string' && c.choices[0].delta.content !== '');
    expect(content).toHaveLength(5);
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 5 } });
  });

  it('leaves the usage chunk out unless include_usage is set', async () => {
    const { events } = await postSse(`${zero.url}/v1/chat/completions`, { ...CHAT, stream: true });
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Json);
    expect(chunks).toHaveLength(1 + 5 + 1);
    expect(chunks.some((c) => c.usage !== undefined)).toBe(false);
  });

  it('paces chunks with itlMs and still ends with [DONE]', async () => {
    const { events } = await postSse(`${paced.url}/v1/chat/completions`, { ...CHAT, stream: true });
    expect(events).toHaveLength(1 + 3 + 1 + 1);
    expect(events.at(-1)).toBe('[DONE]');
  });

  it('stamps a paced stream with when the request arrived and when the first content chunk left', async () => {
    const stamped = await startZeroUpstream({ port: 0, chunks: 3, itlMs: 5, stamp: true });
    try {
      const before = monotonicClockMs();
      const { events } = await postSse(`${stamped.url}/v1/chat/completions`, { ...CHAT, stream: true });
      const after = monotonicClockMs();
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Json);
      // The role chunk: when the body had arrived; the first content chunk: when it was written, a pace later.
      const { zero_received_at: received } = chunks[0];
      const { zero_sent_at: sent } = chunks[1];
      expect(chunks[1].choices[0].delta.content).toBe('tok');
      expect(received).toBeGreaterThanOrEqual(before);
      expect(sent).toBeGreaterThan(received);
      expect(sent).toBeLessThanOrEqual(after);
      // Only those two chunks carry a stamp, and the answer is otherwise the unstamped one.
      expect(chunks.slice(2).some((c) => 'zero_sent_at' in c || 'zero_received_at' in c)).toBe(false);
      const plain = (await postSse(`${paced.url}/v1/chat/completions`, { ...CHAT, stream: true })).events.map((e) => e.replace(/"zero_(received|sent)_at":[0-9.]+,/, ''));
      expect(events.map((e) => e.replace(/"zero_(received|sent)_at":[0-9.]+,/, ''))).toEqual(plain);
    } finally {
      await stamped.close();
    }
  });

  it('answers embeddings, /v1/models and /health; 404 elsewhere', async () => {
    const emb = await postJson(`${zero.url}/v1/embeddings`, { model: 'zero-model', input: 'x' });
    expect(emb.status).toBe(200);
    expect(emb.json).toMatchObject({ object: 'list', data: [{ object: 'embedding', index: 0 }] });
    expect(emb.json.data[0].embedding.length).toBeGreaterThan(0);
    const models = (await (await fetch(`${zero.url}/v1/models`)).json()) as Json;
    expect(models.data.map((m: Json) => m.id)).toEqual(['zero-model']);
    expect((await fetch(`${zero.url}/health`)).status).toBe(200);
    const missing = await fetch(`${zero.url}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Json).error.message).toContain('/v1/nothing');
  });
});

describe('switchyard in front of the zero upstream', () => {
  let zero: ZeroUpstream;
  let gw: Gateway;
  let dir: string;

  beforeAll(async () => {
    zero = await startZeroUpstream({ port: 0, chunks: 4 });
    dir = mkdtempSync(path.join(tmpdir(), 'switchyard-overhead-test-'));
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(file, [
      'listen: { host: 127.0.0.1, port: 0 }',
      'workers: 1',
      'backends:',
      `  - { id: zero, type: openai, url: "${zero.url}", models: [zero-model] }`,
      'routes:',
      '  - { model: zero-model, backends: [zero], policy: { type: least-load } }',
      '',
    ].join('\n'));
    gw = await startGateway(await loadConfig(file), { port: 0, host: '127.0.0.1', logLevel: 'silent' });
  });
  afterAll(async () => {
    await gw?.drain();
    await zero?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('relays a non-streamed answer with x-switchyard-backend: zero', async () => {
    const { status, headers, json } = await postJson(`${gw.url}/v1/chat/completions`, CHAT);
    expect(status).toBe(200);
    expect(headers.get('x-switchyard-backend')).toBe('zero');
    expect(Number(headers.get('x-switchyard-overhead-ms'))).toBeGreaterThanOrEqual(0);
    expect(json).toMatchObject({ object: 'chat.completion', usage: { completion_tokens: 4 } });
  });

  it('relays a stream with x-switchyard-backend: zero, ending in [DONE]', async () => {
    const { status, headers, events } = await postSse(`${gw.url}/v1/chat/completions`, { ...CHAT, stream: true });
    expect(status).toBe(200);
    expect(headers.get('x-switchyard-backend')).toBe('zero');
    expect(events.at(-1)).toBe('[DONE]');
    const content = events.slice(0, -1).map((e) => JSON.parse(e) as Json).filter((c) => c.choices[0]?.delta?.content);
    expect(content).toHaveLength(4);
  });
});
