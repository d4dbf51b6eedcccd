/**
 * An OpenAI chat or completions body, read into what the in-process engine needs. Types are
 * checked here too (the gateway checked the common ones); errors name the field.
 */
import type { ChatMessage } from '../../core/tokenizer/tokenizer.js';

export class RequestError extends Error {
  constructor(message: string, readonly param: string | null = null, readonly status = 400) {
    super(message);
  }
}

export interface GenerationParams {
  chat: boolean;
  messages?: ChatMessage[];
  prompt?: string;
  promptTokenIds?: number[];
  tools?: unknown[];
  /** Parse tool calls out of the answer (tools given and tool_choice is not "none"). */
  parseTools: boolean;
  toolNames: string[];
  maxTokens?: number;
  stop: string[];
  stopTokenIds: number[];
  ignoreEos: boolean;
  minTokens: number;
  sampling: SamplingParams;
  stream: boolean;
  includeUsage: boolean;
  chatTemplateKwargs?: Record<string, unknown>;
}

/** What the client asked of the sampler; unset fields take the engine's defaults. */
export interface SamplingParams {
  temperature?: number;
  topP?: number;
  /** Unset for "no top-k" (vLLM's -1, or 0). */
  topK?: number;
  seed?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
}

const optNum = (body: Record<string, unknown>, key: string, ok: (n: number) => boolean, what: string): number | undefined => {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new RequestError(`${key}: expected ${what}`, key);
  return v;
};

/** OpenAI's and vLLM's sampling fields, checked (a wrong type or range is a 400 naming the field). */
function readSampling(body: Record<string, unknown>): SamplingParams {
  const topK = optNum(body, 'top_k', (n) => Number.isInteger(n) && n >= -1, 'an integer ≥ -1 (-1 or 0: no top-k)');
  const seed = optNum(body, 'seed', Number.isSafeInteger, 'an integer');
  return {
    temperature: optNum(body, 'temperature', (n) => n >= 0, 'a number ≥ 0'),
    topP: optNum(body, 'top_p', (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
    topK: topK !== undefined && topK > 0 ? topK : undefined,
    // OpenAI seeds may be negative; the engines take an unsigned 64-bit seed.
    seed: seed === undefined ? undefined : seed < 0 ? seed + Number.MAX_SAFE_INTEGER + 1 : seed,
    repetitionPenalty: optNum(body, 'repetition_penalty', (n) => n > 0, 'a number > 0'),
    presencePenalty: optNum(body, 'presence_penalty', (n) => n >= -2 && n <= 2, 'a number in [-2, 2]'),
    frequencyPenalty: optNum(body, 'frequency_penalty', (n) => n >= -2 && n <= 2, 'a number in [-2, 2]'),
  };
}

const optInt = (body: Record<string, unknown>, key: string, min: number): number | undefined => {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RequestError(`${key}: expected an integer ≥ ${min}`, key);
  return v;
};

export function readParams(body: Record<string, unknown>, chat: boolean): GenerationParams {
  if ((body.n ?? 1) !== 1) throw new RequestError('n: only n=1 is supported', 'n');
  const stopField = body.stop;
  const stop = stopField === undefined || stopField === null ? [] : typeof stopField === 'string' ? [stopField] : stopField;
  if (!Array.isArray(stop) || !stop.every((s) => typeof s === 'string')) throw new RequestError('stop: expected a string or a list of strings', 'stop');
  const stopTokenIds = body.stop_token_ids ?? [];
  if (!Array.isArray(stopTokenIds) || !stopTokenIds.every((t) => Number.isInteger(t))) throw new RequestError('stop_token_ids: expected a list of token ids', 'stop_token_ids');
  const tools = Array.isArray(body.tools) && body.tools.length > 0 ? (body.tools as unknown[]) : undefined;
  const toolNames = (tools ?? []).flatMap((t) => {
    const name = (t as { function?: { name?: unknown } }).function?.name;
    return typeof name === 'string' ? [name] : [];
  });
  const streamOptions = body.stream_options as { include_usage?: unknown } | null | undefined;
  const params: GenerationParams = {
    chat,
    tools,
    parseTools: chat && tools !== undefined && body.tool_choice !== 'none',
    toolNames,
    maxTokens: optInt(body, 'max_completion_tokens', 1) ?? optInt(body, 'max_tokens', 1),
    stop: stop as string[],
    stopTokenIds: stopTokenIds as number[],
    ignoreEos: body.ignore_eos === true,
    minTokens: optInt(body, 'min_tokens', 0) ?? 0,
    sampling: readSampling(body),
    stream: body.stream === true,
    includeUsage: streamOptions?.include_usage === true,
    chatTemplateKwargs: typeof body.chat_template_kwargs === 'object' && body.chat_template_kwargs !== null
      ? (body.chat_template_kwargs as Record<string, unknown>) : undefined,
  };
  if (chat) {
    if (!Array.isArray(body.messages) || body.messages.length === 0) throw new RequestError('messages: expected a non-empty list', 'messages');
    params.messages = body.messages as ChatMessage[];
  } else if (typeof body.prompt === 'string') {
    params.prompt = body.prompt;
  } else if (Array.isArray(body.prompt) && body.prompt.every((t) => Number.isInteger(t))) {
    params.promptTokenIds = body.prompt as number[];
  } else {
    throw new RequestError('prompt: one prompt per request (a string or a list of token ids)', 'prompt');
  }
  return params;
}
