/**
 * The relay stage: the accepted answer goes to the client — read whole and sent as JSON, or
 * streamed as SSE through sse-relay.ts (backpressure both ways; the upstream aborted at once
 * when the client leaves). The Switchyard headers go out with it, a Responses answer's id is
 * remembered with its backend, the key's admission is charged with the usage, and how it went
 * is one `onOutcome` to the hooks (learner, metrics, arms…), before a JSON answer is sent and
 * after a stream has ended.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { GatewayError } from './errors.js';
import { relayFeed, relaySse, type RelayOptions } from './sse-relay.js';
import { readUsage } from './answer-usage.js';
import { responseIdOf } from './response-owners.js';
import type { Exchange } from './lifecycle/exchange.js';
import type { Answer, Attempt, LifecycleHooks, Outcome } from './lifecycle/hooks.js';
import { readBytes } from './lifecycle/dispatch.js';

type Hooks = Required<LifecycleHooks>;

/** Relays the answer: in the call when it is a whole answer already here, else once it is read or streamed. */
export function relayAnswer(x: Exchange, answer: Answer, hooks: Hooks): Outcome | Promise<Outcome> {
  hooks.onRelayStart(answer.attempt);
  const ready = x.stream ? undefined : answer.reply.readyBytes?.();
  if (ready === undefined) return relayLater(x, answer, hooks);
  try {
    return relayJson(x, answer, hooks, ready);
  } finally {
    hooks.onRelayEnd(answer.attempt);
  }
}

async function relayLater(x: Exchange, answer: Answer, hooks: Hooks): Promise<Outcome> {
  try {
    return x.stream ? await relayStream(x, answer, hooks) : relayJson(x, answer, hooks, await readBytes(answer.reply));
  } finally {
    hooks.onRelayEnd(answer.attempt);
  }
}

/** A whole answer, relayed as the bytes it came in: read for its usage, never decoded whole. */
function relayJson(x: Exchange, { attempt, reply: upstream }: Answer, hooks: Hooks, bytes: Buffer): Outcome {
  if (x.endpoint === 'responses') rememberResponse(x, attempt, responseIdOf(bytes.toString('utf8')));
  const usage = readUsage(bytes);
  x.admission?.settle(usage);
  const outcome: Outcome = {
    ok: true, e2eMs: performance.now() - x.receivedAt, completionTokens: usage?.completion_tokens, promptTokens: usage?.prompt_tokens,
    cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? undefined, status: upstream.status, usage,
  };
  hooks.onOutcome(attempt, outcome);
  x.reply.code(upstream.status).headers(answerHeaders(x, attempt)).header('content-type', 'application/json').send(bytes);
  return outcome;
}

async function relayStream(x: Exchange, { attempt, reply: upstream }: Answer, hooks: Hooks): Promise<Outcome> {
  const { reply, req, admission, deadlines, cancel, receivedAt } = x;
  reply.hijack();
  const res = reply.raw;
  // Headers the hooks set on the reply (x-content-type-options, …) go out with the hijacked stream's.
  res.writeHead(200, { ...(reply.getHeaders() as OutgoingHttpHeaders), ...answerHeaders(x, attempt), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  // An engine that makes its events in-process hands them over as made (chat and completions).
  const feed = x.endpoint === 'responses' ? undefined : upstream.events;
  // A proxied stream's headers go out with its first event when that came with the engine's
  // headers (relaySse): one write to the client, not two, on the way to the first token.
  if (feed) res.flushHeaders();
  const relayOptions: RelayOptions = {
    dialect: x.endpoint === 'responses' ? 'responses' : 'chat',
    stripUsage: !x.clientWantsUsage,
    onResponseId: (id) => rememberResponse(x, attempt, id),
    now: () => performance.now(),
    isClientGone: () => res.destroyed || res.writableEnded,
    stallTimeoutMs: x.ctx.clientStallTimeoutMs,
    turns: x.ctx.relayTurns,
    onFirstToken: () => hooks.onFirstToken(attempt),
    onContent: admission ? () => { deadlines.token(); admission.streamed(); } : () => deadlines.token(),
    // The stream's own error when a deadline cut it (first token, stall, whole request).
    interruption: () => (cancel.reason instanceof GatewayError ? cancel.reason : undefined),
  };
  const sse = feed ? await relayFeed(feed, res, relayOptions) : await relaySse(upstream.body, res, relayOptions);
  if (sse.end === 'client-gone') {
    // Abort the upstream at once: an orphaned generation holds a GPU slot.
    if (feed) feed.cancel();
    else upstream.body.destroy();
    req.log.info({ backend: attempt.backend.id }, 'client disconnected mid-stream; upstream aborted');
  } else if (!res.writableEnded) {
    res.end();
  }
  if (sse.end === 'upstream-failed' || sse.end === 'truncated') {
    req.log.warn({ backend: attempt.backend.id, err: sse.error }, 'upstream stream failed after the first byte');
  }
  const end = performance.now();
  let ttftMs: number | undefined;
  let tpotMs: number | undefined;
  if (sse.firstTokenAt !== undefined) {
    ttftMs = sse.firstTokenAt - receivedAt;
    const tokens = sse.usage?.completion_tokens ?? sse.contentEvents;
    if (tokens > 1 && sse.lastTokenAt !== undefined) tpotMs = (sse.lastTokenAt - sse.firstTokenAt) / (tokens - 1);
  }
  admission?.settle(sse.usage, sse.contentEvents);
  const outcome: Outcome = {
    ok: sse.end === 'done', ttftMs, tpotMs, e2eMs: end - receivedAt, completionTokens: sse.usage?.completion_tokens,
    promptTokens: sse.usage?.prompt_tokens, cachedTokens: sse.usage?.prompt_tokens_details?.cached_tokens ?? undefined,
    status: sse.end === 'done' ? 200 : sse.end, usage: sse.usage, stream: { end: sse.end, contentEvents: sse.contentEvents },
  };
  hooks.onOutcome(attempt, outcome);
  return outcome;
}

function answerHeaders(x: Exchange, a: Attempt): Record<string, string> {
  return {
    'x-switchyard-backend': a.backend.id,
    'x-switchyard-route-reason': a.record.reason,
    'x-switchyard-overhead-ms': (a.sentAt - x.receivedAt).toFixed(3),
    'x-request-id': x.req.id,
  };
}

function rememberResponse(x: Exchange, a: Attempt, responseId: string | undefined): void {
  if (responseId !== undefined) x.ctx.responseOwners?.remember(responseId, a.backend.id);
}
