/**
 * The HTTP front door: fastify, JSON-schema-checked bodies, one error catalogue, and the routes
 * /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses, /v1/models (and
 * /v1/models/{id}), /health, /ready, /metrics.
 */
import { AccessLog } from './access-log.js';
import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { RoutingLearner } from '../routing/learner.js';
import type { Route, RouteTable } from '../routing/route-table.js';
import type { Tenants } from '../auth/tenants.js';
import { GatewayError } from './errors.js';
import { handleInference, type InferenceContext } from './inference.js';
import type { Tracing } from '../telemetry/tracing.js';
import type { Endpoint } from '../plugin/types.js';
import { chatBodySchema, completionBodySchema, describeValidationError, embeddingBodySchema, responsesBodySchema } from './schemas.js';
import { ResponseOwners } from './response-owners.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.js';
import { registerDashboard } from './dashboard/index.js';
import { DEFAULT_INLINE_BODY_BYTES, LargeBodies } from './large-body.js';
import { ShadowTraffic } from './shadow.js';
import { RelayTurns } from './turns.js';
import type { ClientReply, ClientRequest } from './client.js';
import { FastLane, type JsonParser, type LaneRoute } from './fast-lane.js';

export interface AppOptions {
  routes: RouteTable;
  learner: RoutingLearner;
  metrics: GatewayMetrics;
  bodyLimit: number;
  /** The whole request (headers and body) must arrive within this long (node:http requestTimeout). */
  requestTimeoutMs?: number;
  /** A stream's client that takes nothing for this long is dropped. */
  clientStallTimeoutMs?: number;
  logger: FastifyBaseLogger | boolean;
  isDraining: () => boolean;
  inFlight: InferenceContext['inFlight'];
  /** 'connected' or 'degraded' (a degraded store does not make the gateway unready). */
  storeStatus?: () => string;
  /** API keys, admin keys and limits (core/auth); without it everything is open. */
  tenants?: Tenants;
  /** Successful requests' access lines are sampled at this rate (failures always logged); default 0. */
  accessLogSampleRate?: number;
  /** Inference bodies larger than this are parsed, checked and serialised off the event loop (large-body.ts). */
  inlineBodyBytes?: number;
  /** OpenTelemetry spans of inference requests (off when undefined). */
  tracing?: Tracing;
}

function toGatewayError(err: FastifyError): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err.validation && err.validation.length > 0) {
    const failure = describeValidationError(err.validation[0]);
    return new GatewayError(failure.name, failure.message, { param: failure.param ?? null });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('SY_ERR_BODY_TOO_LARGE', 'the request body is larger than the gateway accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('SY_ERR_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('SY_ERR_INVALID_JSON', `the body is not valid JSON: ${err.message}`);
  }
  if (err instanceof SyntaxError || err.statusCode === 400) {
    return new GatewayError('SY_ERR_INVALID_JSON', `the body is not valid JSON: ${err.message}`);
  }
  return new GatewayError('SY_ERR_INTERNAL', 'internal error', { cause: err });
}

/** Before schema validation: a body that is missing, or too deep to serialise again, never reaches a backend. */
function bodyRefusal(body: unknown): GatewayError | undefined {
  // No body, or one without a content type (fastify leaves it unparsed).
  if (body === undefined || body === null) return new GatewayError('SY_ERR_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  if (nestsDeeperThan(body, MAX_JSON_DEPTH)) return new GatewayError('SY_ERR_INVALID_JSON', `the body nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`);
  return undefined;
}

function refuseDeepBodies(req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
  done(bodyRefusal(req.body));
}

/**
 * A client's X-Request-Id is kept only when it is a sane id (it is logged, echoed and sent to the
 * engine): at most 128 characters of letters, digits and . _ : -. Otherwise a fresh one.
 */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
}

/** The one error answer of every route: the catalogue's status, headers and body, logged with the request id. */
function answerError(err: Error, req: ClientRequest, reply: ClientReply, metrics: GatewayMetrics): void {
  const gerr = toGatewayError(err as FastifyError);
  if (gerr.status >= 500) req.log.error({ err, code: gerr.errorName }, gerr.message);
  else req.log.info({ code: gerr.errorName, status: gerr.status }, gerr.message);
  if (reply.sent || reply.raw.headersSent) return;
  metrics.answeredError(gerr.status, gerr.body().error.code);
  reply.code(gerr.status).headers(gerr.headers).header('x-request-id', req.id).send(gerr.body());
}

function answerClientError(err: Error & { code?: string }, socket: Duplex, metrics: GatewayMetrics): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const name = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'SY_ERR_REQUEST_TIMEOUT'
    : err.code === 'HPE_HEADER_OVERFLOW' ? 'SY_ERR_HEADERS_TOO_LARGE' : 'SY_ERR_BAD_REQUEST';
  const message = name === 'SY_ERR_REQUEST_TIMEOUT' ? 'the request did not arrive whole in time'
    : name === 'SY_ERR_HEADERS_TOO_LARGE' ? 'the request headers are too large' : 'the HTTP request is malformed';
  const gerr = new GatewayError(name, message);
  const body = JSON.stringify(gerr.body());
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  metrics.answeredError(gerr.status, gerr.body().error.code);
  socket.end(`HTTP/1.1 ${gerr.status} ${STATUS_CODES[gerr.status]}\r\ncontent-type: application/json; charset=utf-8\r\nx-content-type-options: nosniff\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

export function buildApp(opts: AppOptions): FastifyInstance & { fastLane: FastLane } {
  // The inference fast lane (fast-lane.ts) sees each request before fastify; it is built below,
  // once the routes' context is.
  const front: { lane?: FastLane } = {};
  const app = Fastify({
    loggerInstance: typeof opts.logger === 'object' ? opts.logger : undefined,
    logger: typeof opts.logger === 'boolean' ? opts.logger : undefined,
    bodyLimit: opts.bodyLimit,
    // A client that sends headers and then no body (or trickles it) is cut off, not held for ever.
    // node:http checks the deadline on an interval (30 s by default): check at a tenth of it.
    serverFactory: (handler) => createServer({
      requestTimeout: opts.requestTimeoutMs ?? 30_000,
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor((opts.requestTimeoutMs ?? 30_000) / 10))),
    }, (req, res) => {
      if (!front.lane?.take(req, res)) handler(req, res);
    }),
    // Per-request access logs cost a large share of a proxy's throughput; errors and decisions
    // worth reading are logged where they happen, with the request id.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: requestIdOf,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    return503OnClosing: false,
    // Errors node:http meets before any handler runs (malformed HTTP, oversized headers, a request
    // that did not arrive in time) are answered in the catalogue's shape too.
    clientErrorHandler: (err, socket) => answerClientError(err, socket, opts.metrics),
  });
  // text/plain is not JSON: 415, not a string body that fails validation.
  app.removeContentTypeParser('text/plain');
  const largeBodies = new LargeBodies({ inlineBytes: opts.inlineBodyBytes ?? DEFAULT_INLINE_BODY_BYTES, bodyLimit: opts.bodyLimit, chunkBytes: opts.routes.state.chunkBytes });
  largeBodies.install(app);
  app.addHook('onClose', async () => largeBodies.close());

  app.setErrorHandler((err: FastifyError, req, reply) => answerError(err, req, reply, opts.metrics));
  app.setNotFoundHandler((req, reply) => {
    const gerr = new GatewayError('SY_ERR_ROUTE_NOT_FOUND', `no route for ${req.method} ${req.url.split('?')[0]}`);
    opts.metrics.answeredError(gerr.status, gerr.body().error.code);
    void reply.code(gerr.status).send(gerr.body());
  });

  // No browser may sniff an answer (an error body echoing input included) into something it runs.
  app.addHook('onRequest', (_req, reply, done) => {
    reply.header('x-content-type-options', 'nosniff');
    done();
  });

  const tenants = opts.tenants;
  // Keys are checked before the body is read: an unknown caller costs no parsing.
  if (tenants?.guarding) {
    app.addHook('onRequest', (req, _reply, done) => {
      try {
        tenants.guard(req);
      } catch (err) {
        done(err as Error);
        return;
      }
      done();
    });
  }

  const ctx: InferenceContext = {
    routes: opts.routes, learner: opts.learner, metrics: opts.metrics, isDraining: opts.isDraining, inFlight: opts.inFlight,
    clientStallTimeoutMs: opts.clientStallTimeoutMs ?? 60_000, tenants, accessLog: new AccessLog(opts.accessLogSampleRate ?? 0),
    responseOwners: new ResponseOwners(), tracing: opts.tracing, shadows: new ShadowTraffic(), relayTurns: new RelayTurns(),
  };
  const inference: [string, Endpoint, object][] = [
    ['/v1/chat/completions', 'chat', chatBodySchema],
    ['/v1/completions', 'completions', completionBodySchema],
    ['/v1/embeddings', 'embeddings', embeddingBodySchema],
    ['/v1/responses', 'responses', responsesBodySchema],
  ];
  for (const [path, endpoint, body] of inference) {
    app.post(path, { schema: { body }, validatorCompiler: largeBodies.validatorCompiler, preValidation: refuseDeepBodies }, async (req, reply) => {
      await handleInference(endpoint, req, reply, ctx);
      return reply;
    });
  }
  const laneRoutes = new Map<string, LaneRoute>(inference.map(([path, endpoint, schema]) => [path, { endpoint, validate: largeBodies.validatorCompiler({ schema }) }]));
  const inlineBytes = Math.min(opts.inlineBodyBytes ?? DEFAULT_INLINE_BODY_BYTES, opts.bodyLimit);
  const lane = new FastLane({
    routes: laneRoutes, maxBodyBytes: inlineBytes, ctx, logger: app.log, requestIdOf, refuseBody: bodyRefusal,
    parseJson: app.getDefaultJsonParser('error', 'error') as JsonParser,
    answerError: (err, req, reply) => answerError(err, req, reply, opts.metrics),
  });
  front.lane = lane;

  app.get('/v1/models', async (req) => {
    const created = Math.floor(Date.now() / 1000);
    const data = opts.routes.routes.filter((route) => tenants?.mayUse(req, route) ?? true)
      .flatMap((route) => [route.model, ...route.aliases].map((id) => modelEntry(route, id, created)));
    return { object: 'list', data };
  });
  // A wildcard, not `:id`: engine model names hold slashes (`Qwen/Qwen2.5-7B-Instruct`).
  app.get<{ Params: { '*': string } }>('/v1/models/*', async (req) => {
    const id = req.params['*'];
    const route = opts.routes.resolve(id);
    if (!route || tenants?.mayUse(req, route) === false) {
      throw new GatewayError('SY_ERR_MODEL_NOT_FOUND', `The model \`${id}\` does not exist or you do not have access to it.`, { param: 'model' });
    }
    return modelEntry(route, id, Math.floor(Date.now() / 1000));
  });

  app.get<{ Params: { model: string } }>('/admin/ab/:model', async (req) => {
    const route = opts.routes.resolve(req.params.model);
    if (!route) throw new GatewayError('SY_ERR_MODEL_NOT_FOUND', `The model \`${req.params.model}\` does not exist.`, { param: 'model' });
    return { model: route.model, policy: route.policy.type, ...route.arms.report() };
  });

  // What the router believes about each backend: its fitted latency model, how many prefix chunks
  // it is credited with, its breaker — the numbers behind x-switchyard-route-reason.
  app.get('/admin/routing', async () => {
    const backends = [...new Set(opts.routes.routes.flatMap((r) => r.backends))];
    return {
      backends: backends.map((b) => ({
        id: b.id, engine: b.engine, health: b.health(), breaker: opts.routes.breakers.of(b.id).status(), signals: b.signals(),
        prefix_index: { chunks: opts.routes.state.prefixes.of(b.id).size, capacity: opts.routes.state.prefixes.of(b.id).capacity },
        latency_model: opts.routes.state.latency.of(b.id).coefficients(),
        cached_tokens: opts.learner.cachedTokenSource(b).describe(),
        routing_precision: opts.learner.precisionOf(b.id).report(),
        kv_cache: b.kvCache?.describe(),
        tokenizer_check: opts.learner.tokenizerChecks.report(b.id),
        awaiting_first_token: { requests: opts.routes.state.latency.of(b.id).prefilling, uncached_tokens: Math.round(opts.routes.state.latency.of(b.id).backlogTokens) },
      })),
      // Exact routes' tokenizers: where the work is done, and whether long contents are spliced
      // into the rendered template (TokenizerPool.encodeChatSegmented) or it is rendered whole.
      routes: opts.routes.routes.flatMap((r) => (r.tokenizer ? [{ model: r.model, tokenizer: r.tokenizer.stats() }] : [])),
    };
  });

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_req, reply) => {
    const routes = opts.routes.routes.map((r) => ({
      model: r.model,
      healthy: r.backends.filter((b) => b.health().status !== 'unhealthy').map((b) => b.id),
      unhealthy: r.backends.filter((b) => b.health().status === 'unhealthy').map((b) => ({ id: b.id, reason: b.health().reason })),
    }));
    const ready = !opts.isDraining() && routes.every((r) => r.healthy.length > 0);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : opts.isDraining() ? 'draining' : 'not ready', store: opts.storeStatus?.(), routes });
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await opts.metrics.registry.metrics();
    return reply.header('content-type', opts.metrics.registry.contentType).send(text);
  });
  registerDashboard(app, { routes: () => opts.routes, learner: opts.learner, metrics: opts.metrics, tenants });
  return Object.assign(app, { fastLane: lane });
}

/** One model of /v1/models (a route's name or one of its aliases), as OpenAI lists models, plus the route. */
function modelEntry(route: Route, id: string, created: number): Record<string, unknown> {
  const engines = [...new Set(route.backends.map((b) => (b.simulated ? `${b.engine} (simulated)` : b.engine)))];
  return {
    id, object: 'model', created, owned_by: engines.join(', '),
    root: route.model,
    switchyard: { backends: route.backends.map((b) => b.id), policy: route.policy.type, simulated: route.backends.every((b) => b.simulated) },
  };
}
