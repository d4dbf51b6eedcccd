/**
 * The learner's side of a request: the chosen backend's prefill backlog shrinks once this
 * request's prefill is done — at its first token, or when it failed or ended without one — and a
 * finished answer's usage and latencies refit that backend's latency model. Each attempt's record
 * leaves the backlog exactly once (`prefilled` ignores a repeat); `onDecision` made it (dispatch.ts).
 */
import type { RoutingLearner } from '../../routing/learner.js';
import type { LifecycleHooks } from './hooks.js';

/** Stateless: one per learner, shared by its requests. */
const byLearner = new WeakMap<RoutingLearner, LifecycleHooks>();

export function learnerHook(learner: RoutingLearner): LifecycleHooks {
  let hook = byLearner.get(learner);
  if (!hook) {
    hook = learnerHooks(learner);
    byLearner.set(learner, hook);
  }
  return hook;
}

function learnerHooks(learner: RoutingLearner): LifecycleHooks {
  return {
    onTransportError: (a) => learner.prefilled(a.record),
    // Before an error body is read: the engine is done with this request.
    onAnswer: (a, status) => { if (status >= 400) learner.prefilled(a.record); },
    onFirstToken: (a) => learner.prefilled(a.record, true),
    onOutcome: (a, o) => { if (o.ok) learner.onOutcome(a.record, { usage: o.usage, ttftMs: o.ttftMs, tpotMs: o.tpotMs }); },
    // However the answer ended, its prefill is no longer ahead of anyone on that backend.
    onRelayEnd: (a) => learner.prefilled(a.record),
  };
}
