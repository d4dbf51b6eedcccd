/**
 * The gateway's Prometheus metrics, on a prom-client registry of its own. What the request path
 * updates is fast-metrics.ts's (children found once, updated by an addition); the rest is
 * prom-client's. Children are cached per (model, backend) so the request path looks up no labels.
 */
import { readdir } from 'node:fs/promises';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter as Counter, FastGauge, FastHistogram as Histogram } from './fast-metrics.js';
import type { Backend } from '../plugin/types.js';
import type { StateStore } from '../state/types.js';

/** prom-client's default metrics that list every descriptor or handle on the event loop at each scrape. */
const SCRAPE_COST_GROWS_WITH_CONNECTIONS = ['process_open_fds', 'nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_resources', 'nodejs_active_resources_total'];

/** The per-(model, backend) metric children of one request path, looked up once and cached. */
export interface RouteMetrics {
  requests(status: string): { inc(): void };
  ttft: { observe(v: number): void };
  tpot: { observe(v: number): void };
  e2e: { observe(v: number): void };
  promptTokens: { inc(v: number): void };
  completionTokens: { inc(v: number): void };
  cachedTokens: { inc(v: number): void };
  inFlight: { inc(): void; dec(): void };
  /** The routing decisions counter's child for a policy and a reason kind. */
  decided(policy: string, reason: string): { inc(): void };
}

/** One A/B arm's children. */
interface ArmMetrics {
  ok: { inc(): void };
  error: { inc(): void };
  ttft: { observe(v: number): void };
  tpot: { observe(v: number): void };
  e2e: { observe(v: number): void };
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160];
const TPOT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1];
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'switchyard_requests_total', help: 'Requests answered, by model, backend, engine and HTTP status', labelNames: ['model', 'backend', 'engine', 'status'], registers: [this.registry] });
  readonly ttft = new Histogram({ name: 'switchyard_time_to_first_token_seconds', help: 'Time from request receipt to the first content chunk relayed', labelNames: ['model', 'backend', 'engine'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly tpot = new Histogram({ name: 'switchyard_time_per_output_token_seconds', help: '(e2e - ttft) / (completion tokens - 1), streamed requests', labelNames: ['model', 'backend', 'engine'], buckets: TPOT_BUCKETS, registers: [this.registry] });
  readonly e2e = new Histogram({ name: 'switchyard_request_duration_seconds', help: 'Time from request receipt to the last byte', labelNames: ['model', 'backend', 'engine'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly promptTokens = new Counter({ name: 'switchyard_prompt_tokens_total', help: 'Prompt tokens, from the engine usage', labelNames: ['model', 'backend', 'engine'], registers: [this.registry] });
  readonly completionTokens = new Counter({ name: 'switchyard_completion_tokens_total', help: 'Completion tokens, from the engine usage', labelNames: ['model', 'backend', 'engine'], registers: [this.registry] });
  readonly cachedTokens = new Counter({ name: 'switchyard_cached_prompt_tokens_total', help: 'Prompt tokens the engine served from its prefix cache, where it reports them', labelNames: ['model', 'backend', 'engine'], registers: [this.registry] });
  readonly inFlight = new FastGauge({ name: 'switchyard_in_flight_requests', help: 'Requests in flight in this gateway process', labelNames: ['model', 'backend'], registers: [this.registry] });
  /** Every answer that is one of Switchyard's own errors (core/server/errors.ts), before routing or after. */
  readonly gatewayErrors = new Counter({ name: 'switchyard_gateway_errors_total', help: "Requests answered with one of Switchyard's own errors, by HTTP status and error code (refused before routing: invalid_field, invalid_api_key, model_not_found, body_too_large, …; or failed after it)", labelNames: ['status', 'code'], registers: [this.registry] });
  readonly upstreamErrors = new Counter({ name: 'switchyard_upstream_errors_total', help: 'Upstream failures by kind: connect, timeout, status_5xx, status_429, status_4xx, stream', labelNames: ['backend', 'kind'], registers: [this.registry] });
  readonly overhead = new Histogram({ name: 'switchyard_gateway_overhead_seconds', help: 'Time in the gateway before the upstream request leaves', buckets: OVERHEAD_BUCKETS, registers: [this.registry] });
  readonly decisions = new Counter({ name: 'switchyard_routing_decisions_total', help: 'Routing decisions by route, policy, reason kind (prefix, cold, spread, load, …) and chosen backend', labelNames: ['model', 'policy', 'reason', 'backend'], registers: [this.registry] });
  /**
   * Routing precision and recall, per backend, over answers whose cached-token count the engine
   * reported: precision = matched / predicted, recall = matched / reported, where matched sums
   * min(predicted, reported) per answer.
   */
  readonly precisionPredicted = new Counter({ name: 'switchyard_routing_predicted_cached_tokens_total', help: 'Cached prompt tokens the router predicted at decision time, over answers whose cached count the engine reported', labelNames: ['backend'], registers: [this.registry] });
  readonly precisionReported = new Counter({ name: 'switchyard_routing_reported_cached_tokens_total', help: 'Cached prompt tokens the engine reported, over the same answers', labelNames: ['backend'], registers: [this.registry] });
  readonly precisionEvicted = new Counter({ name: 'switchyard_routing_evicted_predicted_tokens_total', help: 'Of the predicted cached prompt tokens over the same answers, those whose blocks the engine evicted between the decision and the first token', labelNames: ['backend'], registers: [this.registry] });
  readonly precisionMatched = new Counter({ name: 'switchyard_routing_matched_cached_tokens_total', help: 'Sum over the same answers of min(predicted, reported) cached prompt tokens', labelNames: ['backend'], registers: [this.registry] });
  readonly predictedCached = new Counter({ name: 'switchyard_prefix_predicted_cached_tokens_total', help: 'Prompt tokens the prefix index expected the chosen backend to hold (compare with switchyard_cached_prompt_tokens_total)', labelNames: ['model', 'backend'], registers: [this.registry] });

  readonly armRequests = new Counter({ name: 'switchyard_arm_requests_total', help: 'Requests per A/B arm and outcome', labelNames: ['model', 'arm', 'outcome'], registers: [this.registry] });
  readonly armTtft = new Histogram({ name: 'switchyard_arm_time_to_first_token_seconds', help: 'TTFT per A/B arm', labelNames: ['model', 'arm'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly armTpot = new Histogram({ name: 'switchyard_arm_time_per_output_token_seconds', help: 'TPOT per A/B arm', labelNames: ['model', 'arm'], buckets: TPOT_BUCKETS, registers: [this.registry] });
  readonly armE2e = new Histogram({ name: 'switchyard_arm_request_duration_seconds', help: 'End-to-end latency per A/B arm', labelNames: ['model', 'arm'], buckets: LATENCY_BUCKETS, registers: [this.registry] });

  /** By model, then backend: no key is built per lookup. */
  private readonly routeMetrics = new Map<string, Map<string, RouteMetrics>>();

  /** The request path's children for one (model, backend), made on first use. */
  forRoute(model: string, backend: string, engine: string): RouteMetrics {
    let byBackend = this.routeMetrics.get(model);
    if (!byBackend) this.routeMetrics.set(model, (byBackend = new Map()));
    let m = byBackend.get(backend);
    if (!m) {
      const labels = { model, backend, engine };
      const byStatus = new Map<string, { inc(): void }>();
      const byDecision = new Map<string, Map<string, { inc(): void }>>();
      const { requests, decisions } = this;
      m = {
        requests(status: string) {
          let c = byStatus.get(status);
          if (!c) {
            c = requests.labels({ ...labels, status });
            byStatus.set(status, c);
          }
          return c;
        },
        decided(policy: string, reason: string) {
          let byReason = byDecision.get(policy);
          if (!byReason) byDecision.set(policy, (byReason = new Map()));
          let c = byReason.get(reason);
          if (!c) {
            c = decisions.labels({ model, policy, reason, backend });
            byReason.set(reason, c);
          }
          return c;
        },
        ttft: this.ttft.labels(labels),
        tpot: this.tpot.labels(labels),
        e2e: this.e2e.labels(labels),
        promptTokens: this.promptTokens.labels(labels),
        completionTokens: this.completionTokens.labels(labels),
        cachedTokens: this.cachedTokens.labels(labels),
        inFlight: this.inFlight.labels({ model, backend }),
      };
      byBackend.set(backend, m);
    }
    return m;
  }

  /** An answer that is one of Switchyard's own errors. */
  answeredError(status: number, code: string): void {
    this.gatewayErrors.labels({ status: String(status), code }).inc();
  }

  /** By model, then arm. */
  private readonly armMetrics = new Map<string, Map<string, ArmMetrics>>();

  observeArm(model: string, arm: string, o: { ok: boolean; ttftMs?: number; tpotMs?: number; e2eMs: number }): void {
    let byArm = this.armMetrics.get(model);
    if (!byArm) this.armMetrics.set(model, (byArm = new Map()));
    let m = byArm.get(arm);
    if (!m) {
      const labels = { model, arm };
      m = {
        ok: this.armRequests.labels({ model, arm, outcome: 'ok' }), error: this.armRequests.labels({ model, arm, outcome: 'error' }),
        ttft: this.armTtft.labels(labels), tpot: this.armTpot.labels(labels), e2e: this.armE2e.labels(labels),
      };
      byArm.set(arm, m);
    }
    if (!o.ok) {
      m.error.inc();
      return;
    }
    m.ok.inc();
    if (o.ttftMs !== undefined) m.ttft.observe(o.ttftMs / 1000);
    if (o.tpotMs !== undefined) m.tpot.observe(o.tpotMs / 1000);
    m.e2e.observe(o.e2eMs / 1000);
  }

  /** State-store connectivity and traffic (replicas sharing prefix observations and load). */
  watchStore(store: StateStore): void {
    new Gauge({
      name: 'switchyard_state_store_connected', help: '1 when the state store is reachable, 0 when serving on local state', registers: [this.registry],
      collect() { this.set(store.status() === 'connected' ? 1 : 0); },
    });
    new Gauge({
      name: 'switchyard_state_store_observations', help: 'State-store observations: published, applied (from other replicas), dropped, buffered',
      labelNames: ['kind'], registers: [this.registry],
      collect() {
        const s = store.stats();
        for (const kind of ['published', 'applied', 'dropped', 'buffered'] as const) this.set({ kind }, s[kind]);
      },
    });
  }

  /** The backends serving now (a reload replaces them). */
  private backends: readonly Backend[];

  constructor(backends: readonly Backend[]) {
    this.backends = backends;
    // Node's process metrics under their standard names (process_cpu_seconds_total, nodejs_*), as
    // stock Node dashboards query them…
    collectDefaultMetrics({ register: this.registry });
    const registry = this.registry;
    // …but for those whose cost grows with the connections, read on the event loop at each scrape:
    // with 10,000 sockets open, listing /proc/self/fd held the loop 14 ms and listing the handles
    // and resources 15 ms more (30 ms per scrape in all). The descriptors are counted off the loop
    // (the directory is read on libuv's thread pool); the handle and resource listings are not
    // exported — switchyard_in_flight_requests and process_open_fds say what they said of load.
    for (const name of SCRAPE_COST_GROWS_WITH_CONNECTIONS) registry.removeSingleMetric(name);
    if (process.platform === 'linux') {
      new Gauge({
        name: 'process_open_fds', help: 'Number of open file descriptors.', registers: [registry],
        async collect() {
          // The listing's own descriptor is not one of the process's (as prom-client counts it).
          this.set((await readdir('/proc/self/fd')).length - 1);
        },
      });
    }
    const current = () => this.backends;
    new Gauge({
      name: 'switchyard_backend_healthy', help: 'Backend health as this process sees it (1 healthy, 0 not)',
      labelNames: ['backend', 'engine'], registers: [registry],
      collect() {
        // A backend a reload removed leaves the series.
        this.reset();
        for (const b of current()) this.set({ backend: b.id, engine: b.engine }, b.health().status === 'unhealthy' ? 0 : 1);
      },
    });
  }

  /** A reload changed the backend set: the health gauge follows it. */
  setBackends(backends: readonly Backend[]): void {
    this.backends = backends;
  }

  /**
   * A backend left (a reload removed it and its last request finished): its in-flight series go,
   * and its cached children. Counters and histograms keep their totals: a backend that comes back
   * under the same id continues its series rather than showing a counter reset.
   */
  forgetBackend(backendId: string): void {
    for (const [model, byBackend] of this.routeMetrics) {
      if (!byBackend.delete(backendId)) continue;
      this.inFlight.remove({ model, backend: backendId });
    }
  }
}
