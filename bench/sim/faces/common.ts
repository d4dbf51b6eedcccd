/**
 * What the engine faces share: the context they run in, request-body readers that report
 * problems per field (each face renders them in its own error shape), ids, and a JSON writer with
 * Python's formatting where an engine's bytes depend on it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Engine } from '../../../native/engine.js';
import type { SimProfile } from '../../../native/profiles.js';
import type { TokenizerPool } from '../../../core/tokenizer/pool.js';
import type { ChatMessage } from '../../../core/tokenizer/tokenizer.js';
import type { FaultController } from '../faults.js';
import type { GenerationRequest, GenerationService } from '../generation.js';
import type { SimOptions } from '../options.js';

export interface FaceContext {
  generation: GenerationService;
  engine: Engine;
  profile: SimProfile;
  options: SimOptions;
  /** The model name the replica serves (and checks requests against). */
  servedModel: string;
  replicaName: string;
  faults: FaultController;
  pool: TokenizerPool;
  /** Unix seconds at start, for `created` of model cards. */
  startedAt: number;
  /** Where KV events are published, once started (vLLM with --kv-events-config). */
  kvEventEndpoints?: { endpoint: string; replayEndpoint: string | null };
}

/** What a server writes when the engine fails a request after the 200 (the error-after fault). */
export interface EngineFailure {
  /** SSE frames after what was already streamed; null when the server just drops the connection. */
  streamed(): string[] | null;
  /** The answer to a non-streaming request. */
  answer(reply: FastifyReply): FastifyReply;
}

/** One engine dialect. */
export interface Face {
  register(app: FastifyInstance): void;
  /** Routes of a second listener on `--metrics-port` (Triton serves its Prometheus metrics there). */
  registerMetrics?(app: FastifyInstance): void;
  engineFailure: EngineFailure;
  /** The engine's own error response for `status` (fault injection, unexpected failures). */
  sendError(reply: FastifyReply, status: number, message: string): FastifyReply;
  /** A body that is not valid JSON (or not JSON at all), in the engine's validation-error shape. */
  sendBodyError(reply: FastifyReply, error: BodyParseError): FastifyReply;
}

/** The JSON parser's failure, raised from the content-type parser and rendered by the face. */
export class BodyParseError extends Error {
  constructor(readonly kind: 'json' | 'media-type', message: string, readonly raw: string) {
    super(message);
    this.name = 'BodyParseError';
  }
}

/** A request field of the wrong type or value; `field` is the JSON key. */
export class FieldError extends Error {
  constructor(readonly field: string, message: string, readonly input?: unknown) {
    super(message);
    this.name = 'FieldError';
  }
}

export type Body = Record<string, unknown>;

export function isRecord(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function readBody(body: unknown): Body {
  if (body instanceof BodyParseError) throw body;
  if (!isRecord(body)) throw new FieldError('body', 'Input should be a valid dictionary or object', body);
  return body;
}

export function optString(o: Body, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new FieldError(key, 'Input should be a valid string', v);
  return v;
}

export function optBool(o: Body, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new FieldError(key, 'Input should be a valid boolean', v);
  return v;
}

export function optNumber(o: Body, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FieldError(key, 'Input should be a valid number', v);
  return v;
}

export function optInt(o: Body, key: string, min?: number): number | undefined {
  const v = optNumber(o, key);
  if (v === undefined) return undefined;
  if (!Number.isInteger(v)) throw new FieldError(key, 'Input should be a valid integer', v);
  if (min !== undefined && v < min) throw new FieldError(key, `Input should be greater than or equal to ${min}`, v);
  return v;
}

export function optRecord(o: Body, key: string): Body | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw new FieldError(key, 'Input should be a valid dictionary', v);
  return v;
}

/** `stop`: a string or a list of strings. */
export function optStopList(o: Body, key = 'stop'): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  throw new FieldError(key, 'Input should be a valid string or list of strings', v);
}

export function optIntList(o: Body, key: string): number[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v) && v.every((t) => typeof t === 'number' && Number.isInteger(t))) return v as number[];
  throw new FieldError(key, 'Input should be a valid list of integers', v);
}

export function optArray(o: Body, key: string): unknown[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new FieldError(key, 'Input should be a valid list', v);
  return v;
}

/** `messages`: a non-empty list of objects with a string role. */
export function readMessages(o: Body, key = 'messages'): ChatMessage[] {
  const v = o[key];
  if (v === undefined) throw new FieldError(key, 'Field required');
  if (!Array.isArray(v)) throw new FieldError(key, 'Input should be a valid list', v);
  v.forEach((m, i) => {
    if (!isRecord(m) || typeof m.role !== 'string') throw new FieldError(`${key}.${i}`, 'Input should be a message object with a role', m);
  });
  return v as ChatMessage[];
}

/** The sampling fields every engine here takes under the same names. */
export function readCommonSampling(o: Body, minTokensKey: string): GenerationRequest {
  const req: GenerationRequest = {};
  const maxTokens = optInt(o, 'max_completion_tokens', 1) ?? optInt(o, 'max_tokens', 1);
  if (maxTokens !== undefined) req.maxTokens = maxTokens;
  const stop = optStopList(o);
  if (stop !== undefined) req.stop = stop;
  const stopTokenIds = optIntList(o, 'stop_token_ids');
  if (stopTokenIds !== undefined) req.stopTokenIds = stopTokenIds;
  const include = optBool(o, 'include_stop_str_in_output');
  if (include !== undefined) req.includeStopStrInOutput = include;
  const ignoreEos = optBool(o, 'ignore_eos');
  if (ignoreEos !== undefined) req.ignoreEos = ignoreEos;
  const minTokens = optInt(o, minTokensKey, 0);
  if (minTokens !== undefined) req.minTokens = minTokens;
  const seed = optInt(o, 'seed');
  if (seed !== undefined) req.seed = seed;
  const n = optInt(o, 'n');
  if (n !== undefined) req.n = n;
  const tools = optArray(o, 'tools');
  if (tools !== undefined) req.tools = tools;
  const kwargs = optRecord(o, 'chat_template_kwargs');
  if (kwargs !== undefined) req.chatTemplateKwargs = kwargs;
  const addGenerationPrompt = optBool(o, 'add_generation_prompt');
  if (addGenerationPrompt !== undefined) req.addGenerationPrompt = addGenerationPrompt;
  return req;
}

/** 32 hex digits, as Python's `uuid.uuid4().hex` (vLLM and TensorRT-LLM ids). */
export function hexId(): string {
  return randomUUID().replace(/-/g, '');
}

const SHORTUUID_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** 22 characters of shortuuid's alphabet, as `shortuuid.random()` (LMDeploy ids). */
export function shortUuid(): string {
  const bytes = randomBytes(22);
  let out = '';
  for (const b of bytes) out += SHORTUUID_ALPHABET[b % SHORTUUID_ALPHABET.length];
  return out;
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * JSON as Python writes it. 'compact' is pydantic's model_dump_json and Starlette's JSONResponse
 * (separators ',' ':'); 'python' is `json.dumps` defaults (', ' ': ', ensure_ascii), which LMDeploy
 * uses for most stream chunks. Bigints are written as plain integers: Python ints are unbounded,
 * so TensorRT-LLM's u64 block hashes arrive as exact JSON numbers.
 */
export function pyJson(value: unknown, style: 'compact' | 'python' = 'compact'): string {
  const [comma, colon] = style === 'python' ? [', ', ': '] : [',', ':'];
  const str = (s: string): string => {
    const json = JSON.stringify(s);
    return style === 'python' ? json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
  };
  const write = (v: unknown): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'string') return str(v);
    if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (Array.isArray(v)) return `[${v.map(write).join(comma)}]`;
    if (isRecord(v)) {
      const parts: string[] = [];
      for (const [k, item] of Object.entries(v)) if (item !== undefined) parts.push(`${str(k)}${colon}${write(item)}`);
      return `{${parts.join(comma)}}`;
    }
    return 'null';
  };
  return write(value);
}

/** `prompt`: a string, token ids, or a one-element list of either (one prompt per request here). */
export function readPrompt(o: Body): Pick<GenerationRequest, 'prompt' | 'promptTokenIds'> {
  let p = o.prompt;
  if (Array.isArray(p) && p.length === 1 && (typeof p[0] === 'string' || Array.isArray(p[0]))) p = p[0];
  if (typeof p === 'string') return { prompt: p };
  if (Array.isArray(p) && p.length > 0 && p.every((t) => typeof t === 'number' && Number.isInteger(t))) return { promptTokenIds: p as number[] };
  if (Array.isArray(p) && p.length > 1) throw new FieldError('prompt', 'Value error, the simulated engine takes one prompt per request');
  throw new FieldError('prompt', p === undefined ? 'Field required' : 'Input should be a valid string or list of token ids', p);
}

/**
 * FastAPI's RequestValidationError text (`str(exc)`), which vLLM and trtllm-serve put in their
 * 400 bodies: "1 validation error:\n  {'type': …, 'loc': ('body', …), 'msg': …}\n".
 */
export function validationText(field: string, msg: string, type = msg === 'Field required' ? 'missing' : 'value_error'): string {
  const loc = field.split('.').map((part) => (/^\d+$/.test(part) ? part : `'${part}'`)).join(', ');
  return `1 validation error:\n  {'type': '${type}', 'loc': ('body', ${loc}), 'msg': ${JSON.stringify(msg)}}\n`;
}
