import OpenAI from 'openai';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { MODEL, launch, longText, metric, parseFrame, postJson, scrape, sseFrames, timeToFirstContent, waitFor } from './helpers.js';
import type { Json } from './helpers.js';

let sim: SimServer;

beforeAll(async () => {
  sim = await launch('vllm');
});

afterAll(async () => {
  await sim?.close();
});

const chat = (content: string, extra: Json = {}): Json => ({ model: MODEL, messages: [{ role: 'user', content }], ...extra });

describe('vLLM face', () => {
  it('streams through the openai client exactly the text it answers whole (determinism)', async () => {
    const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'sk-sim' });
    const request = { model: MODEL, messages: [{ role: 'user' as const, content: 'Tell me about prefix caches.' }], max_tokens: 40, seed: 7 };
    const whole = await client.chat.completions.create(request);
    let streamed = '';
    let finish: string | null = null;
    const stream = await client.chat.completions.create({ ...request, stream: true });
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(whole.choices[0].message.content?.length).toBeGreaterThan(0);
    expect(streamed).toBe(whole.choices[0].message.content);
    expect(finish).toBe(whole.choices[0].finish_reason);
    expect(whole.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(whole.model).toBe(MODEL);
  });

  it('writes the role chunk first, the finish on the last delta, usage only when asked, then [DONE]', async () => {
    const plain = await sseFrames(`${sim.url}/v1/chat/completions`, chat('hi', { stream: true, max_tokens: 6 }));
    expect(plain.status).toBe(200);
    expect(plain.frames.at(-1)).toBe('[DONE]');
    const chunks = plain.frames.slice(0, -1).map(parseFrame);
    expect(chunks[0].choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
    const last = chunks.at(-1) as Json;
    expect(last.choices).toEqual([expect.objectContaining({ finish_reason: 'length', stop_reason: null })]);
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);

    // stream_options present: StreamOptions.include_usage defaults to true.
    const withUsage = await sseFrames(`${sim.url}/v1/chat/completions`, chat('hi', { stream: true, max_tokens: 6, stream_options: {} }));
    const usageChunk = parseFrame(withUsage.frames.at(-2) as string);
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toMatchObject({ completion_tokens: 6 });
    const off = await sseFrames(`${sim.url}/v1/chat/completions`, chat('hi', { stream: true, max_tokens: 6, stream_options: { include_usage: false } }));
    expect(off.frames.slice(0, -1).map(parseFrame).every((c) => !('usage' in c))).toBe(true);
  });

  it('ends at a stop string with stop_reason set and without the string', async () => {
    const first = await postJson(`${sim.url}/v1/chat/completions`, chat('stop test', { max_tokens: 30, seed: 3 }));
    const text = ((first.json as Json).choices as Json[])[0].message as Json;
    const words = String(text.content).trim().split(' ');
    const stop = ` ${words[3]}`;
    const res = await postJson(`${sim.url}/v1/chat/completions`, chat('stop test', { max_tokens: 30, seed: 3, stop: [stop] }));
    const choice = ((res.json as Json).choices as Json[])[0];
    expect(choice.finish_reason).toBe('stop');
    expect(choice.stop_reason).toBe(stop);
    expect(String((choice.message as Json).content)).toBe(String(text.content).slice(0, String(text.content).indexOf(stop)));
  });

  it('answers errors in the nested vLLM shape', async () => {
    const unknown = await postJson(`${sim.url}/v1/chat/completions`, { ...chat('x'), model: 'no-such-model' });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: { message: 'The model `no-such-model` does not exist.', type: 'NotFoundError', param: 'model', code: 404 } });

    const malformed = await postJson(`${sim.url}/v1/chat/completions`, '{"model": ');
    expect(malformed.status).toBe(400);
    expect(malformed.json).toMatchObject({ error: { type: 'Bad Request', code: 400 } });

    const options = await postJson(`${sim.url}/v1/chat/completions`, chat('x', { stream_options: { include_usage: true } }));
    expect(options.status).toBe(400);
    expect(JSON.stringify(options.json)).toContain('Stream options can only be defined when `stream=True`.');

    const n2 = await postJson(`${sim.url}/v1/chat/completions`, chat('x', { n: 2 }));
    expect(n2.status).toBe(400);
    expect(n2.json).toMatchObject({ error: { type: 'BadRequestError', code: 400 } });

    const tooLong = await postJson(`${sim.url}/v1/completions`, { model: MODEL, prompt: 'hello', max_tokens: 40_000 });
    expect(tooLong.status).toBe(400);
    expect(JSON.stringify(tooLong.json)).toContain("This model's maximum context length is 32768 tokens");
  });

  it('serves /v1/models, /tokenize, /health, /sim/info and x-sim-replica', async () => {
    const models = await fetch(`${sim.url}/v1/models`);
    expect(models.headers.get('x-sim-replica')).toBe('test-vllm');
    expect(await models.json()).toMatchObject({ object: 'list', data: [{ id: MODEL, owned_by: 'vllm', max_model_len: 32768 }] });
    const tokens = await postJson(`${sim.url}/tokenize`, { prompt: 'hello world' });
    expect(tokens.json).toMatchObject({ count: 2, max_model_len: 32768 });
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
    const info = await (await fetch(`${sim.url}/sim/info`)).json();
    expect(info).toMatchObject({ engine: 'vllm', release: '0.19', simulated: true, profile: 'a10-qwen2.5-7b-vllm', timeScale: 50, replica: 'test-vllm' });
    const streamed = await fetch(`${sim.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat('x', { stream: true, max_tokens: 2 })),
    });
    expect(streamed.headers.get('x-sim-replica')).toBe('test-vllm');
    await streamed.text();
  });

  it('exposes every vLLM metric as parseable Prometheus text', async () => {
    const prom = await scrape(sim.url);
    const expected: Record<string, string> = {
      'vllm:num_requests_running': 'gauge', 'vllm:num_requests_waiting': 'gauge', 'vllm:kv_cache_usage_perc': 'gauge',
      'vllm:cache_config_info': 'gauge', 'vllm:prefix_cache_queries_total': 'counter', 'vllm:prefix_cache_hits_total': 'counter',
      'vllm:num_preemptions_total': 'counter', 'vllm:prompt_tokens_total': 'counter', 'vllm:generation_tokens_total': 'counter',
      'vllm:request_success_total': 'counter', 'vllm:time_to_first_token_seconds': 'histogram',
      'vllm:inter_token_latency_seconds': 'histogram', 'vllm:request_time_per_output_token_seconds': 'histogram',
      'vllm:e2e_request_latency_seconds': 'histogram', 'vllm:request_queue_time_seconds': 'histogram',
      'vllm:request_prefill_time_seconds': 'histogram', 'vllm:request_decode_time_seconds': 'histogram',
    };
    for (const [name, type] of Object.entries(expected)) expect(prom.types.get(name), name).toBe(type);
    const running = prom.samples.find((s) => s.name === 'vllm:num_requests_running');
    expect(running?.labels).toEqual({ model_name: MODEL, engine: '0' });
    const info = prom.samples.find((s) => s.name === 'vllm:cache_config_info');
    expect(info?.labels).toMatchObject({ block_size: '16', enable_prefix_caching: 'True' });
    expect(info?.value).toBe(1);
    expect(prom.samples.some((s) => s.name === 'vllm:time_to_first_token_seconds_bucket' && s.labels.le === '2560')).toBe(true);
  });

  it('serves a shared ~2,000-token prefix from cache: TTFT falls after the first request, prefix hits rise', async () => {
    const system = longText(2000, 'shared-prefix');
    const ttfts: number[] = [];
    const hits: number[] = [];
    for (const question of ['What is a block?', 'Why cache?', 'Who routes?']) {
      const before = await scrape(sim.url);
      const res = await postJson(`${sim.url}/v1/chat/completions`, {
        model: MODEL, max_tokens: 4, messages: [{ role: 'system', content: system }, { role: 'user', content: question }],
      });
      expect(res.status).toBe(200);
      const after = await scrape(sim.url);
      const sum = (p: typeof after): number => metric(p, 'vllm:time_to_first_token_seconds_sum');
      ttfts.push(sum(after) - sum(before));
      hits.push(metric(after, 'vllm:prefix_cache_hits_total'));
    }
    expect(ttfts[1]).toBeLessThan(ttfts[0]);
    expect(ttfts[2]).toBeLessThan(ttfts[0]);
    expect(hits[1]).toBeGreaterThan(hits[0]);
    expect(hits[2]).toBeGreaterThan(hits[1]);
  });

  it('shows KV usage rising under 16 concurrent long requests and falling back after', async () => {
    const requests = Array.from({ length: 16 }, (_, i) => postJson(`${sim.url}/v1/completions`, {
      model: MODEL, prompt: longText(2500, `load-${i}`), max_tokens: 300, ignore_eos: true,
    }));
    let peak = 0;
    let settled = false;
    const all = Promise.all(requests).finally(() => (settled = true));
    while (!settled) {
      peak = Math.max(peak, metric(await scrape(sim.url), 'vllm:kv_cache_usage_perc'));
    }
    for (const res of await all) expect(res.status).toBe(200);
    const after = metric(await scrape(sim.url), 'vllm:kv_cache_usage_perc');
    expect(peak).toBeGreaterThan(0);
    expect(after).toBeLessThan(peak);
  });

  it('cancels the engine request when the client disconnects mid-stream', async () => {
    const abortsBefore = metric(await scrape(sim.url), 'vllm:request_success_total', { finished_reason: 'abort' });
    const controller = new AbortController();
    const res = await fetch(`${sim.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
      body: JSON.stringify(chat('a long answer please', { stream: true, max_tokens: 20_000, ignore_eos: true })),
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.read();
    await waitFor(async () => metric(await scrape(sim.url), 'vllm:num_requests_running') === 1);
    controller.abort();
    await waitFor(async () => metric(await scrape(sim.url), 'vllm:num_requests_running') === 0);
    await waitFor(async () => metric(await scrape(sim.url), 'vllm:request_success_total', { finished_reason: 'abort' }) === abortsBefore + 1);
  });

  it('cancels the engine request when the client of a non-streaming request disconnects', async () => {
    const abortsBefore = metric(await scrape(sim.url), 'vllm:request_success_total', { finished_reason: 'abort' });
    const controller = new AbortController();
    const pending = fetch(`${sim.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
      body: JSON.stringify(chat('a long answer please', { max_tokens: 20_000, ignore_eos: true })),
    }).catch((err: unknown) => err);
    await waitFor(async () => metric(await scrape(sim.url), 'vllm:num_requests_running') === 1);
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await waitFor(async () => metric(await scrape(sim.url), 'vllm:num_requests_running') === 0);
    await waitFor(async () => metric(await scrape(sim.url), 'vllm:request_success_total', { finished_reason: 'abort' }) === abortsBefore + 1);
  });
});

describe('vLLM face front-end overhead', () => {
  it('regression: by default a prefix hit shows in the TTFT a client sees (no fitted front-end overhead)', async () => {
    // The a10 vLLM profile's 1,121 ms overhead was fitted to xinference-fronted tables; slept on
    // every request it hid most of what a prefix hit saves.
    const slow = await launch('vllm', { timeScale: 2 });
    try {
      expect(await (await fetch(`${slow.url}/sim/info`)).json()).toMatchObject({ frontendOverheadMs: 0 });
      const system = longText(4000, 'overhead-regression');
      const ask = (question: string): Promise<number> => timeToFirstContent(`${slow.url}/v1/chat/completions`, {
        model: MODEL, stream: true, max_tokens: 2, messages: [{ role: 'system', content: system }, { role: 'user', content: question }],
      });
      const cold = await ask('What is a block?');
      const warm = await ask('Why cache?');
      expect(warm).toBeLessThan(cold / 3);
    } finally {
      await slow.close();
    }
  });

  it("--calibration-overhead sleeps the profile's fitted overhead before the engine", async () => {
    const calibrated = await launch('vllm', { calibrationOverhead: true });
    try {
      expect(await (await fetch(`${calibrated.url}/sim/info`)).json()).toMatchObject({ frontendOverheadMs: 1121 });
      const started = performance.now();
      const res = await postJson(`${calibrated.url}/v1/chat/completions`, chat('hi', { max_tokens: 1 }));
      expect(res.status).toBe(200);
      // 1,121 model ms at time scale 50.
      expect(performance.now() - started).toBeGreaterThanOrEqual(1121 / 50);
    } finally {
      await calibrated.close();
    }
  });
});

describe('vLLM face metrics at startup', () => {
  const labels = { model_name: MODEL, engine: '0' };
  const histograms = (prom: Awaited<ReturnType<typeof scrape>>): string[] =>
    [...prom.types].filter(([, type]) => type === 'histogram').map(([name]) => name);

  it('has every per-engine series before the first request: histograms at zero, request_success for each 0.19 finish reason', async () => {
    const fresh = await launch('vllm');
    try {
      const prom = await scrape(fresh.url);
      expect(histograms(prom)).toEqual(expect.arrayContaining(['vllm:time_to_first_token_seconds', 'vllm:inter_token_latency_seconds',
        'vllm:request_time_per_output_token_seconds', 'vllm:e2e_request_latency_seconds', 'vllm:request_queue_time_seconds',
        'vllm:request_inference_time_seconds', 'vllm:request_prefill_time_seconds', 'vllm:request_decode_time_seconds',
        'vllm:request_prompt_tokens', 'vllm:request_generation_tokens', 'vllm:request_params_max_tokens']));
      for (const name of histograms(prom)) {
        expect(prom.samples.find((s) => s.name === `${name}_count`), name).toEqual({ name: `${name}_count`, labels, value: 0 });
        expect(prom.samples.find((s) => s.name === `${name}_sum`), name).toMatchObject({ labels, value: 0 });
        const buckets = prom.samples.filter((s) => s.name === `${name}_bucket`);
        expect(buckets.length, name).toBeGreaterThan(1);
        expect(buckets.every((s) => s.value === 0), name).toBe(true);
      }
      for (const [name, type] of prom.types) {
        if (type === 'counter') expect(prom.samples.some((s) => s.name === name), name).toBe(true);
      }
      const reasons = prom.samples.filter((s) => s.name === 'vllm:request_success_total').map((s) => s.labels.finished_reason);
      expect(reasons.sort()).toEqual(['abort', 'error', 'length', 'repetition', 'stop']);
      // prometheus_client's _created samples: one gauge per counter and histogram series.
      expect(prom.types.get('vllm:prompt_tokens_created')).toBe('gauge');
      expect(metric(prom, 'vllm:time_to_first_token_seconds_created')).toBeGreaterThan(1.7e9);
      expect(prom.samples.filter((s) => s.name === 'vllm:request_success_created')).toHaveLength(5);
      expect(metric(prom, 'vllm:prompt_tokens_cached_total', labels)).toBe(0);
      expect(prom.types.has('vllm:gpu_cache_usage_perc')).toBe(false);
      expect(prom.types.has('vllm:gpu_prefix_cache_queries_total')).toBe(false);

      // The cached-prompt counter gives an interval hit rate with vllm:prompt_tokens_total.
      const prompt = longText(300, 'cached-counter');
      await postJson(`${fresh.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 2 });
      await postJson(`${fresh.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 2 });
      const after = await scrape(fresh.url);
      expect(metric(after, 'vllm:prompt_tokens_cached_total')).toBeGreaterThan(250);
      expect(metric(after, 'vllm:request_params_max_tokens_count')).toBe(2);
    } finally {
      await fresh.close();
    }
  });

  it('--release 0.10: the deprecated gpu_ names beside the new ones, time_per_output_token, and stop/length/abort only', async () => {
    const old = await launch('vllm', { release: '0.10', enableForceIncludeUsage: true });
    try {
      expect(await (await fetch(`${old.url}/sim/info`)).json()).toMatchObject({ engine: 'vllm', release: '0.10', simulated: true });
      const prompt = longText(300, 'release-0.10');
      await postJson(`${old.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 2 });
      await postJson(`${old.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 2 });
      const prom = await scrape(old.url);
      expect(prom.types.get('vllm:gpu_cache_usage_perc')).toBe('gauge');
      expect(prom.types.get('vllm:kv_cache_usage_perc')).toBe('gauge');
      expect(metric(prom, 'vllm:gpu_prefix_cache_queries_total')).toBe(metric(prom, 'vllm:prefix_cache_queries_total'));
      expect(metric(prom, 'vllm:gpu_prefix_cache_hits_total')).toBe(metric(prom, 'vllm:prefix_cache_hits_total'));
      expect(metric(prom, 'vllm:gpu_prefix_cache_hits_total')).toBeGreaterThan(0);
      expect(prom.types.get('vllm:time_per_output_token_seconds')).toBe('histogram');
      expect(prom.types.has('vllm:inter_token_latency_seconds')).toBe(false);
      expect(prom.types.has('vllm:prompt_tokens_cached_total')).toBe(false);
      const reasons = prom.samples.filter((s) => s.name === 'vllm:request_success_total').map((s) => s.labels.finished_reason);
      expect(reasons.sort()).toEqual(['abort', 'length', 'stop']);

      // Before #20983 the force flag only overrides include_usage=false, and needs stream_options.
      const bare = await sseFrames(`${old.url}/v1/chat/completions`, chat('hi', { stream: true, max_tokens: 3 }));
      expect(bare.frames.slice(0, -1).map(parseFrame).every((c) => !('usage' in c))).toBe(true);
      const overridden = await sseFrames(`${old.url}/v1/chat/completions`, chat('hi', { stream: true, max_tokens: 3, stream_options: { include_usage: false } }));
      const chunks = overridden.frames.slice(0, -1).map(parseFrame);
      expect(chunks.filter((c) => 'usage' in c)).toEqual([expect.objectContaining({ choices: [], usage: expect.objectContaining({ completion_tokens: 3 }) })]);

      // 0.10 writes an engine failure with create_streaming_error_response's defaults, and has no param on the 404.
      await postJson(`${old.url}/sim/faults`, { 'error-after': 2 });
      const failed = await sseFrames(`${old.url}/v1/chat/completions`, chat('hi', { stream: true, max_tokens: 10, ignore_eos: true }));
      expect(failed.frames.at(-2)).toBe('{"error": {"message": "EngineCore encountered an issue. See stack trace (above) for the root cause.", '
        + '"type": "BadRequestError", "param": null, "code": 400}}');
      expect(failed.frames.at(-1)).toBe('[DONE]');
      await postJson(`${old.url}/sim/faults`, { 'error-after': null });
      const unknown = await postJson(`${old.url}/v1/chat/completions`, { ...chat('x'), model: 'nope' });
      expect(unknown.json).toEqual({ error: { message: 'The model `nope` does not exist.', type: 'NotFoundError', param: null, code: 404 } });
    } finally {
      await old.close();
    }
  });
});

describe('vLLM face usage and mid-stream errors (0.19)', () => {
  it('leaves prompt_tokens_details out unless --enable-prompt-tokens-details AND a cached count: null whole, absent streamed', async () => {
    // The shared face runs without the flag: no details even on a hit.
    const prompt = longText(300, `details-off-${Date.now()}`);
    await postJson(`${sim.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 2 });
    const hitWithoutFlag = await postJson(`${sim.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 2 });
    expect((hitWithoutFlag.json as Json).usage).toMatchObject({ prompt_tokens_details: null });

    const detailed = await launch('vllm', { enablePromptTokensDetails: true });
    try {
      const fresh = longText(300, 'details-on');
      const miss = await postJson(`${detailed.url}/v1/completions`, { model: MODEL, prompt: fresh, max_tokens: 2 });
      expect((miss.json as Json).usage).toEqual({ prompt_tokens: expect.any(Number), total_tokens: expect.any(Number), completion_tokens: 2,
        prompt_tokens_details: null });
      const streamedMiss = await sseFrames(`${detailed.url}/v1/completions`, { model: MODEL, prompt: longText(300, 'details-on-2'), max_tokens: 2,
        stream: true, stream_options: { include_usage: true } });
      expect(parseFrame(streamedMiss.frames.at(-2) as string).usage).not.toHaveProperty('prompt_tokens_details');

      const hit = await postJson(`${detailed.url}/v1/completions`, { model: MODEL, prompt: fresh, max_tokens: 2 });
      const cached = ((hit.json as Json).usage as Json).prompt_tokens_details as Json;
      expect(cached.cached_tokens).toBeGreaterThan(250);
      const streamedHit = await sseFrames(`${detailed.url}/v1/completions`, { model: MODEL, prompt: fresh, max_tokens: 2,
        stream: true, stream_options: { include_usage: true } });
      expect(parseFrame(streamedHit.frames.at(-2) as string).usage).toMatchObject({ prompt_tokens_details: { cached_tokens: cached.cached_tokens } });
    } finally {
      await detailed.close();
    }
  });

  it('honours stream_options.continuous_usage_stats: running usage on every chunk, then the final usage chunk', async () => {
    const { frames } = await sseFrames(`${sim.url}/v1/chat/completions`,
      chat('hi', { stream: true, max_tokens: 4, ignore_eos: true, stream_options: { include_usage: true, continuous_usage_stats: true } }));
    const chunks = frames.slice(0, -1).map(parseFrame);
    const prompt = (chunks[0].usage as Json).prompt_tokens as number;
    expect(chunks[0]).toMatchObject({ choices: [{ delta: { role: 'assistant', content: '' } }] });
    expect(chunks[0].usage).toEqual({ prompt_tokens: prompt, total_tokens: prompt, completion_tokens: 0 });
    const running = chunks.slice(1, -1).map((c) => (c.usage as Json).completion_tokens);
    expect(running).toEqual([1, 2, 3, 4]);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: prompt, completion_tokens: 4, total_tokens: prompt + 4 } });

    const completion = await sseFrames(`${sim.url}/v1/completions`,
      { model: MODEL, prompt: 'hello', max_tokens: 2, ignore_eos: true, stream: true, stream_options: { continuous_usage_stats: true } });
    const first = parseFrame(completion.frames[0]);
    expect(first.usage).toEqual({ prompt_tokens: expect.any(Number), total_tokens: expect.any(Number), completion_tokens: 1, prompt_tokens_details: null });
  });

  it('--enable-force-include-usage: usage on every chunk even without stream_options', async () => {
    const forced = await launch('vllm', { enableForceIncludeUsage: true });
    try {
      const { frames } = await sseFrames(`${forced.url}/v1/chat/completions`, chat('hi', { stream: true, max_tokens: 3, ignore_eos: true }));
      const chunks = frames.slice(0, -1).map(parseFrame);
      expect(chunks.every((c) => typeof c.usage === 'object' && c.usage !== null)).toBe(true);
      expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 3 } });
    } finally {
      await forced.close();
    }
  });

  it('writes an engine failure after the 200 as json.dumps of the error, then [DONE]; whole requests get a 500', async () => {
    const errorsBefore = metric(await scrape(sim.url), 'vllm:request_success_total', { finished_reason: 'error' });
    await postJson(`${sim.url}/sim/faults`, { 'error-after': 3 });
    try {
      const { frames } = await sseFrames(`${sim.url}/v1/chat/completions`, chat('fail me', { stream: true, max_tokens: 50, ignore_eos: true }));
      expect(frames.at(-2)).toBe('{"error": {"message": "Internal server error", "type": "InternalServerError", "param": null, "code": 500}}');
      expect(frames.at(-1)).toBe('[DONE]');
      // The role chunk, three one-token chunks, the error, [DONE].
      expect(frames).toHaveLength(6);
      const whole = await postJson(`${sim.url}/v1/chat/completions`, chat('fail me', { max_tokens: 50, ignore_eos: true }));
      expect(whole.status).toBe(500);
      expect(whole.json).toEqual({ error: { message: 'Internal server error', type: 'InternalServerError', param: null, code: 500 } });
      await waitFor(async () => metric(await scrape(sim.url), 'vllm:request_success_total', { finished_reason: 'error' }) === errorsBefore + 2);

      // Failing before the first token: the error is the first frame, with no role chunk before it.
      await postJson(`${sim.url}/sim/faults`, { 'error-after': 0 });
      const early = await sseFrames(`${sim.url}/v1/chat/completions`, chat('fail me', { stream: true, max_tokens: 5 }));
      expect(early.frames).toHaveLength(2);
      expect(parseFrame(early.frames[0])).toMatchObject({ error: { code: 500 } });
    } finally {
      await postJson(`${sim.url}/sim/faults`, { 'error-after': null });
    }
  });
});
