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
  seed: number;
  stream: boolean;
  includeUsage: boolean;
  chatTemplateKwargs?: Record<string, unknown>;
}

const optInt = (body: Record<string, unknown>, key: string, min: number): number | undefined => {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RequestError(`${key}: expected an integer ≥ ${min}`, key);
  return v;
};

export function readParams(body: Record<string, unknown>, chat: boolean): GenerationParams {
  if ((body.n ?? 1) !== 1) throw new RequestError('n: only n=1 is supported by the in-process engine', 'n');
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
    seed: optInt(body, 'seed', 0) ?? 0,
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
    throw new RequestError('prompt: the in-process engine takes one prompt (a string or a list of token ids)', 'prompt');
  }
  return params;
}
