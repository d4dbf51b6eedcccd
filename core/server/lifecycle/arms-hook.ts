/**
 * The A/B arms' side of a request: each relayed answer's latency and tokens go to its arm's
 * statistics (`/admin/ab`) and metrics.
 */
import type { Exchange } from './exchange.js';
import type { Attempt, LifecycleHooks, Outcome } from './hooks.js';

class ArmsHook implements LifecycleHooks {
  constructor(private readonly x: Exchange) {}

  onOutcome(_a: Attempt, o: Outcome): void {
    const { route, arm, ctx } = this.x;
    route.arms.record(arm.name, o);
    ctx.metrics.observeArm(route.model, arm.name, o);
  }
}

export function armsHook(x: Exchange): LifecycleHooks {
  return new ArmsHook(x);
}
