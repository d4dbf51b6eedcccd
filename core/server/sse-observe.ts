/**
 * What a relayed stream's events say, read as they pass (sse-relay.ts): first token and content
 * events, finish reason, usage, the engine's own errors, and whether an event goes on to the
 * client. Each event's data is parsed as JSON, whatever the engine's spacing.
 */
import type { SseEvent } from './sse-parser.js';
import type { RelayOptions, RelayOutcome, Usage } from './sse-relay.js';
import { asChatUsage, type ResponsesUsage } from './answer-usage.js';
import { isObject } from './lifecycle/exchange.js';

function nonEmpty(v: unknown): boolean {
  return (typeof v === 'string' && v.length > 0) || (Array.isArray(v) && v.length > 0);
}

/**
 * Whether one choice of a chunk carries a token. Role-only and empty placeholder deltas
 * (`"content":""`) are not tokens (vLLM's benchmark counts TTFT at the first chunk with text:
 * vllm/benchmarks/lib/endpoint_request_func.py); reasoning text and tool-call deltas are.
 */
function choiceHasContent(choice: unknown): boolean {
  if (!isObject(choice)) return false;
  if (nonEmpty(choice.text)) return true; // completions
  const delta = choice.delta;
  if (!isObject(delta)) return false;
  return nonEmpty(delta.content) || nonEmpty(delta.reasoning_content) || nonEmpty(delta.reasoning) || nonEmpty(delta.tool_calls);
}

/** One content event (about one token): the first sets the time to first token. */
export function countContent(out: RelayOutcome, opts: RelayOptions): void {
  const t = opts.now();
  if (out.firstTokenAt === undefined) {
    out.firstTokenAt = t;
    opts.onFirstToken?.();
  }
  out.lastTokenAt = t;
  out.contentEvents++;
  opts.onContent?.();
}

/** Records what a chat or completions event says; returns whether to forward it. */
export function observeChatEvent(e: SseEvent, out: RelayOutcome, opts: RelayOptions): boolean {
  const data = e.data;
  if (data === undefined) return true; // a comment, heartbeat or stray blank line
  if (data === '[DONE]' || data.trimEnd() === '[DONE]') {
    out.end = 'done';
    return true;
  }
  let chunk: unknown;
  try {
    chunk = JSON.parse(data);
  } catch {
    // Not JSON (an engine's own text event): nothing to observe; the client gets it as sent.
    if (e.event === 'error') out.error = data;
    return true;
  }
  if (!isObject(chunk)) return true;
  // The engine's own mid-stream error: `{"error": {...}}` (vLLM ≥ 0.10.1, LMDeploy, llama.cpp) or
  // the flat `{"object": "error", ...}` (older vLLM, trtllm-serve). Passed through as sent.
  if (chunk.error !== undefined || chunk.object === 'error' || e.event === 'error') {
    out.error = data;
    return true;
  }
  const choices = chunk.choices;
  if (Array.isArray(choices)) {
    let content = false;
    for (const choice of choices) {
      if (choiceHasContent(choice)) content = true;
      const finish = isObject(choice) ? choice.finish_reason : undefined;
      if (typeof finish === 'string' && finish !== '') out.finishReason = finish;
    }
    if (content) countContent(out, opts);
  }
  if (isObject(chunk.usage)) {
    out.usage = chunk.usage as Usage;
    // The usage-only chunk the gateway asked for on the client's behalf.
    if (opts.stripUsage && Array.isArray(choices) && choices.length === 0) return false;
  }
  return true;
}

const RESPONSE_ENDS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/**
 * Records what a Responses event says (always forwarded): deltas with text are content, and the
 * final event carries the usage. The type is the JSON's `type`, which OpenAI and vLLM repeat in the
 * SSE `event:` line.
 */
export function observeResponsesEvent(e: SseEvent, out: RelayOutcome, opts: RelayOptions): boolean {
  const data = e.data;
  if (data === undefined) return true;
  let event: unknown;
  try {
    event = JSON.parse(data);
  } catch {
    if (e.event === 'error') out.error = data;
    return true;
  }
  if (!isObject(event)) return true;
  const type = typeof event.type === 'string' ? event.type : e.event;
  if (type === undefined) return true;
  if (type === 'error') {
    out.error = data;
    return true;
  }
  const response = isObject(event.response) ? event.response : undefined;
  if (type === 'response.created' && typeof response?.id === 'string') opts.onResponseId?.(response.id);
  if (type.endsWith('.delta') && nonEmpty(event.delta)) countContent(out, opts);
  if (RESPONSE_ENDS.has(type)) {
    out.end = 'done';
    if (isObject(response?.usage)) out.usage = asChatUsage(response.usage as Usage & ResponsesUsage);
    if (type === 'response.failed') out.error = JSON.stringify(response?.error ?? 'response.failed');
  }
  return true;
}
