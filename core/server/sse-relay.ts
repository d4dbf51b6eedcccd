/**
 * Relays an upstream SSE stream to the client byte for byte, event by event, as it arrives.
 *
 * Backpressure both ways: the loop reads the upstream only after the client has taken the last
 * write (a slow client pauses the upstream; nothing is buffered without bound). Observation
 * without re-serialisation: events are scanned as bytes; JSON is parsed only for the first
 * content event and for the usage event. The usage-only chunk (`"choices":[]`) is dropped when
 * the client did not ask for usage (Switchyard asks every engine for it). An upstream that fails
 * or ends without `[DONE]` yields an OpenAI error event and then `data: [DONE]`.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { once } from 'node:events';
import { GatewayError } from './errors.js';

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

export interface RelayOutcome {
  /** ms since the relay's clock origin of the first content event, if any. */
  firstTokenAt?: number;
  lastTokenAt?: number;
  contentEvents: number;
  usage?: Usage;
  finishReason?: string;
  /** How the stream ended. */
  end: 'done' | 'client-gone' | 'upstream-failed' | 'truncated';
  error?: string;
}

const DONE = Buffer.from('data: [DONE]\n\n');
const EVENT_END = Buffer.from('\n\n');

function hasContent(event: string): boolean {
  // Role-only and empty placeholder deltas (`"content":""`) are not tokens (vLLM TTFT counts the
  // first chunk with text: vllm/benchmarks/lib/endpoint_request_func.py).
  return /"(content|text|reasoning_content)":"(?!")/.test(event) || event.includes('"tool_calls":[{');
}

export function errorEvent(err: GatewayError): Buffer {
  return Buffer.from(`data: ${JSON.stringify(err.body())}\n\n`);
}

export async function relaySse(
  upstream: Readable,
  res: ServerResponse,
  opts: { stripUsage: boolean; now: () => number; isClientGone: () => boolean; onFirstToken?: () => void },
): Promise<RelayOutcome> {
  const out: RelayOutcome = { contentEvents: 0, end: 'truncated' };
  let pending: Buffer = Buffer.alloc(0);
  const write = async (buf: Buffer): Promise<boolean> => {
    if (buf.length === 0) return true;
    if (res.writableEnded || res.destroyed) return false;
    if (!res.write(buf)) {
      // The client is slower than the engine: stop reading upstream until it drains.
      await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
    return !res.destroyed;
  };
  try {
    for await (const chunk of upstream as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const forward: Buffer[] = [];
      let start = 0;
      for (;;) {
        const end = pending.indexOf(EVENT_END, start);
        if (end < 0) break;
        const eventBytes = pending.subarray(start, end + 2);
        start = end + 2;
        if (observe(eventBytes, out, opts)) forward.push(eventBytes);
      }
      pending = start === 0 ? pending : Buffer.from(pending.subarray(start));
      if (!(await write(forward.length === 1 ? forward[0] : Buffer.concat(forward)))) {
        out.end = 'client-gone';
        return out;
      }
      if (out.end === 'done') break;
    }
  } catch (err) {
    if (opts.isClientGone()) {
      out.end = 'client-gone';
      return out;
    }
    out.end = 'upstream-failed';
    out.error = err instanceof Error ? err.message : String(err);
  }
  if (out.end !== 'done') {
    if (out.end === 'truncated') out.error = 'the engine closed the stream before [DONE]';
    const failure = new GatewayError('SY_ERR_STREAM_INTERRUPTED', `upstream stream failed: ${out.error}`);
    await write(Buffer.concat([errorEvent(failure), DONE]));
  }
  return out;
}

/** Records what the event says; returns whether to forward it. */
function observe(eventBytes: Buffer, out: RelayOutcome, opts: { stripUsage: boolean; now: () => number; onFirstToken?: () => void }): boolean {
  const event = eventBytes.toString('utf8');
  if (event.startsWith('data: [DONE]') || event.startsWith('data:[DONE]')) {
    out.end = 'done';
    return true;
  }
  if (/^data: ?\{"error"/.test(event)) {
    // The engine's own mid-stream error event (vLLM sends one before [DONE]): pass it through.
    out.error = event.slice(event.indexOf('{')).trim();
    return true;
  }
  if (hasContent(event)) {
    const t = opts.now();
    if (out.firstTokenAt === undefined) {
      out.firstTokenAt = t;
      opts.onFirstToken?.();
    }
    out.lastTokenAt = t;
    out.contentEvents++;
  }
  const finish = /"finish_reason":"([a-z_]+)"/.exec(event);
  if (finish) out.finishReason = finish[1];
  if (event.includes('"usage":{')) {
    const json = event.slice(event.indexOf('{'));
    try {
      const parsed = JSON.parse(json) as { usage?: Usage; choices?: unknown[] };
      if (parsed.usage) out.usage = parsed.usage;
      if (opts.stripUsage && Array.isArray(parsed.choices) && parsed.choices.length === 0) return false;
    } catch {
      // Not one JSON object (a multi-line event): forward it untouched.
    }
  }
  return true;
}
