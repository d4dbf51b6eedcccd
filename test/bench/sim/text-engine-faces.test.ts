/**
 * The faces of the engines that answer text (Triton's tensorrtllm_backend ensemble, TGI's native
 * API, DeepSpeed-MII's REST gateway): each speaks its engine's wire shapes, and every face takes
 * sim-only scripted answers (POST /sim/script).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSimArgs, SimArgsError } from '../../../bench/sim/options.js';
import type { SimServer } from '../../../bench/sim/server.js';
import { launch, parseFrame, postJson, sseFrames } from './helpers.js';
import type { Json } from './helpers.js';

describe('Triton tensorrtllm_backend face', () => {
  let sim: SimServer;
  beforeAll(async () => {
    sim = await launch('triton-trtllm', { profile: 'a10-qwen2.5-7b-trtllm', model: 'qwen' });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('answers the generate extension with the ensemble outputs, whole and streamed (no [DONE])', async () => {
    const whole = await postJson(`${sim.url}/v2/models/ensemble/generate`, { text_input: 'What is machine learning?', max_tokens: 5, bad_words: '', stop_words: '' });
    expect(whole.status).toBe(200);
    expect(whole.json).toMatchObject({ model_name: 'ensemble', model_version: '1', text_output: expect.any(String) });
    const streamed = await sseFrames(`${sim.url}/v2/models/qwen/generate_stream`, { text_input: 'hi', max_tokens: 4, stream: true });
    expect(streamed.frames.length).toBeGreaterThan(1);
    expect(streamed.frames).not.toContain('[DONE]');
    expect(streamed.frames.map((f) => parseFrame(f).text_output).join('').length).toBeGreaterThan(0);
  });

  it('answers generate_stream without stream: true as one event, and refuses a streaming request on generate', async () => {
    const one = await sseFrames(`${sim.url}/v2/models/ensemble/generate_stream`, { text_input: 'hi', max_tokens: 4 });
    expect(one.frames).toHaveLength(1);
    expect(String(parseFrame(one.frames[0]).text_output).length).toBeGreaterThan(0);
    const refused = await postJson(`${sim.url}/v2/models/ensemble/generate`, { text_input: 'hi', max_tokens: 4, stream: true });
    expect(refused.status).toBe(500);
    expect((refused.json as Json).error).toContain('expected a single response');
  });

  it("refuses as Triton does: {\"error\": ...}, unknown models and inputs, a missing max_tokens", async () => {
    expect((await postJson(`${sim.url}/v2/models/nope/generate`, { text_input: 'hi', max_tokens: 2 })).status).toBe(400);
    const missing = await postJson(`${sim.url}/v2/models/ensemble/generate`, { text_input: 'hi' });
    expect(missing.status).toBe(400);
    expect((missing.json as Json).error).toContain('max_tokens');
    expect(((await postJson(`${sim.url}/v2/models/ensemble/generate`, { text_input: 'hi', max_tokens: 2, bogus: 1 })).json as Json).error).toContain('bogus');
  });

  it('serves readiness and the backend\'s Prometheus gauges on the metrics port', async () => {
    expect((await fetch(`${sim.url}/v2/health/ready`)).status).toBe(200);
    const text = await (await fetch(sim.metricsUrl!)).text();
    expect(text).toMatch(/nv_trt_llm_request_metrics\{model="tensorrt_llm",request_type="active",version="1"\} \d+/);
    expect(text).toMatch(/nv_trt_llm_kv_cache_block_metrics\{model="tensorrt_llm",kv_cache_block_type="tokens_per",version="1"\} \d+/);
  });

  it('adds the KV-cache block counts to the final response when asked, and only then', async () => {
    const prompt = `${'blocks of cached attention keys and values '.repeat(30)}${Date.now()}`;
    const ask = () => postJson(`${sim.url}/v2/models/ensemble/generate`, { text_input: prompt, max_tokens: 2, return_kv_cache_reuse_stats: true });
    expect((await ask()).json).toMatchObject({ kv_cache_reused_blocks: 0, kv_cache_alloc_total_blocks: expect.any(Number) });
    expect(((await ask()).json as Json).kv_cache_reused_blocks).toBeGreaterThan(0);
    const streamed = await sseFrames(`${sim.url}/v2/models/ensemble/generate_stream`, { text_input: prompt, max_tokens: 3, stream: true, return_kv_cache_reuse_stats: true });
    const events = streamed.frames.map(parseFrame);
    expect(events.slice(0, -1).every((e) => !('kv_cache_reused_blocks' in e))).toBe(true);
    expect(events.at(-1)?.kv_cache_reused_blocks).toBeGreaterThan(0);
    expect('kv_cache_reused_blocks' in ((await postJson(`${sim.url}/v2/models/ensemble/generate`, { text_input: 'hi', max_tokens: 2 })).json as Json)).toBe(false);
  });

  it('keeps a stop word in the text, as TensorRT-LLM does', async () => {
    await postJson(`${sim.url}/sim/script`, { answers: ['one two STOP three'] });
    const res = await postJson(`${sim.url}/v2/models/ensemble/generate`, { text_input: 'hi', max_tokens: 20, stop_words: ['STOP'] });
    expect((res.json as Json).text_output).toBe('one two STOP');
  });
});

describe('TGI face', () => {
  let sim: SimServer;
  beforeAll(async () => {
    sim = await launch('tgi', { profile: 'a10-qwen2.5-7b-vllm' });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('answers /generate with details and /generate_stream with token events, the last with the text and details', async () => {
    const whole = await postJson(`${sim.url}/generate`, { inputs: 'hello', parameters: { max_new_tokens: 4, details: true } });
    expect(whole.status).toBe(200);
    const details = (whole.json as Json).details as Json;
    expect(details).toMatchObject({ finish_reason: 'length', generated_tokens: 4, prefill: [] });
    expect((details.tokens as Json[]).length).toBe(4);
    const streamed = await sseFrames(`${sim.url}/generate_stream`, { inputs: 'hello', parameters: { max_new_tokens: 3, details: true } });
    const events = streamed.frames.map(parseFrame);
    expect(events.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(events[0]).toMatchObject({ token: { id: expect.any(Number), text: expect.any(String), special: false }, generated_text: null, details: null });
    expect(events[2].generated_text).toBe(events.map((e) => (e.token as Json).text).join(''));
    expect(events[2].details).toMatchObject({ finish_reason: 'length', generated_tokens: 3, input_length: expect.any(Number) });
  });

  it('refuses with {"error", "error_type"}: 422 on /generate, an error event after a 200 on /generate_stream', async () => {
    const whole = await postJson(`${sim.url}/generate`, { inputs: 'hello', parameters: { temperature: 0 } });
    expect(whole.status).toBe(422);
    expect(whole.json).toEqual({ error: 'Input validation error: `temperature` must be strictly positive', error_type: 'validation' });
    const streamed = await sseFrames(`${sim.url}/generate_stream`, { inputs: 'hello', parameters: { stop: ['a', 'b', 'c', 'd', 'e'] } });
    expect(streamed.status).toBe(200);
    expect(parseFrame(streamed.frames[0])).toMatchObject({ error_type: 'validation' });
  });

  it('serves /health, /info and its queue gauges', async () => {
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
    expect(await (await fetch(`${sim.url}/info`)).json()).toMatchObject({ max_stop_sequences: 4, router: 'text-generation-router' });
    expect(await (await fetch(`${sim.url}/metrics`)).text()).toMatch(/tgi_queue_size \d+\n[^]*tgi_batch_current_size \d+/);
  });
});

describe('DeepSpeed-MII face', () => {
  let sim: SimServer;
  beforeAll(async () => {
    sim = await launch('deepspeed-mii', { profile: 'a10-qwen2.5-7b-vllm', model: 'mistral-deployment' });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('answers POST /mii/{deployment} with a list of responses, and 500s what Flask-RESTful hides', async () => {
    const res = await postJson(`${sim.url}/mii/mistral-deployment`, { prompts: ['DeepSpeed is'], max_new_tokens: 5 });
    expect(res.status).toBe(200);
    expect(res.json).toEqual([{ finish_reason: 'length', generated_length: 5, generated_text: expect.any(String), prompt_length: expect.any(Number) }]);
    const extra = await postJson(`${sim.url}/mii/mistral-deployment`, { prompts: 'hi', surely_not_a_keyword: 1 });
    expect(extra.status).toBe(500);
    expect(extra.json).toEqual({ message: 'Internal Server Error' });
    expect((await postJson(`${sim.url}/mii/other`, { prompts: 'hi' })).status).toBe(404);
    expect(await (await fetch(`${sim.url}/healthz`)).text()).toBe('ok');
  });

  it('answers a sim-only scripted text', async () => {
    expect((await postJson(`${sim.url}/sim/script`, { answers: ['scripted words'] })).json).toEqual({ queued: 1, simulated: true });
    expect(((await postJson(`${sim.url}/mii/mistral-deployment`, { prompts: 'hi', max_new_tokens: 20 })).json as Json[])[0]).toMatchObject({ generated_text: 'scripted words', finish_reason: 'stop' });
    expect((await postJson(`${sim.url}/sim/script`, { answers: 'not a list' })).status).toBe(400);
  });
});

it('parses --engine for the text faces, and --metrics-port for Triton only', () => {
  expect(parseSimArgs(['--engine', 'triton-trtllm', '--profile', 'p']).metricsPort).toBe(8002);
  expect(parseSimArgs(['--engine', 'triton-trtllm', '--profile', 'p', '--port', '0']).metricsPort).toBe(0);
  expect(parseSimArgs(['--engine', 'tgi', '--profile', 'p']).port).toBe(3000);
  expect(parseSimArgs(['--engine', 'deepspeed-mii', '--profile', 'p']).port).toBe(51080);
  expect(() => parseSimArgs(['--engine', 'tgi', '--profile', 'p', '--metrics-port', '9'])).toThrow(SimArgsError);
});
