import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { MODEL, launch, longText, metric, parseFrame, postJson, scrape, sseFrames } from './helpers.js';
import type { Json } from './helpers.js';

let sim: SimServer;

beforeAll(async () => {
  sim = await launch('lmdeploy');
});

afterAll(async () => {
  await sim?.close();
});

const chat = (extra: Json = {}): Json => ({ model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 6, ...extra });

describe('LMDeploy face (v0.16)', () => {
  it('streams with its quirks: role on every delta, no finish_reason key until the end, "usage": null when usage is on', async () => {
    const on = await sseFrames(`${sim.url}/v1/chat/completions`, chat({ stream: true, stream_options: { include_usage: true } }));
    expect(on.status).toBe(200);
    expect(on.frames.at(-1)).toBe('[DONE]');
    const chunks = on.frames.slice(0, -1).map(parseFrame);
    const usageChunk = chunks.at(-1) as Json;
    const deltas = chunks.slice(0, -1);
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: 6, prompt_tokens_details: { cached_tokens: expect.any(Number) } });
    for (const c of deltas) {
      const choice = (c.choices as Json[])[0];
      expect((choice.delta as Json).role).toBe('assistant');
      expect('usage' in c && c.usage === null).toBe(true);
    }
    for (const c of deltas.slice(0, -1)) expect('finish_reason' in (c.choices as Json[])[0]).toBe(false);
    expect((deltas.at(-1)?.choices as Json[])[0].finish_reason).toBe('length');
    // json.dumps separators: ", " and ": ".
    expect(on.frames[0]).toContain('"object": "chat.completion.chunk", "created": ');
    expect(String(deltas[0].id)).toMatch(/^chatcmpl-[2-9A-HJ-NP-Za-km-z]{22}$/);
  });

  it('sends no usage by default (StreamOptions.include_usage=false)', async () => {
    const off = await sseFrames(`${sim.url}/v1/chat/completions`, chat({ stream: true }));
    const chunks = off.frames.slice(0, -1).map(parseFrame);
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
    expect(chunks.every((c) => (c.choices as Json[]).length === 1)).toBe(true);
    const withOptions = await sseFrames(`${sim.url}/v1/chat/completions`, chat({ stream: true, stream_options: {} }));
    expect(withOptions.frames.slice(0, -1).map(parseFrame).every((c) => !('usage' in c))).toBe(true);
  });

  it('answers whole with cached_tokens in usage, and streams the same text', async () => {
    const whole = await postJson(`${sim.url}/v1/chat/completions`, chat({ max_tokens: 20, seed: 11 }));
    expect(whole.status).toBe(200);
    const body = whole.json as Json;
    expect(body).toMatchObject({ object: 'chat.completion', model: MODEL, usage: { completion_tokens: 20, prompt_tokens_details: { cached_tokens: expect.any(Number) } } });
    const streamed = await sseFrames(`${sim.url}/v1/chat/completions`, chat({ max_tokens: 20, seed: 11, stream: true }));
    const text = streamed.frames.slice(0, -1).map(parseFrame).map((c) => String(((c.choices as Json[])[0].delta as Json).content ?? '')).join('');
    expect(text).toBe(((body.choices as Json[])[0].message as Json).content);
  });

  it('answers errors flat with v0.16 types by status; validation errors are 400 invalid requests', async () => {
    const unknown = await postJson(`${sim.url}/v1/chat/completions`, chat({ model: 'nope' }));
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ message: "The model 'nope' does not exist.", type: 'not_found_error', code: 404, param: null, object: 'error' });
    const malformed = await postJson(`${sim.url}/v1/chat/completions`, '{"model": ');
    expect(malformed.status).toBe(400);
    expect(malformed.json).toEqual({ message: '0: JSON decode error', type: 'invalid_request_error', code: 400, param: null, object: 'error' });
    const missing = await postJson(`${sim.url}/v1/chat/completions`, { model: MODEL });
    expect(missing.json).toMatchObject({ message: 'messages: Field required', code: 400 });
    const mediaType = await postJson(`${sim.url}/v1/chat/completions`, 'hi', { 'content-type': 'text/plain' });
    expect(mediaType.json).toMatchObject({ message: "Unsupported Media Type: Only 'application/json' is allowed", code: 400 });
    const badTopP = await postJson(`${sim.url}/v1/chat/completions`, chat({ top_p: 1.5 }));
    expect(badTopP.status).toBe(400);
    expect(badTopP.json).toMatchObject({ message: 'The top_p 1.5 must be in (0, 1].', type: 'invalid_request_error', object: 'error' });
    for (const [status, type] of [[401, 'authentication_error'], [503, 'server_error'], [500, 'server_error'], [429, 'invalid_request_error']] as const) {
      const injected = await postJson(`${sim.url}/v1/chat/completions`, chat(), { 'x-return-error': String(status) });
      expect(injected.status).toBe(status);
      expect(injected.json).toMatchObject({ type, code: status, object: 'error' });
    }
  });

  it('writes an engine failure after the 200 as data: {"error": {...}} then [DONE]; whole requests get the 500 payload', async () => {
    await postJson(`${sim.url}/sim/faults`, { 'error-after': 2 });
    try {
      const streamed = await sseFrames(`${sim.url}/v1/chat/completions`, chat({ stream: true, max_tokens: 20, ignore_eos: true, stream_options: { include_usage: true } }));
      expect(streamed.frames.at(-2)).toBe('{"error": {"message": "An internal server error occurred.", "type": "server_error", "code": 500, "param": null, "object": "error"}}');
      expect(streamed.frames.at(-1)).toBe('[DONE]');
      expect(streamed.frames.slice(0, -2).map(parseFrame).every((c) => (c.choices as Json[]).length === 1)).toBe(true);
      const completion = await sseFrames(`${sim.url}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 20, ignore_eos: true, stream: true });
      expect(parseFrame(completion.frames.at(-2) as string)).toMatchObject({ error: { type: 'server_error', code: 500 } });
      const whole = await postJson(`${sim.url}/v1/chat/completions`, chat({ max_tokens: 20, ignore_eos: true }));
      expect(whole.status).toBe(500);
      expect(whole.json).toEqual({ message: 'An internal server error occurred.', type: 'server_error', code: 500, param: null, object: 'error' });
    } finally {
      await postJson(`${sim.url}/sim/faults`, { 'error-after': null });
    }
  });

  it('serves the native /generate, streamed and whole', async () => {
    const whole = await postJson(`${sim.url}/generate`, { prompt: 'The gateway', max_tokens: 8 });
    expect(whole.status).toBe(200);
    const body = whole.json as Json;
    expect(body).toMatchObject({ text: expect.any(String), meta_info: { completion_tokens: 8, finish_reason: { type: 'length' } } });
    expect(body.output_ids).toHaveLength(8);
    const streamed = await sseFrames(`${sim.url}/generate`, { prompt: 'The gateway', max_tokens: 8, stream: true });
    expect(streamed.frames.at(-1)).toBe('[DONE]');
    const parts = streamed.frames.slice(0, -1).map(parseFrame);
    expect(parts.map((p) => p.text).join('')).toBe(body.text);
    expect((parts.at(-1)?.meta_info as Json).finish_reason).toEqual({ type: 'length' });
    const both = await postJson(`${sim.url}/generate`, { prompt: 'x', input_ids: [1, 2] });
    expect(both.status).toBe(400);
    expect(both.json).toMatchObject({ message: 'You must specify exactly one of prompt or input_ids' });
    // async_engine.py preprocess: a prompt that fills the context is CONTEXT_LENGTH_EXCEEDED, an invalid request.
    const tooLong = await postJson(`${sim.url}/generate`, { input_ids: new Array(32768).fill(100), max_tokens: 4 });
    expect(tooLong.status).toBe(400);
    expect(tooLong.json).toEqual({ message: 'Input length (32768) must be smaller than the model context length (32768).',
      type: 'invalid_request_error', code: 400, param: null, object: 'error' });
  });

  it('uses the completions id quirk (str(session_id)) and serves /v1/models and JSON /health', async () => {
    const res = await postJson(`${sim.url}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 3 });
    expect(res.json).toMatchObject({ id: '-1', object: 'text_completion', choices: [{ index: 0, finish_reason: 'length' }] });
    const models = await (await fetch(`${sim.url}/v1/models`)).json();
    expect(models).toMatchObject({ object: 'list', data: [{ id: MODEL, owned_by: 'lmdeploy', root: MODEL }] });
    const health = await fetch(`${sim.url}/health`);
    expect(health.status).toBe(200);
    expect(await (await fetch(`${sim.url}/sim/info`)).json()).toMatchObject({ engine: 'lmdeploy', release: '0.16', simulated: true });
    expect(await health.json()).toEqual({ status: 'healthy', message: 'TurboMind engine is healthy.' });
  });

  it('exposes the lmdeploy:* metrics as parseable Prometheus text', async () => {
    const prom = await scrape(sim.url);
    const expected: Record<string, string> = {
      'lmdeploy:num_requests_running': 'gauge', 'lmdeploy:num_requests_waiting': 'gauge', 'lmdeploy:gpu_cache_usage_perc': 'gauge',
      'lmdeploy:prefix_cache_hit_rate': 'gauge', 'lmdeploy:num_requests_succeeded': 'gauge', 'lmdeploy:num_requests_failed': 'gauge',
      'lmdeploy:prompt_tokens_total': 'counter', 'lmdeploy:generation_tokens_total': 'counter', 'lmdeploy:request_success_total': 'counter',
      'lmdeploy:time_to_first_token_seconds': 'histogram', 'lmdeploy:time_per_output_token_seconds': 'histogram',
      'lmdeploy:e2e_request_latency_seconds': 'histogram', 'lmdeploy:request_queue_time_seconds': 'histogram',
      'lmdeploy:request_prefill_time_seconds': 'histogram', 'lmdeploy:request_decode_time_seconds': 'histogram',
      'lmdeploy:request_cached_tokens': 'histogram', 'lmdeploy:request_cache_hit_ratio': 'histogram',
    };
    for (const [name, type] of Object.entries(expected)) expect(prom.types.get(name), name).toBe(type);
    const finished = prom.samples.filter((s) => s.name === 'lmdeploy:request_success_total').map((s) => s.labels.finished_reason);
    expect(finished).toContain('ResponseType.FINISH');
    expect(prom.samples.find((s) => s.name === 'lmdeploy:generation_tokens_total')?.value).toBeGreaterThan(0);
  });
});

describe('LMDeploy face metrics (v0.16)', () => {
  const labels = { model_name: MODEL, engine: '0' };

  it('has every series at startup: histograms at zero, backend_config_info without labels, the cached-token counters', async () => {
    const fresh = await launch('lmdeploy');
    try {
      const prom = await scrape(fresh.url);
      // Info('lmdeploy:backend_config') whose .info() is never called: one sample, no labels.
      expect(prom.samples.filter((s) => s.name === 'lmdeploy:backend_config_info')).toEqual([{ name: 'lmdeploy:backend_config_info', labels: {}, value: 1 }]);
      const histograms = [...prom.types].filter(([, type]) => type === 'histogram').map(([name]) => name);
      expect(histograms).toEqual(expect.arrayContaining(['lmdeploy:request_cached_tokens', 'lmdeploy:request_prompt_tokens',
        'lmdeploy:time_to_first_token_seconds', 'lmdeploy:e2e_request_latency_seconds', 'lmdeploy:request_cache_hit_ratio']));
      for (const name of histograms) {
        expect(prom.samples.find((s) => s.name === `${name}_count`), name).toEqual({ name: `${name}_count`, labels, value: 0 });
        expect(prom.samples.find((s) => s.name === `${name}_sum`), name).toMatchObject({ labels, value: 0 });
      }
      expect(prom.samples.find((s) => s.name === 'lmdeploy:cached_tokens_total')).toEqual({ name: 'lmdeploy:cached_tokens_total', labels, value: 0 });
      expect(prom.samples.find((s) => s.name === 'lmdeploy:spec_decode_num_drafts_total')).toMatchObject({ labels, value: 0 });
      expect(prom.samples.filter((s) => s.name === 'lmdeploy:request_success_total')).toHaveLength(13);
      expect(prom.samples.some((s) => s.name.endsWith('_created'))).toBe(false);
    } finally {
      await fresh.close();
    }
  });

  it('reports prefix_cache_hit_rate as a lifetime ratio; the histogram sums give the interval rate', async () => {
    const fresh = await launch('lmdeploy');
    try {
      const chatOnce = async (content: string): Promise<void> => {
        const res = await postJson(`${fresh.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content }], max_tokens: 2 });
        expect(res.status).toBe(200);
      };
      const repeated = longText(400, 'lifetime-repeat');
      for (const salt of ['a', 'b', 'c']) await chatOnce(longText(400, `lifetime-miss-${salt}`));
      await chatOnce(repeated);
      const before = await scrape(fresh.url);
      await chatOnce(repeated);
      const after = await scrape(fresh.url);
      const delta = (name: string): number => metric(after, name) - metric(before, name);
      const interval = delta('lmdeploy:request_cached_tokens_sum') / delta('lmdeploy:request_prompt_tokens_sum');
      expect(interval).toBeGreaterThan(0.8);
      expect(delta('lmdeploy:cached_tokens_total')).toBe(delta('lmdeploy:request_cached_tokens_sum'));
      // Five prompts, one hit: the gauge still says mostly misses.
      const lifetime = metric(after, 'lmdeploy:prefix_cache_hit_rate');
      expect(lifetime).toBeGreaterThan(0);
      expect(lifetime).toBeLessThan(0.4);
    } finally {
      await fresh.close();
    }
  });
});
