/**
 * One inference request end to end: resolve the route, pick a backend, dispatch with retries
 * before the first byte, relay the answer, learn from the outcome.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors as undiciErrors } from 'undici';
import type { GatewayMetrics, RouteMetrics } from '../metrics/gateway-metrics.js';
import type { Backend, DispatchReply, Endpoint } from '../plugin/types.js';
import type { Route, RouteTable } from '../routing/route-table.js';
import type { Candidate, RoutingRequest } from '../routing/policy.js';
import { GatewayError, type ErrorName } from './errors.js';
import { UpstreamDeadlines } from './deadlines.js';
import { AccessLog, type AccessRecord } from './access-log.js';
import { relaySse, type Usage } from './sse-relay.js';
import { readUsage } from './answer-usage.js';
import { tokenizeForRouting } from './request-tokens.js';
import { largeBodyInfo, releaseBody } from './large-body.js';
import type { DispatchRecord, RoutingLearner } from '../routing/learner.js';
import type { ArmOutcome } from '../routing/ab.js';
import { sendShadow } from './shadow.js';
import { Cancel } from '../plugin/cancel.js';
import type { CircuitBreaker } from '../routing/breaker.js';
import type { Admission, Tenants } from '../auth/tenants.js';
import { responseIdOf, type ResponseOwners } from './response-owners.js';
import type { RequestTrace, Tracing } from '../telemetry/tracing.js';

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
}

type Body = Record<string, unknown>;

/** The client went away: nothing is left to answer, and nothing is an error. */
class ClientGone extends Error {}

/**
 * The drain deadline came with this request still running: it is cut, but answered — 503
 * `draining` before any byte, an error event and `[DONE]` in a stream that had begun.
 */
export class DrainDeadline extends Error {
  constructor() {
    super('the gateway is shutting down (drain deadline reached)');
  }
}

/** Why a dispatch attempt failed before its first byte, and whether another candidate may help. */
class AttemptFailure {
  constructor(readonly error: GatewayError, readonly retryable: boolean) {}
}

/** Serve one inference request; with tracing on, inside its server span (off, nothing else is done). */
export async function handleInference(endpoint: Endpoint, req: FastifyRequest, reply: FastifyReply, ctx: InferenceContext): Promise<void> {
  if (!ctx.tracing) return serveInference(endpoint, req, reply, ctx, undefined);
  const body = req.body as Body;
  const trace = ctx.tracing.request(`${req.method} ${req.routeOptions.url ?? req.url}`, req.headers, {
    'http.request.method': req.method, 'http.route': req.routeOptions.url ?? req.url, 'switchyard.request_id': req.id,
    'gen_ai.request.model': String(body.model), 'switchyard.stream': body.stream === true && endpoint !== 'embeddings',
  });
  try {
    await serveInference(endpoint, req, reply, ctx, trace);
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

async function serveInference(endpoint: Endpoint, req: FastifyRequest, reply: FastifyReply, ctx: InferenceContext, trace: RequestTrace | undefined): Promise<void> {
  const receivedAt = performance.now();
  if (ctx.isDraining()) throw new GatewayError('SY_ERR_DRAINING', 'the gateway is shutting down', { headers: { 'retry-after': '1', connection: 'close' } });
  const body = req.body as Body;
  const model = body.model as string;
  const route = ctx.routes.resolve(model);
  if (!route || ctx.tenants?.mayUse(req, route) === false) {
    throw new GatewayError('SY_ERR_MODEL_NOT_FOUND', `The model \`${model}\` does not exist or you do not have access to it.`, { param: 'model' });
  }
  const serves = servingFilter(endpoint);
  const arm = route.arms.pick(body, req.headers);
  // A continued response goes to the backend that holds it, whatever its arm.
  const owner = previousResponseOwner(endpoint, body, ctx);
  const filter = owner === undefined ? serves : (b: Backend) => b.id === owner && (serves?.(b) ?? true);
  let candidates = route.candidates(filter, owner === undefined ? arm.name : undefined);
  // An arm with nothing healthy must not fail the request: the other arms serve it (the
  // comparison loses a sample, the user does not).
  if (!candidates.some((c) => c.healthy)) candidates = route.candidates(filter);
  if (owner === undefined && candidates.length === 0) {
    throw new GatewayError('SY_ERR_ENDPOINT_NOT_SUPPORTED', `no backend of \`${model}\` serves /v1/${endpoint === 'chat' ? 'chat/completions' : endpoint}`);
  }
  if (owner !== undefined && !candidates.some((c) => c.healthy)) {
    // Another replica does not hold the response: answering from one would be a wrong answer.
    throw new GatewayError('SY_ERR_RESPONSE_UNAVAILABLE', candidates.length === 0
      ? `backend ${owner}, which holds \`${String(body.previous_response_id)}\`, no longer serves \`${model}\``
      : `backend ${owner}, which holds \`${String(body.previous_response_id)}\`, is unhealthy`, { param: 'previous_response_id', headers: { 'retry-after': '1' } });
  }
  const stream = body.stream === true && endpoint !== 'embeddings';
  const clientWantsUsage = isObject(body.stream_options) && body.stream_options.include_usage === true;

  // In flight from the moment it holds a route (no await in between): a drain or a reload that
  // retires backends waits for it, its key's limit check included.
  const cancel = new Cancel();
  ctx.inFlight.count++;
  ctx.inFlight.cancels?.add(cancel);
  const access: AccessRecord = { model: route.model, key: ctx.tenants?.keyIdOf(req), arm: arm.name, status: 0, stream };
  const deadlines = new UpstreamDeadlines(route.timeouts, cancel);
  const onClose = () => { if (!reply.raw.writableFinished) cancel.cancel(new Error('client disconnected')); };
  reply.raw.once('close', onClose);
  let admission: Admission | undefined;
  try {
    admission = await ctx.tenants?.admit(req, route, body);
    if (admission) for (const [name, value] of Object.entries(admission.headers)) reply.raw.setHeader(name, value);
    deadlines.start(stream);
    const { backend, record, upstream } = await dispatchWithRetries(route, candidates, filter, endpoint, body, stream, req, cancel, ctx, receivedAt, trace);
    // A shadow copy of a Responses request would store a response on a replica nobody asks again.
    if (route.shadow && endpoint !== 'responses' && Math.random() < route.shadow.fraction) sendShadow(route, endpoint, body, stream, req);
    const overheadMs = upstream.sentAt - receivedAt;
    const m = ctx.metrics.forRoute(route.model, backend.id, backend.engine);
    m.inFlight.inc();
    try {
      // dispatchWithRetries hands back only answers below 400; every one of them is relayed.
      access.backend = backend.id;
      access.reason = record.reason;
      const outcome = await relayReply(upstream.reply, reply, { endpoint, stream, clientWantsUsage, backend, overheadMs, receivedAt, m, ctx, req, record, admission, deadlines, cancel, trace });
      Object.assign(access, { status: outcome.status ?? 200, ttftMs: outcome.ttftMs, promptTokens: outcome.promptTokens, completionTokens: outcome.completionTokens, cachedTokens: outcome.cachedTokens });
      route.arms.record(arm.name, outcome);
      ctx.metrics.observeArm(route.model, arm.name, outcome);
    } finally {
      m.inFlight.dec();
    }
  } catch (err) {
    const refused = err instanceof GatewayError ? err : cancel.reason instanceof GatewayError ? cancel.reason : undefined;
    access.status = cancel.aborted && !refused ? 'client-gone' : refused?.status ?? 500;
    access.error = refused?.body().error.code ?? (cancel.aborted ? undefined : 'internal_error');
    if (cancel.reason instanceof DrainDeadline && !reply.sent && !reply.raw.headersSent) {
      throw new GatewayError('SY_ERR_DRAINING', 'the gateway is shutting down', { headers: { 'retry-after': '1', connection: 'close' } });
    }
    // A deadline gave up on the engine before the answer began: its error is the answer.
    if (cancel.reason instanceof GatewayError && !reply.sent && !reply.raw.headersSent) {
      req.log.warn({ model, code: cancel.reason.errorName }, cancel.reason.message);
      ctx.metrics.upstreamErrors.inc({ backend: access.backend ?? 'none', kind: 'timeout' });
      throw cancel.reason;
    }
    if (!(err instanceof ClientGone) && !cancel.aborted) throw err;
    // The upstream request was aborted with the client; there is no one to answer.
    req.log.info({ model }, 'client disconnected; upstream request aborted');
    ctx.metrics.requests.inc({ model: route.model, backend: 'none', engine: 'none', status: 'client-gone' });
    if (!reply.sent) reply.hijack();
  } finally {
    releaseBody(body);
    ctx.accessLog?.write(req, access, performance.now() - receivedAt);
    trace?.answered(access);
    deadlines.clear();
    admission?.settle(undefined);
    admission?.release();
    reply.raw.off('close', onClose);
    ctx.inFlight.cancels?.delete(cancel);
    if (--ctx.inFlight.count === 0) ctx.inFlight.onIdle?.();
    // A finished request frees capacity: waiting requests may now meet their SLO somewhere.
    route.admission?.kick();
  }
}

/** Backends that serve the endpoint; undefined: every backend (chat and completions). */
function servingFilter(endpoint: Endpoint): ((b: Backend) => boolean) | undefined {
  if (endpoint === 'embeddings') return (b) => b.capabilities.embeddings;
  if (endpoint === 'responses') return (b) => b.capabilities.responses === true;
  return undefined;
}

/** The backend holding the response a Responses request continues, when this process relayed it. */
function previousResponseOwner(endpoint: Endpoint, body: Body, ctx: InferenceContext): string | undefined {
  if (endpoint !== 'responses' || typeof body.previous_response_id !== 'string') return undefined;
  return ctx.responseOwners?.ownerOf(body.previous_response_id);
}

function headerNumber(req: FastifyRequest, name: string): number | undefined {
  const v = req.headers[name];
  if (typeof v !== 'string' || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new GatewayError('SY_ERR_INVALID_FIELD', `${name}: expected a positive number of milliseconds, got ${JSON.stringify(v)}`, { param: name });
  return n;
}

function sloOf(route: Route, req: FastifyRequest): RoutingRequest['slo'] {
  const ttftMs = headerNumber(req, 'x-slo-ttft-ms') ?? route.slo?.ttftMs;
  const tpotMs = headerNumber(req, 'x-slo-tpot-ms') ?? route.slo?.tpotMs;
  return ttftMs === undefined && tpotMs === undefined ? undefined : { ttftMs, tpotMs };
}

async function dispatchWithRetries(
  route: Route, candidates: Candidate[], filter: ((b: Backend) => boolean) | undefined, endpoint: Endpoint, body: Body, stream: boolean, req: FastifyRequest,
  cancel: Cancel, ctx: InferenceContext, receivedAt: number, trace: RequestTrace | undefined,
): Promise<{ backend: Backend; record: DispatchRecord; upstream: { reply: DispatchReply; sentAt: number } }> {
  const tried = new Set<string>();
  let lastFailure: AttemptFailure | undefined;
  // A backend that answered 5xx is not blamed at once: an engine error can be the request's own
  // doing (a body the engine chokes on), and five such requests must not open every backend's
  // breaker. The blame is settled by what the next candidate does with the same request: it
  // answers → the first backend failed (counted); it fails the same way → the request is at fault
  // (no backend is counted, and no further backend is tried). Unsettled (no other candidate tried)
  // counts nothing: a backend that fails everything is then left to its active health check.
  let suspect: { id: string; breaker: CircuitBreaker } | undefined;
  const routingRequest: RoutingRequest = { requestId: req.id, model: route.model, body, headers: req.headers, slo: sloOf(route, req), template: route.template };
  // A large body was keyed in the worker that parsed it (its canonical prompt; it is not tokenized).
  const large = largeBodyInfo(body);
  if (large) {
    routingRequest.prefix = large.prefix;
  } else if (route.tokenizer) {
    const tokenized = await tokenizeForRouting(route, body, ctx.routes.state.chunkBytes);
    if (tokenized) {
      routingRequest.tokens = tokenized.tokens;
      routingRequest.prefix = tokenized.prefix;
    }
  }
  route.retryBudget.onRequest();
  try {
    for (let attempt = 0; attempt <= route.retries; attempt++) {
      // A retry spends from the route's budget: a failing fleet must not see a retry storm.
      if (attempt > 0 && !route.retryBudget.tryRetry()) {
        req.log.warn({ model: route.model }, 'retry budget exhausted');
        break;
      }
      const open = candidates.filter((c) => !tried.has(c.backend.id));
      const routing = trace?.route(attempt);
      let decision = route.policy.select(open, routingRequest);
      if (!decision) {
        routing?.none();
        break;
      }
      if (decision.meetsSlo === false && route.admission) {
        // A key's priority, when keys are configured (a client cannot promote itself by header).
        const priority = ctx.tenants?.priorityOf(req) ?? (Number(req.headers['x-priority'] ?? 0) || 0);
        decision = await route.admission.admit(decision, priority, () =>
          route.policy.select(route.candidates(filter).filter((c) => !tried.has(c.backend.id)), routingRequest));
      }
      const backend = decision.backend;
      tried.add(backend.id);
      ctx.metrics.decided(route.model, route.policy.type, decision.kind ?? route.policy.type, backend.id);
      const chosen = open.find((c) => c.backend === backend)!;
      const record = ctx.learner.onDecision(route, chosen, routingRequest, decision);
      routing?.decided(backend.id, record.reason, route.policy.type);
      const upstreamBody: Body = { ...body, model: route.engineModel(backend) };
      if (stream && endpoint !== 'responses') {
        // Ask every engine for usage so the gateway always knows token counts; the relay strips
        // the usage chunk when the client did not ask for it.
        upstreamBody.stream_options = { ...(isObject(body.stream_options) ? body.stream_options : {}), include_usage: true };
      }
      const breaker = ctx.routes.breakers.of(backend.id);
      breaker.onDispatch();
      const sentAt = performance.now();
      if (attempt === 0) ctx.metrics.overhead.observe((sentAt - receivedAt) / 1000);
      let reply: DispatchReply;
      const dispatching = trace?.dispatch(backend, attempt);
      try {
        reply = await backend.dispatch({
          endpoint, body: upstreamBody, stream, cancel, requestId: req.id, headers: dispatching ? dispatching.headers(req.headers) : req.headers, prefixHashes: routingRequest.prefix?.hashes, prefixChunkBytes: routingRequest.prefix?.chunkBytes,
        });
      } catch (err) {
        ctx.learner.prefilled(record);
        dispatching?.failed(err instanceof GatewayError ? err.body().error.code : cancel.aborted ? 'client_gone' : transportCode(err) ?? 'dispatch_failed', err);
        if (err instanceof GatewayError) { breaker.onInconclusive(); throw err; }
        if (cancel.aborted) { breaker.onInconclusive(); throw new ClientGone('client disconnected before the upstream answered'); }
        const message = err instanceof Error ? err.message : String(err);
        if (isLanguageError(err)) {
          // A bug, or a body that broke the plugin (a RangeError from serialising it): Switchyard's
          // fault or the request's, never the backend's.
          breaker.onInconclusive();
          throw new GatewayError('SY_ERR_INTERNAL', 'internal error', { cause: err });
        }
        const timeout = err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.ConnectTimeoutError;
        breaker.onFailure();
        ctx.metrics.upstreamErrors.inc({ backend: backend.id, kind: timeout ? 'timeout' : 'connect' });
        req.log.warn({ backend: backend.id, err: message, attempt }, 'upstream dispatch failed');
        // The client learns which backend and what kind of failure, never the engine's address.
        const kind = transportCode(err);
        lastFailure = new AttemptFailure(
          timeout
            ? new GatewayError('SY_ERR_UPSTREAM_TIMEOUT', `backend ${backend.id} did not answer in time`)
            : new GatewayError('SY_ERR_UPSTREAM_UNREACHABLE', `backend ${backend.id} is unreachable${kind ? ` (${kind})` : ''}`),
          !timeout,
        );
        if (!lastFailure.retryable) throw lastFailure.error;
        continue;
      }
      if (reply.status < 400) {
        dispatching?.answered(reply.status);
        breaker.onSuccess();
        // The same request succeeded here: the backend that answered 5xx before was at fault.
        suspect?.breaker.onFailure();
        suspect = undefined;
        return { backend, record, upstream: { reply, sentAt } };
      }
      ctx.learner.prefilled(record);
      const text = await readAll(reply);
      lastFailure = classifyStatus(backend, reply.status, text);
      dispatching?.answered(reply.status, lastFailure.error.body().error.code);
      ctx.metrics.upstreamErrors.inc({ backend: backend.id, kind: reply.status === 429 ? 'status_429' : reply.status >= 500 ? 'status_5xx' : 'status_4xx' });
      ctx.metrics.forRoute(route.model, backend.id, backend.engine).requests(String(reply.status)).inc();
      req.log.warn({ backend: backend.id, status: reply.status, attempt }, 'upstream answered an error');
      if (reply.status < 500) {
        breaker.onSuccess(); // a 4xx or 429 is an answer: the backend is up
      } else if (suspect) {
        // Two backends failed this one request: the request is at fault, not them.
        breaker.onInconclusive();
        suspect = undefined;
        req.log.warn({ model: route.model }, 'the request failed on two backends; not retried further, no backend blamed');
        throw lastFailure.error;
      } else {
        breaker.onInconclusive();
        suspect = { id: backend.id, breaker };
      }
      if (!lastFailure.retryable) throw lastFailure.error;
    }
  } finally {
    suspect?.breaker.onInconclusive();
  }
  if (lastFailure) throw lastFailure.error;
  throw new GatewayError('SY_ERR_NO_HEALTHY_BACKEND', `no healthy backend for \`${route.model}\``, { headers: { 'retry-after': '1' } });
}

/**
 * JavaScript's own errors (TypeError, RangeError…) mean a bug or a request that broke the code
 * handling it; everything else a plugin rejects with — undici's and Node's network errors, an
 * in-process engine's failures — is the backend's.
 */
function isLanguageError(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError
    || err instanceof ReferenceError || err instanceof EvalError || err instanceof URIError;
}

function transportCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function classifyStatus(backend: Backend, status: number, text: string): AttemptFailure {
  const parsed = backend.parseError(status, text);
  const message = `${backend.id}: ${parsed.message}`;
  if (status === 429) {
    return new AttemptFailure(new GatewayError('SY_ERR_UPSTREAM_RATE_LIMITED', message, { headers: { 'retry-after': '1' } }), true);
  }
  if (status >= 500) return new AttemptFailure(new GatewayError('SY_ERR_UPSTREAM_ERROR', message), true);
  // The engine refused this request: another replica of the same engine would too.
  const name: ErrorName = 'SY_ERR_UPSTREAM_REJECTED';
  return new AttemptFailure(new GatewayError(name, parsed.message, { status, param: typeof parsed.param === 'string' ? parsed.param : null }), false);
}

interface RelayContext {
  endpoint: Endpoint;
  record: DispatchRecord;
  stream: boolean;
  clientWantsUsage: boolean;
  backend: Backend;
  overheadMs: number;
  receivedAt: number;
  m: RouteMetrics;
  ctx: InferenceContext;
  req: FastifyRequest;
  admission?: Admission;
  deadlines: UpstreamDeadlines;
  cancel: Cancel;
  trace?: RequestTrace;
}

async function relayReply(upstream: DispatchReply, reply: FastifyReply, r: RelayContext): Promise<ArmOutcome> {
  try {
    return await relayAnswer(upstream, reply, r);
  } finally {
    // However the answer ended, its prefill is no longer ahead of anyone on that backend.
    r.ctx.learner.prefilled(r.record);
  }
}

async function relayAnswer(upstream: DispatchReply, reply: FastifyReply, r: RelayContext): Promise<ArmOutcome> {
  const { metrics } = r.ctx;
  const headers = {
    'x-switchyard-backend': r.backend.id,
    'x-switchyard-route-reason': r.record.reason,
    'x-switchyard-overhead-ms': r.overheadMs.toFixed(3),
    'x-request-id': r.req.id,
  };
  if (!r.stream) {
    const text = await readAll(upstream);
    if (r.endpoint === 'responses') rememberResponse(r, responseIdOf(text));
    const usage = readUsage(text);
    observeUsage(r.m, usage);
    r.admission?.settle(usage);
    r.ctx.learner.onOutcome(r.record, { usage });
    const e2eMs = performance.now() - r.receivedAt;
    r.m.e2e.observe(e2eMs / 1000);
    r.m.requests(String(upstream.status)).inc();
    reply.code(upstream.status).headers(headers).header('content-type', 'application/json').send(text);
    return { ok: true, e2eMs, completionTokens: usage?.completion_tokens, promptTokens: usage?.prompt_tokens, cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? undefined, status: upstream.status };
  }
  reply.hijack();
  const res = reply.raw;
  // Headers the hooks set on the reply (x-content-type-options, …) go out with the hijacked stream's.
  res.writeHead(200, { ...(reply.getHeaders() as OutgoingHttpHeaders), ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  const onContent = r.admission?.streamed;
  const streaming = r.trace?.stream(r.backend.id);
  const outcome = await relaySse(upstream.body, res, {
    dialect: r.endpoint === 'responses' ? 'responses' : 'chat',
    stripUsage: !r.clientWantsUsage,
    onResponseId: (id) => rememberResponse(r, id),
    now: () => performance.now(),
    isClientGone: () => res.destroyed || res.writableEnded,
    stallTimeoutMs: r.ctx.clientStallTimeoutMs,
    onFirstToken: () => { r.ctx.learner.prefilled(r.record, true); streaming?.firstToken(); },
    onContent: onContent ? () => { r.deadlines.token(); onContent(); } : () => r.deadlines.token(),
    // The stream's own error when a deadline cut it (first token, stall, whole request).
    interruption: () => (r.cancel.reason instanceof GatewayError ? r.cancel.reason : undefined),
  });
  if (outcome.end === 'client-gone') {
    // Abort the upstream at once: an orphaned generation holds a GPU slot.
    upstream.body.destroy();
    r.req.log.info({ backend: r.backend.id }, 'client disconnected mid-stream; upstream aborted');
  } else {
    res.end();
  }
  if (outcome.end === 'upstream-failed' || outcome.end === 'truncated') {
    metrics.upstreamErrors.inc({ backend: r.backend.id, kind: 'stream' });
    r.req.log.warn({ backend: r.backend.id, err: outcome.error }, 'upstream stream failed after the first byte');
  }
  const end = performance.now();
  r.m.requests(outcome.end === 'done' ? '200' : outcome.end).inc();
  r.m.e2e.observe((end - r.receivedAt) / 1000);
  let ttftMs: number | undefined;
  let tpotMs: number | undefined;
  if (outcome.firstTokenAt !== undefined) {
    ttftMs = outcome.firstTokenAt - r.receivedAt;
    r.m.ttft.observe(ttftMs / 1000);
    const tokens = outcome.usage?.completion_tokens ?? outcome.contentEvents;
    if (tokens > 1 && outcome.lastTokenAt !== undefined) {
      tpotMs = (outcome.lastTokenAt - outcome.firstTokenAt) / (tokens - 1);
      r.m.tpot.observe(tpotMs / 1000);
    }
  }
  observeUsage(r.m, outcome.usage);
  streaming?.ended(outcome.end, { ttftMs, contentEvents: outcome.contentEvents, promptTokens: outcome.usage?.prompt_tokens, completionTokens: outcome.usage?.completion_tokens });
  r.admission?.settle(outcome.usage, outcome.contentEvents);
  if (outcome.end === 'done') r.ctx.learner.onOutcome(r.record, { usage: outcome.usage, ttftMs, tpotMs });
  return {
    ok: outcome.end === 'done', ttftMs, tpotMs, e2eMs: end - r.receivedAt, completionTokens: outcome.usage?.completion_tokens,
    promptTokens: outcome.usage?.prompt_tokens, cachedTokens: outcome.usage?.prompt_tokens_details?.cached_tokens ?? undefined,
    status: outcome.end === 'done' ? 200 : outcome.end,
  };
}

function rememberResponse(r: RelayContext, responseId: string | undefined): void {
  if (responseId !== undefined) r.ctx.responseOwners?.remember(responseId, r.backend.id);
}

/** Read an answer whole (error bodies, non-streamed answers): the plugin's collector where it has one. */
async function readAll(reply: DispatchReply): Promise<string> {
  if (reply.text) return reply.text();
  const chunks: Buffer[] = [];
  for await (const chunk of reply.body as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function observeUsage(m: RouteMetrics, usage: Usage | undefined): void {
  if (!usage) return;
  if (typeof usage.prompt_tokens === 'number') m.promptTokens.inc(usage.prompt_tokens);
  if (typeof usage.completion_tokens === 'number') m.completionTokens.inc(usage.completion_tokens);
  const cached = usage.prompt_tokens_details?.cached_tokens;
  if (typeof cached === 'number') m.cachedTokens.inc(cached);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
