/**
 * One gateway process: backends created by their plugins and started, the route table, metrics,
 * the HTTP app; a reload (SIGHUP, POST /admin/reload) that swaps backends and routes; and a drain
 * that stops accepting, lets in-flight requests finish up to a deadline, then closes everything.
 */
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import pino, { type DestinationStream } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import { loadConfig } from '../config/load.js';
import { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { Backend, BackendPlugin, PluginContext } from '../plugin/types.js';
import { LatencyModels } from '../routing/latency-model.js';
import { RoutingLearner } from '../routing/learner.js';
import { PrefixIndexes } from '../routing/prefix-index.js';
import { BytesPerToken, sizePrefixIndex } from '../routing/bytes-per-token.js';
import { Speculations } from '../routing/exact-prefix.js';
import type { EngineReading } from '../state/types.js';
import { toWire } from '../routing/kv-tracker.js';
import type { RoutingState } from '../routing/policy.js';
import { RemoteLoad } from '../routing/remote-load.js';
import { RouteTable, type Route } from '../routing/route-table.js';
import { createStateStore } from '../state/index.js';
import type { StateStore } from '../state/types.js';
import { drainAcceptQueue, type AcceptPending } from './accept-queue.js';
import { buildApp } from './app.js';
import { DrainDeadline } from './inference.js';
import type { Cancel } from '../plugin/cancel.js';
import { createTenants } from '../auth/index.js';
import { BackendSet } from './backend-set.js';
import { Reloader, registerReloadRoute, type ReloadOutcome } from './reload.js';
import { Discovery } from './discovery.js';
import { createTracing, type TracingOptions } from '../telemetry/tracing.js';

export interface GatewayOptions {
  /** Overrides config.listen.port (0 picks a free port). */
  port?: number;
  host?: string;
  logLevel?: string;
  /** Where log lines go (default stdout); embedding and tests. */
  logDestination?: DestinationStream;
  /** This process reads drain-on-read engine endpoints (one process of a worker group). */
  drainingReader?: boolean;
  /** A state store to use instead of the one the config describes (tests: replicas on one bus). */
  store?: StateStore;
  /** Plugins to use instead of the registry's for their type (embedding and tests). */
  plugins?: ReadonlyMap<string, BackendPlugin>;
  /** POST /admin/reload reloaded this process: the other processes of the gateway should too (workers). */
  onReloadRequested?: () => void;
  /** Trace requests to this exporter whatever OTEL_* says (tests); by default the environment decides. */
  tracing?: TracingOptions;
  /** Takes the connections waiting on the listening socket in one call (native/accept.ts); without it, one per event-loop turn. */
  acceptPending?: AcceptPending;
}

export interface Gateway {
  app: ReturnType<typeof buildApp>;
  url: string;
  /** The backends serving now (a reload changes them). */
  readonly backends: readonly Backend[];
  /** Routes and the routing state (prefix indexes, latency models): for admin views and tests. */
  routes: RouteTable;
  /** Re-read the config file and swap backends and routes (SIGHUP); the outcome is logged too. */
  reload(): Promise<ReloadOutcome>;
  /** Stop accepting, finish in-flight requests (up to the config's drain deadline), close. */
  drain(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const log: FastifyBaseLogger = pino({ level: opts.logLevel ?? process.env.SWITCHYARD_LOG_LEVEL ?? 'info', base: { pid: process.pid } }, opts.logDestination);
  // First: a wrong OTEL_TRACES_EXPORTER is refused before anything has started.
  const tracing = createTracing(process.env, opts.tracing);
  // The reader of drain-on-read endpoints: worker 0, and with a shared store only the replica
  // holding the store's lease (settled below, once the store is up; renewed every second).
  const workerReads = opts.drainingReader ?? true;
  const sharedStore = opts.store !== undefined || config.store.type === 'redis';
  let elected = !sharedStore;
  const ctx: PluginContext = {
    configDir: path.dirname(path.resolve(config.file)),
    log,
    limits: { connectTimeoutMs: config.limits.upstreamConnectTimeoutMs, headersTimeoutMs: config.limits.upstreamHeadersTimeoutMs },
    get drainingReader() { return workerReads && elected; },
    shareKvEvents: (backendId, events) => sharing?.publishKvEvents({ backendId, events: toWire(events), at: Date.now() }),
  };
  // Set once the store exists (backends are created first).
  let sharing: StateStore | undefined;
  // Discovered backends serve as their replicas: the config expanded is what is built.
  const discovery: Discovery = new Discovery(log, async (): Promise<boolean> => (await reloader.rediscover()).ok);
  const serving = await discovery.expand(config);
  const backends = new BackendSet(ctx, opts.plugins);
  backends.commit(await backends.prepare(serving.backends));
  const state: RoutingState = {
    prefixes: new PrefixIndexes(), latency: new LatencyModels(), speculation: new Speculations(), chunkBytes: config.routing.chunkBytes,
    bytesPerToken: BytesPerToken.perBackend(),
  };
  // Replicas share prefix observations and load through the store, asynchronously: the request
  // path never waits on it, and with it gone each replica routes on what it knows.
  const store = opts.store ?? createStateStore(config.store, { log });
  const remote = new RemoteLoad();
  await store.start({
    onPrefix: (obs) => state.prefixes.of(obs.backendId).insert(obs.hashes),
    onLoad: (obs) => remote.apply(obs),
    onKvEvents: (obs) => backends.get(obs.backendId)?.applySharedKvEvents?.(obs.events),
  });
  if (sharedStore) sharing = store;
  // Backends that see their engine's KV events retract evicted prefix chunks from the index (while
  // they serve: one a reload replaced must not retract from its successor's).
  const watchRetractions = (b: Backend) => b.onPrefixRetraction?.((hashes) => { if (backends.serves(b)) state.prefixes.of(b.id).remove(hashes); });
  backends.list.forEach(watchRetractions);
  const routes = new RouteTable(serving.routes, new Map(backends.list.map((b) => [b.id, b])), state, 1, remote);
  const renewLease = async () => {
    if (!sharedStore || !workerReads) return;
    // With the store unreachable nobody can be elected: each replica then reads for itself
    // (readings split between them beat none at all) until the store is back.
    const held = store.status() === 'degraded' ? true : await store.lease('drain-reader', 3000);
    if (held !== elected) log.info({ gateway: store.gatewayId }, held ? 'this gateway now reads the drain-on-read endpoints' : 'another gateway reads the drain-on-read endpoints');
    elected = held;
  };
  await renewLease();
  const leaseTimer = setInterval(() => void renewLease(), 1000);
  leaseTimer.unref();
  await routes.ready();
  const metrics = new GatewayMetrics(backends.list);
  metrics.watchStore(store);
  const learner = new RoutingLearner(state, metrics, store, config.routing.bytesPerToken);
  // Exact routes check their tokens against each engine's own at startup and reload (and then on requests).
  const checkTokenizers = (checked: readonly Route[]) => {
    for (const route of checked) {
      if (!route.tokenizer) continue;
      for (const b of route.backends) {
        if (!b.tokenize) continue;
        route.tokenizer.encodeChatSegmented(TOKENIZER_SAMPLE).then(({ ids }) => {
          learner.tokenizerChecks.maybeCheck(b, { model: route.engineModel(b), messages: TOKENIZER_SAMPLE }, ids, (report) => {
            log.warn({ backend: b.id, route: route.model, ...report.lastMismatch }, 'the gateway tokenizes prompts differently from this engine: exact prefix matches will miss (check tokenizer_config / tokenizer)');
          });
        }, () => {});
      }
    }
  };
  checkTokenizers(routes.routes);
  // A route name no engine of a backend serves is refused there on every request: said at start
  // and at reload, not first by a user's 404.
  const checkEngineModels = (checked: readonly Route[]) => {
    for (const route of checked) {
      for (const b of route.backends) {
        const served = b.models();
        if (served.length === 0 || served.includes(route.engineModel(b))) continue;
        log.warn({ route: route.model, aliases: route.aliases, backend: b.id, served },
          `backend ${b.id} serves none of the names of route ${route.model}: its engine will refuse the route's requests (name the engine's model in the route's aliases)`);
      }
    }
  };
  checkEngineModels(routes.routes);
  const lastPublished = new Map<string, { inFlight: number; at: number; readAt?: number }>();
  const publishLoad = () => {
    const now = Date.now();
    for (const b of backends.list) {
      const signals = b.signals();
      const inFlight = signals.inFlight;
      // The reader of a drain-on-read engine shares each new reading with the other replicas.
      const reading = b.capabilities.loadReadByOne && ctx.drainingReader && signals.updatedAt > 0
        ? { running: signals.running, waiting: signals.waiting, kvUsage: signals.kvUsage, prefixHitRate: signals.prefixHitRate, readAt: signals.updatedAt }
        : undefined;
      const last = lastPublished.get(b.id);
      if (last && last.inFlight === inFlight && now - last.at < 1000 && (reading === undefined || reading.readAt === last.readAt)) continue;
      lastPublished.set(b.id, { inFlight, at: now, readAt: reading?.readAt });
      store.publishLoad({ gatewayId: store.gatewayId, backendId: b.id, inFlight, at: now, ...(reading ? { engine: compactReading(reading) } : {}) });
    }
  };
  const loadTimer = setInterval(publishLoad, 100);
  loadTimer.unref();
  // Each backend's prefix index holds about as many chunks as its KV cache holds tokens' worth.
  const sizeIndex = (b: Backend) => {
    if (b.capabilities.kvCapacityTokens) sizePrefixIndex(state, b.id, b.capabilities.kvCapacityTokens, config.routing.bytesPerToken);
  };
  const sizeIndexes = () => backends.list.forEach(sizeIndex);
  sizeIndexes();
  const sizer = setInterval(sizeIndexes, 5000);
  sizer.unref();
  let draining = false;
  const inFlight: { count: number; onIdle?: () => void; cancels: Set<Cancel> } = { count: 0, cancels: new Set() };
  const tenants = await createTenants(config, metrics.registry, log);
  const reloader = new Reloader({
    config, discovery, tenants, load: loadConfig, backends, routes, metrics, inFlight, drainTimeoutMs: config.limits.drainTimeoutMs, log,
    forget: (id) => {
      state.prefixes.forget(id);
      state.latency.forget(id);
      state.speculation.forget(id);
      routes.breakers.forget(id);
      learner.forget(id);
      remote.forget(id);
      lastPublished.delete(id);
    },
    onServing: (added, rebuilt) => {
      added.forEach(watchRetractions);
      checkTokenizers(rebuilt);
      checkEngineModels(rebuilt);
      // sizeIndexes reads the serving set: size the newcomers before they serve.
      added.forEach(sizeIndex);
    },
  });
  const app = buildApp({ routes, learner, metrics, tenants, storeStatus: () => store.status(), bodyLimit: config.limits.bodyBytes, requestTimeoutMs: config.limits.requestTimeoutMs, clientStallTimeoutMs: config.limits.clientStallTimeoutMs, accessLogSampleRate: config.accessLog.sampleRate, logger: log, isDraining: () => draining, inFlight, tracing });
  const reload = (): Promise<ReloadOutcome> => (draining ? Promise.resolve({ ok: false, errors: ['the gateway is draining'] }) : reloader.reload());
  registerReloadRoute(app, {
    reload: async () => {
      const outcome = await reload();
      if (outcome.ok) opts.onReloadRequested?.();
      return outcome;
    },
  });
  const host = opts.host ?? config.listen.host;
  // A cap on open client connections per process (file descriptors are finite; a proxied stream
  // holds an upstream socket too): past it, node:http closes new connections at once.
  if (config.limits.maxConnections > 0) app.server.maxConnections = config.limits.maxConnections;
  if (opts.acceptPending) drainAcceptQueue(app.server, opts.acceptPending);
  // The kernel's queue of connections not yet accepted: Node's default (511) is short for a burst
  // of thousands of clients (past it, handshakes are dropped and a client that already sent its
  // request is reset); how fast the queue empties is accept-queue.ts's part.
  await app.listen({ port: opts.port ?? config.listen.port, host, backlog: config.listen.backlog });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.listen.port;
  const url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  log.info({ url, routes: routes.routes.map((r) => r.model), backends: backends.list.map((b) => b.id), tracing: tracing !== undefined }, 'switchyard listening');
  discovery.adopt(config);
  if (tenants.open) {
    log.warn({ url, host }, config.auth
      ? 'auth has no keys: every model is open to anyone who can reach this address'
      : 'no auth: section: every model, /admin and /metrics are open to anyone who can reach this address');
  }

  let drained: Promise<void> | undefined;
  const drain = () => {
    drained ??= (async () => {
      draining = true;
      discovery.close();
      // The listener stays open while requests are in flight: a request that arrives meanwhile
      // (a load balancer that has not seen /ready turn 503 yet) is answered 503 `draining` with
      // `connection: close`, not refused. Once they are done, stop accepting and close.
      if (inFlight.count > 0) {
        const idle = new Promise<void>((resolve) => { inFlight.onIdle = resolve; });
        const deadline = new Promise<'deadline'>((resolve) => setTimeout(resolve, config.limits.drainTimeoutMs, 'deadline').unref());
        if ((await Promise.race([idle, deadline])) === 'deadline') {
          // Cut what is left, but answer it: a stream gets an error event and [DONE], a request
          // still waiting for its engine a 503 `draining`. Then, after a moment, the sockets.
          log.warn({ inFlight: inFlight.count }, 'drain deadline reached; ending the requests still in flight');
          for (const c of inFlight.cancels) c.cancel(new DrainDeadline());
          await Promise.race([idle, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
          app.server.closeAllConnections();
        }
      }
      await app.close();
      clearInterval(sizer);
      clearInterval(loadTimer);
      clearInterval(leaseTimer);
      await store.close();
      await tenants.close();
      await reloader.close();
      await routes.close();
      await Promise.allSettled(backends.list.map((b) => b.close()));
      // Spans still buffered are exported before the process goes.
      await tracing?.shutdown().catch((err: unknown) => log.warn({ err }, 'tracing: the last spans could not be exported'));
      log.info('switchyard drained');
    })();
    return drained;
  };
  return {
    app, url, routes, drain,
    get backends() { return backends.list; },
    reload,
  };
}

/** A conversation every chat template renders: system, user, assistant, user. */
const TOKENIZER_SAMPLE = [
  { role: 'system' as const, content: 'You are a helpful assistant.' },
  { role: 'user' as const, content: 'What is 1 + 1? Answer with a number.' },
  { role: 'assistant' as const, content: '2' },
  { role: 'user' as const, content: 'And 2 + 2, in words?' },
];

/** An engine reading without its unread (undefined) fields. */
function compactReading(r: EngineReading): EngineReading {
  const out: EngineReading = { readAt: r.readAt };
  if (r.running !== undefined) out.running = r.running;
  if (r.waiting !== undefined) out.waiting = r.waiting;
  if (r.kvUsage !== undefined) out.kvUsage = r.kvUsage;
  if (r.prefixHitRate !== undefined) out.prefixHitRate = r.prefixHitRate;
  return out;
}
