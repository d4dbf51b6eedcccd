import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { MODEL, launch, longText, metric, parseFrame, parsePrometheus, postJson, sseFrames, waitFor } from './helpers.js';
import type { Json, PromText } from './helpers.js';

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
    // _ensure_stream_metadata: one id (the executor's request id) and one created for the stream.
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(String(chunks[0].id)).toMatch(/^chatcmpl-\d+$/);
    expect(new Set(chunks.map((c) => c.created)).size).toBe(1);

    const withUsage = await sseFrames(`${sim.url}/v1/chat/completions`, chat({ stream: true, stream_options: {} }));
    const usageChunks = withUsage.frames.slice(0, -1).map(parseFrame);
    const usage = usageChunks.at(-1) as Json;
    // The final usage chunk is model_dump_json(): every field, the cached count from the engine.
    expect(usage).toEqual({ id: usageChunks[0].id, object: 'chat.completion.chunk', created: usageChunks[0].created, model: MODEL, choices: [],
      usage: { prompt_tokens: expect.any(Number), total_tokens: expect.any(Number), completion_tokens: 6, prompt_tokens_details: { cached_tokens: expect.any(Number) } } });
    expect(usageChunks.slice(0, -1).every((c) => !('usage' in c))).toBe(true);
  });

  it('reports the cached prompt tokens of a prefix hit in the final usage chunk', async () => {
    const prompt = longText(300, `trtllm-cached-${Date.now()}`);
    const ask = (): Promise<{ frames: string[] }> => sseFrames(`${sim.url}/v1/chat/completions`,
      { model: MODEL, messages: [{ role: 'user', content: prompt }], max_tokens: 2, stream: true, stream_options: { include_usage: true } });
    const cached = async (): Promise<number> => (((parseFrame((await ask()).frames.at(-2) as string).usage as Json).prompt_tokens_details as Json).cached_tokens as number);
    const first = await cached();
    const second = await cached();
    expect(second).toBeGreaterThan(first);
    expect(second).toBeGreaterThan(250);
  });

  it('honours continuous_usage_stats: running usage with cached tokens on every chunk, the role chunk included', async () => {
    const { frames, raw } = await sseFrames(`${sim.url}/v1/chat/completions`,
      chat({ stream: true, max_tokens: 3, ignore_eos: true, stream_options: { continuous_usage_stats: true } }));
    expect(raw).toMatch(/^data: \{.*\} \n\n/);
    const chunks = frames.slice(0, -1).map(parseFrame);
    const prompt = (chunks[0].usage as Json).prompt_tokens as number;
    expect(chunks[0].usage).toEqual({ prompt_tokens: prompt, total_tokens: prompt, completion_tokens: 0, prompt_tokens_details: { cached_tokens: expect.any(Number) } });
    expect(chunks.slice(1, -1).map((c) => (c.usage as Json).completion_tokens)).toEqual([1, 2, 3]);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 3, total_tokens: prompt + 3 } });

    const completion = await sseFrames(`${sim.url}/v1/completions`,
      { model: MODEL, prompt: 'hello', max_tokens: 2, ignore_eos: true, stream: true, stream_options: { continuous_usage_stats: true } });
    const parts = completion.frames.slice(0, -1).map(parseFrame);
    expect(new Set(parts.map((c) => c.id)).size).toBe(1);
    expect(String(parts[0].id)).toMatch(/^cmpl-\d+$/);
    expect(parts[0].usage).toMatchObject({ completion_tokens: 1, prompt_tokens_details: { cached_tokens: expect.any(Number) } });
    // The final usage chunk of /v1/completions is a CompletionStreamResponse.
    expect(parts.at(-1)).toMatchObject({ object: 'text_completion', choices: [], usage: { completion_tokens: 2 } });
  });

  it('drops the stream when the engine fails mid-way (no error frame, no [DONE]); a whole request gets its 400', async () => {
    await postJson(`${sim.url}/sim/faults`, { 'error-after': 2 });
    try {
      let raw = '';
      try {
        raw = (await sseFrames(`${sim.url}/v1/chat/completions`, chat({ stream: true, max_tokens: 20, ignore_eos: true }))).raw;
      } catch {
        // the connection was cut
      }
      expect(raw).not.toContain('[DONE]');
      expect(raw).not.toContain('"error"');
      const whole = await postJson(`${sim.url}/v1/chat/completions`, chat({ max_tokens: 20, ignore_eos: true }));
      expect(whole.status).toBe(400);
      expect(whole.json).toMatchObject({ object: 'error', type: 'BadRequestError', code: 400 });
    } finally {
      await postJson(`${sim.url}/sim/faults`, { 'error-after': null });
    }
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
    expect(await (await fetch(`${sim.url}/sim/info`)).json()).toMatchObject({ engine: 'trtllm-serve', release: '1.2', simulated: true });
    // No return_perf_metrics: no Prometheus page.
    expect((await fetch(`${sim.url}/prometheus/metrics`)).status).toBe(404);
  });
});

describe('trtllm-serve face with --return-perf-metrics', () => {
  const labels = { engine_type: 'undefined', model_name: 'undefined' };
  const scrapeProm = async (url: string): Promise<PromText> => {
    const res = await fetch(`${url}/prometheus/metrics`);
    expect(res.status).toBe(200);
    return parsePrometheus(await res.text());
  };

  it('serves /prometheus/metrics as the multiprocess collector writes it; GET /metrics still drains every iteration', async () => {
    const perf = await launch('trtllm-serve', { returnPerfMetrics: true });
    try {
      // At startup only the eagerly labelled counter has a sample.
      const empty = await scrapeProm(perf.url);
      expect(empty.samples).toEqual([{ name: 'trtllm_prompt_cached_tokens_total', labels, value: 0 }]);

      const prompt = longText(300, 'trtllm-prometheus');
      for (let i = 0; i < 2; i++) {
        const res = await postJson(`${perf.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 3 });
        expect(res.status).toBe(200);
      }
      let prom = empty;
      await waitFor(async () => {
        prom = await scrapeProm(perf.url);
        return metric(prom, 'trtllm_request_success_total') === 2 && prom.samples.some((s) => s.name === 'trtllm_kv_cache_reused_blocks_total');
      });
      expect(prom.samples.find((s) => s.name === 'trtllm_request_success_total')?.labels).toEqual({ ...labels, finished_reason: 'length' });
      expect(metric(prom, 'trtllm_prompt_cached_tokens_total')).toBeGreaterThan(250);
      expect(metric(prom, 'trtllm_kv_cache_reused_blocks_total')).toBeGreaterThan(0);
      expect(metric(prom, 'trtllm_kv_cache_missed_blocks_total')).toBeGreaterThan(0);
      expect(metric(prom, 'trtllm_kv_cache_tokens_per_block')).toBe(32);
      expect(metric(prom, 'trtllm_kv_cache_max_blocks')).toBeGreaterThan(0);
      expect(metric(prom, 'trtllm_time_to_first_token_seconds_count')).toBe(2);
      // Gauges carry the writing process's pid (multiprocess_mode "all"); every HELP is the collector's.
      const running = prom.samples.find((s) => s.name === 'trtllm_num_requests_running');
      expect(running?.labels).toEqual({ ...labels, pid: expect.stringMatching(/^\d+$/) });
      for (const name of ['trtllm_num_requests_waiting', 'trtllm_kv_cache_utilization', 'trtllm_kv_cache_hit_rate']) {
        expect(prom.types.get(name), name).toBe('gauge');
      }
      expect(prom.types.get('trtllm_kv_cache_reused_blocks_total')).toBe('counter');
      const text = await (await fetch(`${perf.url}/prometheus/metrics/`)).text();
      expect(text.split('\n').filter((l) => l.startsWith('# HELP')).every((l) => l.endsWith(' Multiprocess metric'))).toBe(true);

      const stats = await (await fetch(`${perf.url}/metrics`)).json() as Json[];
      expect(stats.length).toBeGreaterThan(1);
      expect(await (await fetch(`${perf.url}/metrics`)).json()).toEqual([]);
    } finally {
      await perf.close();
    }
  });
});
