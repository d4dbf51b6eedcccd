/**
 * The Prometheus side of a request: routing decisions, the gateway's overhead before the first
 * attempt left, upstream errors by kind, and per route and backend the requests by status, the
 * answers in flight, e2e, TTFT, TPOT and token counts.
 */
import type { RouteMetrics } from '../../metrics/gateway-metrics.js';
import type { Usage } from '../sse-relay.js';
import type { Exchange } from './exchange.js';
import type { Attempt, LifecycleHooks, Outcome } from './hooks.js';
import type { StatusFailure, TransportFailure } from './failures.js';

/** One per request: a class, so its handlers are the prototype's, not six closures a request. */
class MetricsHook implements LifecycleHooks {
  /** The answering backend's, from the start of its relay. */
  private answering: RouteMetrics | undefined;

  constructor(private readonly x: Exchange) {}

  // Once the request has left: counting it need not delay it.
  onSent(a: Attempt): void {
    const { metrics } = this.x.ctx;
    const { route } = this.x;
    metrics.forRoute(route.model, a.backend.id, a.backend.engine).decided(route.policy.type, a.decision.kind ?? route.policy.type).inc();
    if (a.n === 0) metrics.overhead.observe((a.sentAt - this.x.receivedAt) / 1000);
  }

  onTransportError(a: Attempt, f: TransportFailure): void {
    if (f.kind) this.x.ctx.metrics.upstreamErrors.inc({ backend: a.backend.id, kind: f.kind });
  }

  onRefused(a: Attempt, { status }: StatusFailure): void {
    const { metrics } = this.x.ctx;
    metrics.upstreamErrors.inc({ backend: a.backend.id, kind: status === 429 ? 'status_429' : status >= 500 ? 'status_5xx' : 'status_4xx' });
    metrics.forRoute(this.x.route.model, a.backend.id, a.backend.engine).requests(String(status)).inc();
  }

  onRelayStart(a: Attempt): void {
    this.answering = this.x.ctx.metrics.forRoute(this.x.route.model, a.backend.id, a.backend.engine);
    this.answering.inFlight.inc();
  }

  onOutcome(a: Attempt, o: Outcome): void {
    const { metrics } = this.x.ctx;
    if (o.stream?.end === 'upstream-failed' || o.stream?.end === 'truncated') metrics.upstreamErrors.inc({ backend: a.backend.id, kind: 'stream' });
    const m = this.answering ?? metrics.forRoute(this.x.route.model, a.backend.id, a.backend.engine);
    m.requests(String(o.status)).inc();
    m.e2e.observe(o.e2eMs / 1000);
    if (o.ttftMs !== undefined) m.ttft.observe(o.ttftMs / 1000);
    if (o.tpotMs !== undefined) m.tpot.observe(o.tpotMs / 1000);
    observeUsage(m, o.usage);
  }

  onRelayEnd(): void {
    this.answering?.inFlight.dec();
  }
}

export function metricsHook(x: Exchange): LifecycleHooks {
  return new MetricsHook(x);
}

function observeUsage(m: RouteMetrics, usage: Usage | undefined): void {
  if (!usage) return;
  if (typeof usage.prompt_tokens === 'number') m.promptTokens.inc(usage.prompt_tokens);
  if (typeof usage.completion_tokens === 'number') m.completionTokens.inc(usage.completion_tokens);
  const cached = usage.prompt_tokens_details?.cached_tokens;
  if (typeof cached === 'number') m.cachedTokens.inc(cached);
}
