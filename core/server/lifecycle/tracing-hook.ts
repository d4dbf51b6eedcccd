/**
 * The request's trace (telemetry/tracing.ts): a route span per decision, a dispatch span per
 * attempt (the engine receives its context as `traceparent`), a stream span per streamed answer.
 * Nothing when tracing is off.
 */
import type { DispatchTrace, RouteTrace, StreamTrace } from '../../telemetry/tracing.js';
import type { Exchange } from './exchange.js';
import type { LifecycleHooks } from './hooks.js';

export function tracingHook(x: Exchange): LifecycleHooks {
  const { trace } = x;
  if (!trace) return {};
  let routing: RouteTrace | undefined;
  let dispatching: DispatchTrace | undefined;
  let streaming: StreamTrace | undefined;
  return {
    onSelect: (n) => { routing = trace.route(n); },
    onNoBackend: () => routing?.none(),
    onAttempt(a) {
      routing?.decided(a.backend.id, a.decision.reason, x.route.policy.type);
      dispatching = trace.dispatch(a.backend, a.n);
      a.headers = dispatching.headers(a.headers);
    },
    onTransportError: (_a, f) => dispatching?.failed(f.code, f.cause),
    onAnswer: (_a, status) => { if (status < 400) dispatching?.answered(status); },
    onRefused: (_a, f) => dispatching?.answered(f.status, f.error.body().error.code),
    onRelayStart: (a) => { if (x.stream) streaming = trace.stream(a.backend.id); },
    onFirstToken: () => streaming?.firstToken(),
    onOutcome(_a, o) {
      if (!o.stream) return;
      streaming?.ended(o.stream.end, { ttftMs: o.ttftMs, contentEvents: o.stream.contentEvents, promptTokens: o.usage?.prompt_tokens, completionTokens: o.usage?.completion_tokens });
    },
  };
}
