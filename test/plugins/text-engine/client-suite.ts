/**
 * What the official openai client gets through a gateway from a text-engine backend (triton-trtllm,
 * tgi, deepspeed-mii) on its emulated face: chat streamed and not, usage that matches the model's
 * tokenizer on the rendered prompt and on the answer, tool calls parsed from a scripted answer
 * (the faces' sim-only POST /sim/script), stop strings cut, and refusals as OpenAI errors.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSimDefaults, type SimOptions } from '../../../bench/sim/options.js';
import { startSim, type SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { Tokenizer } from '../../../core/tokenizer/tokenizer.js';
import { startTestGateway } from '../../core/server/gateway-helpers.js';
import { WEATHER_TOOL } from './fixtures.js';

/** One face shared by a file's suites (starting one costs seconds): closed when the last lets go. */
export class SharedFace {
  private started?: Promise<SimServer>;
  private users = 0;

  constructor(private readonly engine: SimOptions['engine'], private readonly profile: string) {}

  async acquire(): Promise<SimServer> {
    this.users++;
    this.started ??= startFace(this.engine, this.profile);
    return this.started;
  }

  async release(): Promise<void> {
    if (--this.users > 0 || !this.started) return;
    const sim = await this.started;
    this.started = undefined;
    await sim.close();
  }
}

export interface ClientSuiteTarget {
  type: 'triton-trtllm' | 'tgi' | 'deepspeed-mii';
  face: SharedFace;
  /** The engine streams (MII's REST gateway does not: its streamed answer comes in one go). */
  streams: boolean;
  /**
   * The engine reports its own completion count, which includes the end-of-sequence token it
   * generated (TGI, MII); else the plugin counts the answer's text (Triton), which has none.
   */
  reportsCompletionTokens: boolean;
  /** The engine says how many prompt tokens its KV cache served (Triton's kv_cache_reused_blocks). */
  reportsCachedTokens: boolean;
  /** The engine refuses a prompt + max_tokens past its context with a message of its own (MII shortens the budget instead). */
  refusesPastContext: boolean;
  /** The backend's options, given the started face. */
  options(sim: SimServer): Record<string, unknown>;
}

export const MODEL = 'qwen2.5-7b-instruct';

const weatherTool = WEATHER_TOOL as OpenAI.ChatCompletionTool;
const TOOL_CALL = '<tool_call>\n{"name": "get_current_weather", "arguments": {"location": "Beijing"}}\n</tool_call>';

export function startFace(engine: SimOptions['engine'], profile: string, model = MODEL): Promise<SimServer> {
  // Tokenized inline: short prompts, and a worker thread per face costs seconds to start.
  return startSim(withSimDefaults({ engine, profile, port: 0, timeScale: 50, model, frontendOverheadMs: 0, tokenizerThreads: 0 }));
}

/** Sim-only: the face's next answers, in order. */
export async function script(sim: SimServer, ...answers: string[]): Promise<void> {
  const res = await fetch(`${sim.url}/sim/script`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ answers }) });
  expect(res.status).toBe(200);
}

export function runClientSuite(target: ClientSuiteTarget): void {
  describe(`the openai client through the gateway to type: ${target.type} (emulated face)`, () => {
    let sim: SimServer;
    let gw: Gateway;
    let client: OpenAI;
    const tokenizer = Tokenizer.qwenDefault();
    const count = (text: string): number => tokenizer.encode(text, { addSpecialTokens: false }).length;
    const promptTokens = (messages: OpenAI.ChatCompletionMessageParam[], tools?: unknown[]): number =>
      count(tokenizer.applyChatTemplate(messages as Parameters<Tokenizer['applyChatTemplate']>[0], { addGenerationPrompt: true, tools }));

    beforeAll(async () => {
      sim = await target.face.acquire();
      gw = await startTestGateway({
        listen: { host: '127.0.0.1', port: 0 },
        backends: [{ id: 'engine', type: target.type, url: sim.url, models: [MODEL], tokenizer_parallelism: 0, ...target.options(sim) }],
        routes: [{ model: MODEL, backends: ['engine'] }],
      });
      client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    });
    afterAll(async () => {
      await gw?.drain();
      await target.face.release();
    });

    it('answers a chat with usage counted by the model tokenizer: the rendered prompt, the answer', async () => {
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Tell me about KV caches.' }];
      const res = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 7 });
      const content = res.choices[0].message.content ?? '';
      expect(content.length).toBeGreaterThan(0);
      expect(res.choices[0].finish_reason).toBe('length');
      expect(res.usage?.prompt_tokens).toBe(promptTokens(messages));
      expect(res.usage?.completion_tokens).toBe(7);
      expect(count(content)).toBe(7);
      expect(res.usage?.total_tokens).toBe(promptTokens(messages) + 7);
      // An engine that does not say what its cache served: no cached count rather than a false 0.
      if (!target.reportsCachedTokens) expect(res.usage?.prompt_tokens_details).toBeUndefined();
      else expect(res.usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThanOrEqual(0);
    });

    if (target.reportsCachedTokens) {
      it("reports the prompt tokens the engine's KV cache served, streamed and not", async () => {
        const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: `${'The cache keeps attention keys and values for every block. '.repeat(40)}${Date.now()}` }];
        const first = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 2 });
        const again = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 2 });
        const cached = again.usage?.prompt_tokens_details?.cached_tokens ?? 0;
        expect(first.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
        expect(cached).toBeGreaterThan(0);
        expect(cached).toBeLessThanOrEqual(again.usage!.prompt_tokens);
        const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 2, stream: true, stream_options: { include_usage: true } });
        let usage: OpenAI.CompletionUsage | undefined;
        for await (const chunk of stream) usage = chunk.usage ?? usage;
        expect(usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0);
      });
    }

    it(`streams a chat${target.streams ? '' : ' (in one go: the engine answers whole)'} with usage last`, async () => {
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Write about the sea.' }];
      const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 6, stream: true, stream_options: { include_usage: true } });
      let text = '';
      let contentChunks = 0;
      let finish: string | null = null;
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        const piece = chunk.choices[0]?.delta?.content ?? '';
        if (piece !== '') contentChunks++;
        text += piece;
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
      expect(finish).toBe('length');
      expect(usage?.prompt_tokens).toBe(promptTokens(messages));
      expect(usage?.completion_tokens).toBe(6);
      expect(count(text)).toBe(6);
      // An engine that streams sends its tokens as they come; MII's whole answer is one chunk.
      if (target.streams) expect(contentChunks).toBeGreaterThan(1);
      else expect(contentChunks).toBe(1);
    });

    it('completes a prompt (the completions endpoint) with usage', async () => {
      const res = await client.completions.create({ model: MODEL, prompt: 'The engine keeps a cache of', max_tokens: 5 });
      expect(res.choices[0].text.length).toBeGreaterThan(0);
      expect(res.usage?.prompt_tokens).toBe(count('The engine keeps a cache of'));
      expect(res.usage?.completion_tokens).toBe(5);
    });

    it('parses a tool call from the answer, whole and streamed, and cuts the answer at a stop string', async () => {
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: "What's the weather like in Beijing today?" }];
      await script(sim, TOOL_CALL, TOOL_CALL);
      const first = await client.chat.completions.create({ model: MODEL, messages, tools: [weatherTool] });
      const choice = first.choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      const call = choice.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
      expect(call.id).toMatch(/^call_/);
      expect(call.function.name).toBe('get_current_weather');
      expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Beijing' });
      // Usage covers the tools in the rendered prompt and the whole answer the engine wrote.
      expect(first.usage?.prompt_tokens).toBe(promptTokens(messages, [weatherTool]));
      expect(first.usage?.completion_tokens).toBe(count(TOOL_CALL) + (target.reportsCompletionTokens ? 1 : 0));

      const stream = await client.chat.completions.create({ model: MODEL, messages, tools: [weatherTool], stream: true });
      let name = '';
      let args = '';
      let finish: string | null = null;
      for await (const chunk of stream) {
        for (const tc of chunk.choices[0]?.delta?.tool_calls ?? []) {
          name += tc.function?.name ?? '';
          args += tc.function?.arguments ?? '';
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(name).toBe('get_current_weather');
      expect(JSON.parse(args)).toEqual({ location: 'Beijing' });
      expect(finish).toBe('tool_calls');

      messages.push(choice.message, { role: 'tool', tool_call_id: call.id, content: '{"weather": "sunny"}' });
      await script(sim, 'The weather in Beijing is sunny. STOPHERE and more');
      const second = await client.chat.completions.create({ model: MODEL, messages, tools: [weatherTool], stop: ['STOPHERE'] });
      expect(second.choices[0].finish_reason).toBe('stop');
      expect(second.choices[0].message.content).toBe('The weather in Beijing is sunny. ');
    });

    if (target.refusesPastContext) {
      it("passes the engine's refusal on as an OpenAI error with the engine's message, streamed or not", async () => {
        for (const stream of [false, true]) {
          const res = await fetch(`${gw.url}/v1/chat/completions`, {
            method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 10_000_000, stream }),
          });
          expect(res.status, `stream: ${stream}`).toBe(400);
          const body = await res.json() as { error: { message: string; type: string } };
          expect(body.error.message).toMatch(/max|exceed/i);
        }
      });
    }

    it('ends an answer the engine fails midway with an error, and answers a later request', async () => {
      const faults = (patch: unknown) => fetch(`${sim.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) });
      expect((await faults({ errorAfter: 2 })).status).toBe(200);
      try {
        // Streamed by the engine: the gateway's error event after the first tokens; answered whole
        // (MII): the engine's 500 before any byte.
        await expect((async () => {
          const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 20, stream: true });
          for await (const chunk of stream) void chunk;
        })()).rejects.toThrow(target.streams ? /stream|interrupted|failed/i : /500|Internal Server Error/);
      } finally {
        await faults({ errorAfter: null });
      }
      const res = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
      expect(res.usage?.completion_tokens).toBe(2);
    });

    it('answers 400 naming the field for a field the engine cannot take', async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, top_k: 1.5 }),
      });
      expect(res.status).toBe(400);
      const body = await res.json() as { error: { message: string } };
      expect(body.error.message).toContain('top_k');
    });
  });
}
