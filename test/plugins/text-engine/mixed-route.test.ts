/**
 * Text engines beside an OpenAI-speaking engine on one route: a vLLM replica, a Triton replica and
 * a TGI replica (emulated faces) behind one model name; every answer is the same OpenAI shape
 * with usage, whichever engine served it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { startTestGateway } from '../../core/server/gateway-helpers.js';
import { MODEL, startFace } from './client-suite.js';

let faces: SimServer[] = [];
let gw: Gateway;

beforeAll(async () => {
  faces = await Promise.all([startFace('vllm', 'a10-qwen2.5-7b-vllm'), startFace('triton-trtllm', 'a10-qwen2.5-7b-trtllm'), startFace('tgi', 'a10-qwen2.5-7b-vllm')]);
  const [vllm, triton, tgi] = faces;
  gw = await startTestGateway({
    listen: { host: '127.0.0.1', port: 0 },
    backends: [
      { id: 'vllm', type: 'vllm', url: vllm.url, models: [MODEL] },
      { id: 'triton', type: 'triton-trtllm', url: triton.url, models: [MODEL], metrics_url: triton.metricsUrl, tokenizer_parallelism: 0 },
      { id: 'tgi', type: 'tgi', url: tgi.url, models: [MODEL], tokenizer_parallelism: 0 },
    ],
    routes: [{ model: MODEL, backends: ['vllm', 'triton', 'tgi'], policy: { type: 'round-robin' } }],
  });
});
afterAll(async () => {
  await gw?.drain();
  await Promise.all(faces.map((f) => f.close()));
});

it('serves one model from vLLM, Triton and TGI replicas in turn, with the same answer shape and usage', async () => {
  const served: string[] = [];
  const prompts = new Set<number>();
  for (let i = 0; i < 6; i++) {
    const stream = i % 2 === 1;
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Tell me about KV caches.' }], max_tokens: 5, stream, stream_options: stream ? { include_usage: true } : undefined }),
    });
    expect(res.status).toBe(200);
    served.push(res.headers.get('x-switchyard-backend') ?? '');
    const text = await res.text();
    const usage = stream
      ? (JSON.parse(text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => e.slice(6)).at(-1)!) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage
      : (JSON.parse(text) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    expect(usage.completion_tokens).toBe(5);
    prompts.add(usage.prompt_tokens);
    if (stream) expect(text.trim().endsWith('data: [DONE]')).toBe(true);
  }
  expect([...served].sort()).toEqual(['tgi', 'tgi', 'triton', 'triton', 'vllm', 'vllm']);
  // The engines render the same chat template with the same tokenizer: one prompt count.
  expect(prompts.size).toBe(1);
});
