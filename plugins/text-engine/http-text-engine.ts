/**
 * A text-completion engine reached over HTTP — Triton's generate extension, TGI's native API,
 * DeepSpeed-MII's REST server — behind the OpenAI endpoints. Such an engine takes a prompt and
 * answers text, so the OpenAI side is built here (text-dispatch.ts): the prompt from the model's
 * chat template or a built-in styler, the answer shaped by the Responder (stop strings never
 * shown, tool calls parsed, finish reasons, usage). What the engine does not report (Triton
 * reports no token counts) is counted with the model's tokenizer.
 *
 * Health, load reads and the connection pool are the HTTP kit's (plugins/http/); a plugin
 * describes its engine with `defineTextEngine`, giving its request and answer shapes as a
 * TextProtocol. An engine error before any output answers with the engine's status and body
 * (parseError reads it into the gateway's catalogue); one after output has gone out ends the
 * stream with the gateway's stream-interrupted error.
 */
import type { BackendPlugin } from '../../core/plugin/types.js';
import { defineHttpEngine, type EngineHandle, type HttpEngine } from '../http/define.js';
import { nestedErrorShape, parseErrorBody, type ErrorShape } from '../http/errors.js';
import { readTextEngineOptions, TEXT_ENGINE_KEYS, validateTextEngineOptions } from './options.js';
import { isRecord } from './prompt/types.js';
import type { GenerationParams } from './request.js';
import type { EngineCounts, EngineEnd } from './respond.js';
import { TextDispatch } from './text-dispatch.js';

/** One OpenAI request, made ready for an engine that takes a prompt. */
export interface TextRequest {
  params: GenerationParams;
  /** The prompt text the engine gets. */
  prompt: string;
  /** Its tokens under the model's tokenizer (usage, and engines that need a total length). */
  promptTokens: number;
  /** Stop strings: the request's, the styler's, the `stop_words` option's, the model's other end-of-sequence tokens. */
  stop: string[];
  /** The model's end-of-sequence id and pad id (option, generation_config.json, then the tokenizer's). */
  endId: number;
  padId: number;
  /** The engine streams this answer (the client asked and the engine can). */
  stream: boolean;
}

/** One piece of an engine's answer: a streamed event's or a whole body's. */
export interface EngineOutput {
  text: string;
  /** On the last piece, when the engine says how generation ended. */
  end?: EngineEnd;
  /** The engine's last piece, where its stream says so (else its end does). */
  last?: boolean;
  /** The counts the engine reports, if any. */
  counts?: EngineCounts;
  /** The engine answered an error instead (an SSE error event): its status and body. */
  error?: { status: number; body: string };
}

/** An engine's request and answer shapes. */
export interface TextProtocol {
  /** The engine can stream an answer (DeepSpeed-MII's REST server cannot). */
  readonly streams: boolean;
  /** The engine's request for one prepared OpenAI request: path and JSON body. */
  request(req: TextRequest): { path: string; body: Record<string, unknown> };
  /** A whole (non-streamed) 200 answer. */
  readAnswer(body: string, req: TextRequest): EngineOutput;
  /** One SSE event's data of a streamed answer; undefined for an event without output. */
  readEvent?(data: string, req: TextRequest): EngineOutput | undefined;
  /** The status the gateway sees for an engine's error status (an engine's own codes mapped onto HTTP's usual ones). */
  replyStatus?(engineStatus: number): number;
}

/** A text engine, described: the HTTP kit's description without its dispatch, plus the protocol. */
export interface TextEngine extends Omit<HttpEngine, 'dispatch' | 'parseError' | 'tokenize' | 'kvEvents'> {
  /** How the engine's error bodies look, tried after OpenAI's nested shape (the plugin's own errors). */
  errorShapes: readonly ErrorShape[];
  /**
   * The engine's answers say how much of the prompt its cache served (Triton with
   * kv_cache_reuse_stats); else an absent count is never read as a miss.
   */
  reportsCachedTokens?(options: Record<string, unknown>): boolean;
  /** The request and answer shapes for one backend (which may read its options). */
  protocol(engine: EngineHandle): TextProtocol;
}

/** An SSE event's data as a JSON object; undefined for anything else (a keep-alive, a partial line). */
export function eventObject(data: string): Record<string, unknown> | undefined {
  let o: unknown;
  try {
    o = JSON.parse(data);
  } catch {
    return undefined;
  }
  return isRecord(o) ? o : undefined;
}

export function defineTextEngine(engine: TextEngine): BackendPlugin {
  const { errorShapes, reportsCachedTokens, protocol, options, defaults, ...http } = engine;
  const shapes = [nestedErrorShape, ...errorShapes];
  return defineHttpEngine({
    ...http,
    defaults: (o) => ({
      ...(typeof defaults === 'function' ? defaults(o) : defaults),
      cachedTokens: reportsCachedTokens?.(o) ? undefined : 'unreported',
    }),
    options: {
      keys: [...TEXT_ENGINE_KEYS, ...(options?.keys ?? [])],
      validate: (o) => [...validateTextEngineOptions(o), ...(options?.validate(o) ?? [])],
    },
    parseError: (status, body) => parseErrorBody(status, body, shapes),
    dispatch: (handle) => new TextDispatch(handle, protocol(handle), readTextEngineOptions(handle.spec.options, handle.ctx.configDir)),
  });
}
