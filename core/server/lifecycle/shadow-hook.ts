/**
 * Shadow traffic (shadow.ts): once the primary's backend answered, a fraction of a route's
 * requests is copied to its shadow backends, detached from the primary's fate.
 */
import type { Exchange } from './exchange.js';
import type { LifecycleHooks } from './hooks.js';

export function shadowHook({ route, endpoint, body, stream, req, ctx }: Exchange): LifecycleHooks {
  return {
    onRelayStart() {
      // A shadow copy of a Responses request would store a response on a replica nobody asks again.
      if (route.shadow && endpoint !== 'responses' && Math.random() < route.shadow.fraction) ctx.shadows.send(route, endpoint, body, stream, req);
    },
  };
}
