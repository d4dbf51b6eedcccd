/**
 * How the trtllm-serve face writes a generation, as tensorrt_llm/serve/postprocess_handlers.py
 * (chat_stream_post_processor, completion_stream_post_processor, the response post-processors)
 * does in the release it mirrors:
 * - every chunk of one stream reuses one id, `chatcmpl-<request id>` or `cmpl-<request id>` (the
 *   executor's integer id), and one `created` (_ensure_stream_metadata);
 * - usage carries `prompt_tokens_details: {cached_tokens}` from the engine's reuse count;
 * - `stream_options.continuous_usage_stats` puts the running usage on every chunk.
 */
import type { GenerationChunk, GenerationStream } from '../generation.js';
import { SSE_DONE, sseData } from '../sse.js';
import { hexId, optBool, pyJson, unixNow } from './common.js';
import type { Body } from './common.js';
import type { GenerationFormat } from './serve.js';

export interface StreamUsage {
  final: boolean;
  continuous: boolean;
}

/**
 * openai_protocol.py StreamOptions: include_usage defaults to True, continuous_usage_stats to
 * False; continuous usage needs include_usage. No stream_options, no usage.
 */
export function trtllmStreamUsage(options: Body | undefined): StreamUsage {
  if (options === undefined) return { final: false, continuous: false };
  const final = options.include_usage === undefined ? true : optBool(options, 'include_usage') === true;
  return { final, continuous: final && optBool(options, 'continuous_usage_stats') === true };
}

/** UsageInfo(prompt, completion, total, PromptTokensDetails(cached_tokens=rsp.cached_tokens)). */
function usage(s: GenerationStream, completionTokens: number): Record<string, unknown> {
  return { prompt_tokens: s.promptTokens, total_tokens: s.promptTokens + completionTokens, completion_tokens: completionTokens,
    prompt_tokens_details: { cached_tokens: s.cachedTokens } };
}

export interface TrtllmFormatOptions {
  model: string;
  stream: boolean;
  usage: StreamUsage;
}

export function trtllmChatFormat(o: TrtllmFormatOptions): GenerationFormat {
  const { model } = o;
  const created = unixNow();
  // Stream chunks are model_dump_json(exclude_none=True); the final usage chunk model_dump_json().
  const chunk = (s: GenerationStream, choice: Record<string, unknown>, completionTokens: number): string => pyJson({
    id: `chatcmpl-${s.requestId}`, object: 'chat.completion.chunk', created, model, choices: [choice],
    usage: o.usage.continuous ? usage(s, completionTokens) : undefined,
  });
  return {
    stream: o.stream,
    // yield_first_chat writes f"data: {...} \n\n", with a space before the blank line.
    head: (s) => [`data: ${chunk(s, { index: 0, delta: { role: 'assistant' } }, 0)} \n\n`],
    // exclude_none: no finish_reason key until the end, stop_reason only when set.
    chunk: (c: GenerationChunk, s) => {
      if (c.finish === undefined && c.text === '' && c.tokenIds.length === 0) return [];
      const choice: Record<string, unknown> = { index: 0, delta: { content: c.text } };
      if (c.finish !== undefined) {
        choice.finish_reason = c.finish.reason;
        if (c.finish.stopReason !== null) choice.stop_reason = c.finish.stopReason;
      }
      return [sseData(chunk(s, choice, c.completionTokens))];
    },
    tail: (s) => [
      ...(o.usage.final ? [sseData(pyJson({ id: `chatcmpl-${s.requestId}`, object: 'chat.completion.chunk', created, model, choices: [],
        usage: usage(s, s.completionTokens) }))] : []),
      SSE_DONE,
    ],
    // ChatCompletionResponse keeps its default id, a fresh uuid hex.
    body: (text, s) => pyJson({
      id: `chatcmpl-${hexId()}`, object: 'chat.completion', created, model,
      choices: [{ index: 0, message: { role: 'assistant', content: text, reasoning_content: null, reasoning: null, tool_calls: [] },
        logprobs: null, finish_reason: s.finish?.reason ?? 'stop', stop_reason: s.finish?.stopReason ?? null, mm_embedding_handle: null,
        disaggregated_params: null, avg_decoded_tokens_per_iter: null }],
      usage: usage(s, s.completionTokens), prompt_token_ids: null, prompt_token_ids_b64: null,
    }),
  };
}

export function trtllmCompletionFormat(o: TrtllmFormatOptions): GenerationFormat {
  const { model } = o;
  const created = unixNow();
  const choice = (text: string, finish: string | null, stopReason: string | number | null): Record<string, unknown> => ({
    index: 0, text, token_ids: null, logprobs: null, finish_reason: finish, stop_reason: stopReason, avg_decoded_tokens_per_iter: null,
  });
  return {
    stream: o.stream,
    head: () => [],
    // model_dump_json(exclude_unset=False): every field present, usage null unless continuous.
    chunk: (c, s) => (c.finish === undefined && c.text === '' && c.tokenIds.length === 0 ? [] : [sseData(pyJson({
      id: `cmpl-${s.requestId}`, object: 'text_completion', created, model,
      choices: [choice(c.text, c.finish?.reason ?? null, c.finish?.stopReason ?? null)],
      usage: o.usage.continuous ? usage(s, c.completionTokens) : null }))]),
    // The final usage chunk is a CompletionStreamResponse with the same id.
    tail: (s) => [
      ...(o.usage.final ? [sseData(pyJson({ id: `cmpl-${s.requestId}`, object: 'text_completion', created, model, choices: [],
        usage: usage(s, s.completionTokens) }))] : []),
      SSE_DONE,
    ],
    body: (text, s) => pyJson({
      id: `cmpl-${hexId()}`, object: 'text_completion', created, model,
      choices: [{ ...choice(text, s.finish?.reason ?? 'stop', s.finish?.stopReason ?? null), context_logits: null, disaggregated_params: null }],
      usage: usage(s, s.completionTokens), prompt_token_ids: null,
    }),
  };
}
