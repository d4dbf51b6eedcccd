/**
 * The Prometheus side of a request: routing decisions, the gateway's overhead before the first
 * attempt left, upstream errors by kind, and per route and backend the requests by status, the
 * answers in flight, e2e, TTFT, TPOT and token counts.
 */
import type { RouteMetrics } from '../../metrics/gateway-metrics.js';
import type { Usage } from '../sse-relay.js';
import type { Exchange } from './exchange.js';
import type { LifecycleHooks } from './hooks.js';

export function metricsHook(x: Exchange): LifecycleHooks {
  const { metrics } = x.ctx;
  const { route } = x;
  // The answering backend's, from the start of its relay.
  let answering: RouteMetrics | undefined;
  return {
    onAttempt(a) {
      metrics.forRoute(route.model, a.backend.id, a.backend.engine).decided(route.policy.type, a.decision.kind ?? route.policy.type).inc();
      if (a.n === 0) metrics.overhead.observe((a.sentAt - x.receivedAt) / 1000);
    },
    onTransportError: (a, f) => { if (f.kind) metrics.upstreamErrors.inc({ backend: a.backend.id, kind: f.kind }); },
    onRefused(a, { status }) {
      metrics.upstreamErrors.inc({ backend: a.backend.id, kind: status === 429 ? 'status_429' : status >= 500 ? 'status_5xx' : 'status_4xx' });
      metrics.forRoute(route.model, a.backend.id, a.backend.engine).requests(String(status)).inc();
    },
    onRelayStart(a) {
      answering = metrics.forRoute(route.model, a.backend.id, a.backend.engine);
      answering.inFlight.inc();
    },
    onOutcome(a, o) {
      if (o.stream?.end === 'upstream-failed' || o.stream?.end === 'truncated') metrics.upstreamErrors.inc({ backend: a.backend.id, kind: 'stream' });
      const m = answering ?? metrics.forRoute(route.model, a.backend.id, a.backend.engine);
      m.requests(String(o.status)).inc();
      m.e2e.observe(o.e2eMs / 1000);
      if (o.ttftMs !== undefined) m.ttft.observe(o.ttftMs / 1000);
      if (o.tpotMs !== undefined) m.tpot.observe(o.tpotMs / 1000);
      observeUsage(m, o.usage);
    },
    onRelayEnd: () => answering?.inFlight.dec(),
  };
}

function observeUsage(m: RouteMetrics, usage: Usage | undefined): void {
  if (!usage) return;
  if (typeof usage.prompt_tokens === 'number') m.promptTokens.inc(usage.prompt_tokens);
  if (typeof usage.completion_tokens === 'number') m.completionTokens.inc(usage.completion_tokens);
  const cached = usage.prompt_tokens_details?.cached_tokens;
  if (typeof cached === 'number') m.cachedTokens.inc(cached);
}
