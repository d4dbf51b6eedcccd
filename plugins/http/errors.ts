/**
 * Error bodies of OpenAI-compatible servers, normalised to one `UpstreamError`. Each shape a
 * server family writes is one small reader; `parseErrorBody` tries a list of them in order and
 * falls back to the body's text. The engine plugins (`plugins/<engine>/errors.ts`) pick and order
 * the readers for their own dialect instead of re-parsing.
 */
import type { UpstreamError } from '../../core/plugin/types.js';

/** One body shape: the error it holds, or undefined when `body` (parsed JSON) is not that shape. */
export type ErrorShape = (body: unknown) => UpstreamError | undefined;

/** Longest message kept from a body that is not JSON (an HTML error page, a proxy's text). */
export const MAX_TEXT_MESSAGE = 1000;

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A non-blank string, trimmed. */
function text(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** `message` plus whichever of type, param and code `o` carries with a usable type. */
function withFields(o: Json, message: string): UpstreamError {
  const out: UpstreamError = { message };
  if (typeof o.type === 'string') out.type = o.type;
  if (typeof o.param === 'string' || o.param === null) out.param = o.param;
  if (typeof o.code === 'string' || typeof o.code === 'number' || o.code === null) out.code = o.code;
  return out;
}

/** OpenAI's own shape, and vLLM's from ≈0.10: `{"error": {message, type, param, code}}`. */
export const nestedErrorShape: ErrorShape = (body) => {
  if (!isRecord(body) || !isRecord(body.error)) return undefined;
  const message = text(body.error.message);
  return message === undefined ? undefined : withFields(body.error, message);
};

/**
 * The flat pydantic `ErrorResponse`: `{"object": "error", message, type, param, code}` (older
 * vLLM, LMDeploy, trtllm-serve). `object` is not required: the message is what identifies it.
 */
export const flatErrorShape: ErrorShape = (body) => {
  if (!isRecord(body)) return undefined;
  const message = text(body.message);
  return message === undefined ? undefined : withFields(body, message);
};

/**
 * `{"error": "<text>"}`: the 401 of vLLM's and LMDeploy's API-key middleware
 * (`{"error": "Unauthorized"}`), trtllm-serve's validation errors (`str(exc)`), and
 * text-generation-inference, which adds `error_type`.
 */
export const stringErrorShape: ErrorShape = (body) => {
  if (!isRecord(body)) return undefined;
  const message = text(body.error);
  if (message === undefined) return undefined;
  return typeof body.error_type === 'string' ? { message, type: body.error_type } : { message };
};

/** `loc` of a pydantic error as a dotted path, without FastAPI's leading "body". */
function locPath(loc: unknown): { path: string; param?: string } | undefined {
  if (!Array.isArray(loc)) return undefined;
  const parts = loc.filter((p): p is string | number => typeof p === 'string' || typeof p === 'number').map(String);
  if (parts.length === 0) return undefined;
  // A field of the request body names the param; ('body', 0) is a JSON syntax error's position.
  const field = parts[0] === 'body' && typeof loc[1] === 'string';
  return { path: parts.join('.'), param: field ? parts.slice(1).join('.') : undefined };
}

/**
 * FastAPI's own bodies, which every Python engine here can answer with: an HTTPException's
 * `{"detail": "text"}` (404 "Not Found" for an unknown route) and a RequestValidationError's
 * `{"detail": [{type, loc, msg, input}]}` (422; LMDeploy adds the request as `body`). Each
 * validation error becomes "loc: msg"; a single one in the body also names its `param`.
 */
export const fastApiDetailShape: ErrorShape = (body) => {
  if (!isRecord(body)) return undefined;
  const detail = text(body.detail);
  if (detail !== undefined) return { message: detail };
  if (!Array.isArray(body.detail)) return undefined;
  const parts: string[] = [];
  let param: string | undefined;
  for (const item of body.detail) {
    const msg = isRecord(item) ? text(item.msg) : text(item);
    if (msg === undefined) continue;
    const loc = isRecord(item) ? locPath(item.loc) : undefined;
    parts.push(loc === undefined ? msg : `${loc.path}: ${msg}`);
    param = loc?.param;
  }
  if (parts.length === 0) return undefined;
  const out: UpstreamError = { message: parts.join('; ') };
  if (parts.length === 1 && param !== undefined) out.param = param;
  return out;
};

/** Every shape, OpenAI's first: what an unknown OpenAI-compatible server may answer. */
export const OPENAI_ERROR_SHAPES: readonly ErrorShape[] = [nestedErrorShape, flatErrorShape, stringErrorShape, fastApiDetailShape];

/** At most `max` UTF-16 units, never splitting a surrogate pair. */
function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.charCodeAt(max - 1) >= 0xd800 && s.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max;
  return s.slice(0, cut);
}

function parseJson(bodyText: string): unknown {
  const start = bodyText.trimStart()[0];
  // Only what could be JSON is parsed: HTML and plain-text pages go straight to the fallback.
  if (start !== '{' && start !== '[' && start !== '"') return undefined;
  try {
    return JSON.parse(bodyText) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The error in an upstream's error body, trying `shapes` in order. A body none of them reads
 * (plain text, an HTML page from a proxy, a JSON string, JSON of another shape) gives its trimmed
 * text, at most MAX_TEXT_MESSAGE characters; an empty body gives "HTTP <status>".
 */
export function parseErrorBody(status: number, bodyText: string, shapes: readonly ErrorShape[]): UpstreamError {
  const body = parseJson(bodyText);
  if (body !== undefined) {
    for (const shape of shapes) {
      const error = shape(body);
      if (error !== undefined) return error;
    }
  }
  const message = typeof body === 'string' ? text(body) : text(bodyText);
  return { message: message === undefined ? `HTTP ${status}` : truncate(message, MAX_TEXT_MESSAGE) };
}

/** Any OpenAI-compatible server's error body: the nested shape first, then flat, then the fallbacks. */
export function parseOpenAiError(status: number, bodyText: string): UpstreamError {
  return parseErrorBody(status, bodyText, OPENAI_ERROR_SHAPES);
}
