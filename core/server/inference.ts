/**
 * One inference request as a lifecycle of named stages — resolve → admit → key → dispatch (with
 * retries) → relay → close — each in its own module, with the cross-cutting work (learner,
 * tracing, metrics, breaker, arms, shadow) in hooks that hold their own state (lifecycle/hooks.ts).
 * What travels between the stages is the request's exchange (lifecycle/exchange.ts).
 */
import type { ClientReply, ClientRequest } from './client.js';
import type { RouteTable } from '../routing/route-table.js';
import type { Endpoint } from '../plugin/types.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { RoutingLearner } from '../routing/learner.js';
import type { Cancel } from '../plugin/cancel.js';
import type { Tenants } from '../auth/tenants.js';
import type { Tracing } from '../telemetry/tracing.js';
import type { AccessLog } from './access-log.js';
import type { ResponseOwners } from './response-owners.js';
import { GatewayError } from './errors.js';
import { relayAnswer } from './relay.js';
import { ClientGone, closeExchange, openExchange, type Arrival, type Body, type Exchange } from './lifecycle/exchange.js';
import { admit, resolve } from './lifecycle/resolve.js';
import { routingRequestOf } from './lifecycle/routing-key.js';
import { dispatchWithRetries } from './lifecycle/dispatch.js';
import { composeHooks, type LifecycleHooks } from './lifecycle/hooks.js';
import { learnerHook } from './lifecycle/learner-hook.js';
import { tracingHook } from './lifecycle/tracing-hook.js';
import { metricsHook } from './lifecycle/metrics-hook.js';
import { breakerHook } from './lifecycle/breaker-hook.js';
import { armsHook } from './lifecycle/arms-hook.js';
import { shadowHook } from './lifecycle/shadow-hook.js';
import type { RelayTurns } from './turns.js';
import type { ShadowTraffic } from './shadow.js';

export interface InferenceContext {
  routes: RouteTable;
  learner: RoutingLearner;
  metrics: GatewayMetrics;
  isDraining: () => boolean;
  /** In-flight requests of this process, for drain: their count, and how to cut them at the deadline. */
  inFlight: { count: number; onIdle?: () => void; cancels?: Set<Cancel> };
  /** A stream whose client takes nothing for this long is ended (its upstream aborted). */
  clientStallTimeoutMs: number;
  /** Keys' model access, limits and priorities (core/auth). */
  tenants?: Tenants;
  accessLog?: AccessLog;
  /** Which backend holds each Responses answer (`previous_response_id` goes back there). */
  responseOwners?: ResponseOwners;
  /** OpenTelemetry spans of each request; undefined (the default) traces nothing. */
  tracing?: Tracing;
  /** This gateway's shadow copies in flight (shadow.ts). */
  shadows: ShadowTraffic;
  /** The slices in which every relayed stream's chunks are handled and new requests routed (turns.ts). */
  relayTurns: RelayTurns;
}

/**
 * The drain deadline came with this request still running: it is cut, but answered — 503
 * `draining` before any byte, an error event and `[DONE]` in a stream that had begun.
 */
export class DrainDeadline extends Error {
  constructor() {
    super('the gateway is shutting down (drain deadline reached)');
  }
}

/** Serve one inference request; with tracing on, inside its server span (off, nothing else is done). */
export async function handleInference(endpoint: Endpoint, req: ClientRequest, reply: ClientReply, ctx: InferenceContext): Promise<void> {
  if (!ctx.tracing) return serveInference({ endpoint, req, reply, ctx });
  const body = req.body as Body;
  const trace = ctx.tracing.request(`${req.method} ${req.routeOptions.url ?? req.url}`, req.headers, {
    'http.request.method': req.method, 'http.route': req.routeOptions.url ?? req.url, 'switchyard.request_id': req.id,
    'gen_ai.request.model': String(body.model), 'switchyard.stream': body.stream === true && endpoint !== 'embeddings',
  });
  try {
    await serveInference({ endpoint, req, reply, ctx, trace });
  } catch (err) {
    // The error the client is answered with; a request refused before it held a route (unknown
    // model, draining…) has no other summary.
    const refused = err instanceof GatewayError ? err : undefined;
    trace.refused(refused?.status ?? 500, refused?.body().error.code ?? 'internal_error');
    throw err;
  } finally {
    trace.end();
  }
}

async function serveInference(arrival: Arrival): Promise<void> {
  const receivedAt = performance.now();
  if (arrival.ctx.isDraining()) throw draining();
  const x = openExchange(arrival, resolve(arrival), receivedAt);
  const hooks = composeHooks(hooksOf(x));
  try {
    // Awaited only where there is something to wait for (keys' limits in a shared store; a tokenized route).
    if (x.ctx.tenants) {
      const admitting = admit(x);
      if (admitting) await admitting;
    }
    x.deadlines.start(x.stream);
    // Routing, the prompt and the dispatch wait for the next of the slices the streams' chunks
    // share once the current one's budget is spent (turns.ts): a burst of new requests then takes
    // turns with the streams in flight instead of holding the event loop for all of them at once
    // (10,000 streams opened over 4 s: ~40-200 ms turns while they arrived). On a loop that keeps
    // up it waits for nothing; behind a spent slice, requests and chunks take turns.
    const turn = x.ctx.relayTurns.admission();
    if (turn) await turn;
    const keyed = routingRequestOf(x);
    const answer = await dispatchWithRetries(x, keyed instanceof Promise ? await keyed : keyed, hooks);
    x.bodyText = undefined;
    // Only answers below 400 come back from the dispatch; every one of them is relayed.
    x.access.backend = answer.attempt.backend.id;
    x.access.reason = answer.attempt.record.reason;
    const relayed = relayAnswer(x, answer, hooks);
    const outcome = relayed instanceof Promise ? await relayed : relayed;
    Object.assign(x.access, { status: outcome.status ?? 200, ttftMs: outcome.ttftMs, promptTokens: outcome.promptTokens, completionTokens: outcome.completionTokens, cachedTokens: outcome.cachedTokens });
  } catch (err) {
    answerFailure(x, err);
  } finally {
    closeExchange(x);
  }
}

/** The hooks of one request, in the order they run at each event. */
function hooksOf(x: Exchange): LifecycleHooks[] {
  const { ctx } = x;
  const hooks = [learnerHook(ctx.learner)];
  if (x.trace) hooks.push(tracingHook(x));
  hooks.push(metricsHook(x), breakerHook((id) => ctx.routes.breakers.of(id)), armsHook(x));
  if (x.route.shadow) hooks.push(shadowHook(x));
  return hooks;
}

/** Rethrows what the client is to be answered with, or, when it is gone, records that and answers nothing. */
function answerFailure(x: Exchange, err: unknown): void {
  const { cancel, reply, req, access, ctx } = x;
  const refused = err instanceof GatewayError ? err : cancel.reason instanceof GatewayError ? cancel.reason : undefined;
  access.status = cancel.aborted && !refused ? 'client-gone' : refused?.status ?? 500;
  access.error = refused?.body().error.code ?? (cancel.aborted ? undefined : 'internal_error');
  if (cancel.reason instanceof DrainDeadline && !reply.sent && !reply.raw.headersSent) throw draining();
  // A deadline gave up on the engine before the answer began: its error is the answer.
  if (cancel.reason instanceof GatewayError && !reply.sent && !reply.raw.headersSent) {
    req.log.warn({ model: x.model, code: cancel.reason.errorName }, cancel.reason.message);
    ctx.metrics.upstreamErrors.inc({ backend: access.backend ?? 'none', kind: 'timeout' });
    throw cancel.reason;
  }
  if (!(err instanceof ClientGone) && !cancel.aborted) throw err;
  // The upstream request was aborted with the client; there is no one to answer.
  req.log.info({ model: x.model }, 'client disconnected; upstream request aborted');
  ctx.metrics.requests.inc({ model: x.route.model, backend: 'none', engine: 'none', status: 'client-gone' });
  if (!reply.sent) reply.hijack();
}

function draining(): GatewayError {
  return new GatewayError('SY_ERR_DRAINING', 'the gateway is shutting down', { headers: { 'retry-after': '1', connection: 'close' } });
}
