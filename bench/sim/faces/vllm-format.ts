/**
 * How the vLLM face writes a generation: chat and completion chunks, usage, whole bodies, as
 * vllm/entrypoints/openai/serving_chat.py and serving_completion.py do (chat_completion/serving.py
 * and completion/serving.py in newer trees).
 */
import type { GenerationChunk, GenerationStream } from '../generation.js';
import { SSE_DONE, sseData } from '../sse.js';
import { optBool, pyJson, unixNow } from './common.js';
import type { Body } from './common.js';
import type { VllmRelease } from './releases.js';
import type { GenerationFormat } from './serve.js';

/** Usage in a stream: a final usage chunk, and (continuous) usage on every chunk too. */
export interface StreamUsage {
  final: boolean;
  continuous: boolean;
}

/**
 * vllm/entrypoints/utils.py should_include_usage. StreamOptions.include_usage defaults to true
 * once stream_options is present. --enable-force-include-usage forces usage on every chunk in
 * newer releases; older ones only let it override `include_usage: false` when stream_options
 * is present (no stream_options, no usage).
 */
export function streamUsage(options: Body | undefined, force: boolean, release: VllmRelease): StreamUsage {
  if (force && release.forcedUsageOnEveryChunk) return { final: true, continuous: true };
  if (options === undefined) return { final: false, continuous: false };
  // `bool(stream_options.include_usage)`: an explicit null is false.
  const asked = options.include_usage === undefined ? true : optBool(options, 'include_usage') === true;
  const final = asked || force;
  return { final, continuous: final && optBool(options, 'continuous_usage_stats') === true };
}

export interface VllmFormatOptions {
  id: string;
  model: string;
  stream: boolean;
  usage: StreamUsage;
  /** --enable-prompt-tokens-details */
  promptTokensDetails: boolean;
}

type Usage = Record<string, unknown>;

/**
 * The final UsageInfo. `prompt_tokens_details` only with --enable-prompt-tokens-details AND a
 * non-zero cached count (`if self.enable_prompt_tokens_details and num_cached_tokens:`), so a miss
 * looks like "not reported": `null` in a whole body (model_dump), absent in a stream (exclude_none).
 */
function finalUsage(s: GenerationStream, promptTokensDetails: boolean, whole: boolean): Usage {
  const details = promptTokensDetails && s.cachedTokens > 0 ? { cached_tokens: s.cachedTokens } : whole ? null : undefined;
  return { prompt_tokens: s.promptTokens, total_tokens: s.promptTokens + s.completionTokens, completion_tokens: s.completionTokens,
    prompt_tokens_details: details };
}

/** Continuous usage: prompt and completion so far, never the cached details. */
function runningUsage(s: GenerationStream, completionTokens: number): Usage {
  return { prompt_tokens: s.promptTokens, total_tokens: s.promptTokens + completionTokens, completion_tokens: completionTokens };
}

/** A stream that ended in the engine's own error: the error frame went out instead of its last chunk. */
function failed(s: GenerationStream): boolean {
  return s.finish?.reason === 'error';
}

export function vllmChatFormat(o: VllmFormatOptions, errorFrame: () => string): GenerationFormat {
  const { id, model } = o;
  const created = unixNow();
  // chat_completion_stream_generator writes model_dump_json(exclude_unset=True): only the fields
  // it sets appear; logprobs and finish_reason are set explicitly to None.
  const frame = (choice: Record<string, unknown>, usage?: Usage): string =>
    sseData(pyJson({ id, object: 'chat.completion.chunk', created, model, choices: [choice], usage }));
  const running = (s: GenerationStream, tokens: number): Usage | undefined => (o.usage.continuous ? runningUsage(s, tokens) : undefined);
  return {
    stream: o.stream,
    head: (s) => [frame({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }, running(s, 0))],
    chunk: (c: GenerationChunk, s) => {
      if (c.finish?.reason === 'error') return [errorFrame()];
      if (c.finish !== undefined) {
        return [frame({ index: 0, delta: { content: c.text }, logprobs: null, finish_reason: c.finish.reason, stop_reason: c.finish.stopReason },
          running(s, c.completionTokens))];
      }
      if (c.text === '' && c.tokenIds.length === 0) return [];
      return [frame({ index: 0, delta: { content: c.text }, logprobs: null, finish_reason: null }, running(s, c.completionTokens))];
    },
    tail: (s) => [
      ...(o.usage.final && !failed(s)
        ? [sseData(pyJson({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: finalUsage(s, o.promptTokensDetails, false) }))]
        : []),
      SSE_DONE,
    ],
    body: (text, s) => pyJson({
      id, object: 'chat.completion', created, model,
      choices: [{
        index: 0,
        message: { role: 'assistant', content: text, refusal: null, annotations: null, audio: null, function_call: null, tool_calls: [], reasoning_content: null },
        logprobs: null, finish_reason: s.finish?.reason ?? 'stop', stop_reason: s.finish?.stopReason ?? null,
      }],
      service_tier: null, system_fingerprint: null,
      usage: finalUsage(s, o.promptTokensDetails, true),
      prompt_logprobs: null, kv_transfer_params: null,
    }),
  };
}

export function vllmCompletionFormat(o: VllmFormatOptions, errorFrame: () => string): GenerationFormat {
  const { id, model } = o;
  const created = unixNow();
  // completion_stream_generator writes model_dump_json(exclude_unset=False): every field, so
  // `usage` is null, or the running usage with its `prompt_tokens_details: null`.
  const frame = (c: GenerationChunk, s: GenerationStream): string => sseData(pyJson({
    id, object: 'text_completion', created, model,
    choices: [{ index: 0, text: c.text, logprobs: null, finish_reason: c.finish?.reason ?? null, stop_reason: c.finish?.stopReason ?? null }],
    usage: o.usage.continuous ? { ...runningUsage(s, c.completionTokens), prompt_tokens_details: null } : null,
  }));
  return {
    stream: o.stream,
    head: () => [],
    chunk: (c, s) => {
      if (c.finish?.reason === 'error') return [errorFrame()];
      return c.finish === undefined && c.text === '' && c.tokenIds.length === 0 ? [] : [frame(c, s)];
    },
    tail: (s) => [
      ...(o.usage.final && !failed(s)
        ? [sseData(pyJson({ id, object: 'text_completion', created, model, choices: [], usage: finalUsage(s, o.promptTokensDetails, false) }))]
        : []),
      SSE_DONE,
    ],
    body: (text, s) => pyJson({
      id, object: 'text_completion', created, model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: s.finish?.reason ?? 'stop', stop_reason: s.finish?.stopReason ?? null, prompt_logprobs: null }],
      service_tier: null, system_fingerprint: null, usage: finalUsage(s, o.promptTokensDetails, true), kv_transfer_params: null,
    }),
  };
}
