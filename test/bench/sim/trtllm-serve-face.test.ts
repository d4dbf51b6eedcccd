import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { MODEL, launch, longText, parseFrame, postJson, sseFrames } from './helpers.js';
import type { Json } from './helpers.js';

let sim: SimServer;

beforeAll(async () => {
  sim = await launch('trtllm-serve');
});

afterAll(async () => {
  await sim?.close();
});

const chat = (extra: Json = {}): Json => ({ model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 6, ...extra });

describe('trtllm-serve face', () => {
  it('streams as postprocess_handlers.py does: spaced first frame, exclude_none chunks, usage only with stream_options', async () => {
    const plain = await sseFrames(`${sim.url}/v1/chat/completions`, chat({ stream: true }));
    expect(plain.status).toBe(200);
    expect(plain.raw).toMatch(/^data: \{.*\} \n\n/);
    expect(plain.frames.at(-1)).toBe('[DONE]');
    const chunks = plain.frames.slice(0, -1).map(parseFrame);
    expect(chunks[0].choices).toEqual([{ index: 0, delta: { role: 'assistant' } }]);
    for (const c of chunks.slice(1, -1)) expect('finish_reason' in (c.choices as Json[])[0]).toBe(false);
    expect((chunks.at(-1)?.choices as Json[])[0].finish_reason).toBe('length');
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
    // Each chunk is built without an id, so each gets a fresh one.
    expect(new Set(chunks.map((c) => c.id)).size).toBe(chunks.length);

    const withUsage = await sseFrames(`${sim.url}/v1/chat/completions`, chat({ stream: true, stream_options: {} }));
    const usage = parseFrame(withUsage.frames.at(-2) as string);
    expect(usage).toMatchObject({ object: 'chat.completion.chunk', choices: [], usage: { completion_tokens: 6, prompt_tokens_details: null } });
  });

  it('drains iteration stats on GET /metrics: the second call is [] when idle', async () => {
    const res = await postJson(`${sim.url}/v1/chat/completions`, chat());
    expect(res.status).toBe(200);
    const first = await (await fetch(`${sim.url}/metrics`)).json() as Json[];
    expect(first.length).toBeGreaterThan(0);
    expect(Object.keys(first[0]).sort()).toEqual(['gpuMemUsage', 'inflightBatchingStats', 'iter', 'iterLatencyMS', 'kvCacheStats',
      'maxNumActiveRequests', 'numActiveRequests', 'numCompletedRequests', 'numQueuedRequests', 'timestamp']);
    expect(first[0].kvCacheStats).toMatchObject({ tokensPerBlock: 32, maxNumBlocks: expect.any(Number), cacheHitRate: expect.any(Number) });
    expect(first[0].inflightBatchingStats).toMatchObject({ numScheduledRequests: expect.any(Number), microBatchId: 0 });
    expect(await (await fetch(`${sim.url}/metrics`)).json()).toEqual([]);
  });

  it('drains KV events on POST /kv_cache_events, u64 hashes as exact JSON integers', async () => {
    await (await fetch(`${sim.url}/kv_cache_events`, { method: 'POST' })).text();
    const res = await postJson(`${sim.url}/v1/completions`, { model: MODEL, prompt: longText(300, 'kv-events'), max_tokens: 2 });
    expect(res.status).toBe(200);
    const raw = await (await fetch(`${sim.url}/kv_cache_events`, { method: 'POST' })).text();
    const events = JSON.parse(raw) as Json[];
    const stored = events.filter((e) => (e.data as Json).type === 'stored');
    expect(stored.length).toBeGreaterThan(0);
    expect(stored[0]).toMatchObject({ event_id: expect.any(Number), window_size: 32768 });
    const block = ((stored[0].data as Json).blocks as Json[])[0];
    expect(block).toMatchObject({ type: 'stored_block', cache_level: 0, priority: 35 });
    expect((block.tokens as Json[])[0]).toMatchObject({ type: 'unique_token', token_extra_id: 0 });
    const hashes = [...raw.matchAll(/"block_hash":(\d+)/g)].map((m) => BigInt(m[1]));
    expect(hashes.length).toBeGreaterThan(0);
    expect(hashes.some((h) => h > 2n ** 53n)).toBe(true);
    expect(await (await fetch(`${sim.url}/kv_cache_events`, { method: 'POST' })).json()).toEqual([]);
  });

  it('answers errors as trtllm-serve does', async () => {
    const malformed = await postJson(`${sim.url}/v1/chat/completions`, '{"model": ');
    expect(malformed.status).toBe(400);
    expect(typeof (malformed.json as Json).error).toBe('string');
    const extra = await postJson(`${sim.url}/v1/chat/completions`, chat({ not_a_field: 1 }));
    expect(extra.status).toBe(400);
    expect(String((extra.json as Json).error)).toContain('Extra inputs are not permitted');
    const tooLong = await postJson(`${sim.url}/v1/chat/completions`, chat({ max_tokens: 40_000 }));
    expect(tooLong.status).toBe(400);
    expect(tooLong.json).toMatchObject({ object: 'error', type: 'BadRequestError', param: null, code: 400 });
    // openai_chat never checks the model name: any name is served and echoed.
    const other = await postJson(`${sim.url}/v1/chat/completions`, chat({ model: 'another-name' }));
    expect(other.status).toBe(200);
    expect(other.json).toMatchObject({ model: 'another-name', object: 'chat.completion' });
  });

  it('serves /health, /health_generate and /v1/models', async () => {
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
    const generate = await fetch(`${sim.url}/health_generate`);
    expect(generate.status).toBe(200);
    expect(await generate.text()).toBe('Generation health check OK');
    expect(await (await fetch(`${sim.url}/v1/models`)).json()).toMatchObject({ object: 'list', data: [{ id: MODEL, owned_by: 'tensorrt_llm' }] });
  });
});
