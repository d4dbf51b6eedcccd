/**
 * The A/B arms' side of a request: each relayed answer's latency and tokens go to its arm's
 * statistics (`/admin/ab`) and metrics.
 */
import type { Exchange } from './exchange.js';
import type { LifecycleHooks } from './hooks.js';

export function armsHook({ route, arm, ctx }: Exchange): LifecycleHooks {
  return {
    onOutcome(_a, o) {
      route.arms.record(arm.name, o);
      ctx.metrics.observeArm(route.model, arm.name, o);
    },
  };
}
