/**
 * One streamed chat completion, timed the way vLLM's benchmark times it
 * (`vllm-project/vllm: vllm/benchmarks/lib/endpoint_request_func.py`,
 * async_request_openai_chat_completions; REFERENCE §4.1):
 *
 * - `st` is taken just before the POST;
 * - every SSE message is timestamped as it is parsed, and a content-bearing chunk (a delta with
 *   non-empty text) is a token arrival: TTFT = first − st, ITL = each gap between consecutive ones,
 *   E2EL = last − st. vLLM counts any chunk with `choices`; REFERENCE narrows that to content so a
 *   role-only head chunk (vLLM, trtllm-serve) or an empty finish chunk (LMDeploy) is not a token;
 * - output, prompt and cached token counts come from the usage chunk.
 *
 * The hot path stays small: one Agent shared by all requests, and the body read through 'data'
 * events rather than an async iterator (one promise per stream, not per chunk).
 */
import { Agent } from 'undici';
import type { WorkloadRequest } from './source.js';

export interface ChatTarget {
  /** Gateway or engine base URL (with or without a trailing `/v1`). */
  baseUrl: string;
  model: string;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
}

/** What one request measured. Times are ms on the `performance.now()` clock. */
export interface RequestOutcome {
  success: boolean;
  /** HTTP status; 0 when no response arrived. */
  status: number;
  error: string;
  /** `st`: just before the POST. */
  startMs: number;
  ttftMs: number;
  /** Gaps between consecutive content chunks. */
  itlMs: number[];
  /** Last content chunk − st. */
  e2elMs: number;
  /** `usage.completion_tokens`, when the stream carried usage. */
  usageCompletionTokens: number | null;
  usagePromptTokens: number | null;
  /** `usage.prompt_tokens_details.cached_tokens`, when present. */
  cachedTokens: number | null;
  text: string;
  /** `x-switchyard-backend` response header. */
  backend: string | null;
}

/** Keep-alive connections for the whole run; `connections` ≥ the concurrency, or unlimited. */
export function createAgent(connections?: number): Agent {
  return new Agent({
    connections: connections ?? null,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    // A long prompt may take minutes to prefill under load; ten minutes without a byte is a hang.
    headersTimeout: 600_000,
    bodyTimeout: 600_000,
  });
}

export function chatUrl(baseUrl: string): URL {
  const base = baseUrl.replace(/\/+$/, '');
  return new URL(base.endsWith('/v1') ? `${base}/chat/completions` : `${base}/v1/chat/completions`);
}

/** The request body, built before `st` so serializing it is not timed. */
export function chatBody(target: ChatTarget, request: WorkloadRequest): string {
  const body: Record<string, unknown> = {
    model: target.model,
    messages: request.messages,
    max_tokens: request.maxTokens,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  };
  if (request.ignoreEos) body.ignore_eos = true;
  return JSON.stringify(body);
}

interface Delta { content?: unknown; reasoning_content?: unknown; reasoning?: unknown }
interface StreamChunk {
  choices?: Array<{ delta?: Delta; text?: unknown }>;
  usage?: { completion_tokens?: unknown; prompt_tokens?: unknown; prompt_tokens_details?: { cached_tokens?: unknown } | null } | null;
  error?: { message?: unknown } | string;
}

function deltaText(chunk: StreamChunk): string {
  const d = chunk.choices?.[0]?.delta;
  if (d === undefined) return '';
  for (const v of [d.content, d.reasoning_content, d.reasoning]) if (typeof v === 'string' && v !== '') return v;
  return '';
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    const e = parsed.error;
    if (typeof e === 'string') return e;
    if (e && typeof e.message === 'string') return e.message;
    if (typeof parsed.message === 'string') return parsed.message;
    if (typeof parsed.detail === 'string') return parsed.detail;
  } catch { /* not JSON: use the text */ }
  return body.slice(0, 500);
}

/** Sends one request and measures it; never throws (failures come back as `success: false`). */
export async function sendChat(agent: Agent, target: ChatTarget, request: WorkloadRequest, url = chatUrl(target.baseUrl)): Promise<RequestOutcome> {
  const payload = chatBody(target, request);
  const out: RequestOutcome = {
    success: false, status: 0, error: '', startMs: 0, ttftMs: 0, itlMs: [], e2elMs: 0,
    usageCompletionTokens: null, usagePromptTokens: null, cachedTokens: null, text: '', backend: null,
  };
  const st = performance.now();
  out.startMs = st;
  try {
    const res = await agent.request({
      origin: url.origin, path: url.pathname + url.search, method: 'POST', body: payload,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...target.headers },
    });
    out.status = res.statusCode;
    const backend = res.headers['x-switchyard-backend'];
    out.backend = Array.isArray(backend) ? backend[0] ?? null : backend ?? null;
    if (res.statusCode !== 200) {
      out.error = errorText(await res.body.text());
      return out;
    }
    let first = -1;
    let last = st;
    let done = false;
    let pending = '';
    const texts: string[] = [];
    const onEvent = (event: string) => {
      // SSE comments (':' pings) carry no data; multi-line events keep only their data lines.
      let data = event;
      if (!event.startsWith('data:')) {
        data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
        if (data === '') return;
      } else {
        data = event.slice(event.charCodeAt(5) === 32 ? 6 : 5);
      }
      if (data === '[DONE]') {
        done = true;
        return;
      }
      const now = performance.now();
      const chunk = JSON.parse(data) as StreamChunk;
      const text = deltaText(chunk);
      if (text !== '') {
        if (first < 0) first = now;
        else out.itlMs.push(now - last);
        last = now;
        texts.push(text);
      }
      if (chunk.usage) {
        out.usageCompletionTokens = num(chunk.usage.completion_tokens);
        out.usagePromptTokens = num(chunk.usage.prompt_tokens);
        out.cachedTokens = num(chunk.usage.prompt_tokens_details?.cached_tokens);
      }
      if (chunk.error !== undefined) {
        const e = chunk.error;
        throw new Error(`error event in stream: ${typeof e === 'string' ? e : String(e.message ?? JSON.stringify(e))}`);
      }
    };
    res.body.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      res.body.on('data', (piece: string) => {
        pending += piece;
        let end: number;
        try {
          while ((end = pending.indexOf('\n\n')) >= 0) {
            const event = pending.slice(0, end).trim();
            pending = pending.slice(end + 2);
            if (event !== '') onEvent(event);
          }
        } catch (err) {
          res.body.destroy();
          reject(err);
        }
      });
      res.body.once('end', resolve);
      res.body.once('error', reject);
    });
    // vLLM's handler also accepts a final message without its blank line.
    if (pending.trim() !== '') onEvent(pending.trim());
    out.text = texts.join('');
    if (first < 0) {
      out.error = 'no content chunk in the stream';
    } else if (!done) {
      // vLLM would accept this; a stream cut before [DONE] is a truncated answer, so it fails here.
      out.error = 'stream ended without data: [DONE]';
    } else {
      out.success = true;
      out.ttftMs = first - st;
      out.e2elMs = last - st;
    }
  } catch (err) {
    out.error = err instanceof Error ? err.message : String(err);
  }
  return out;
}
