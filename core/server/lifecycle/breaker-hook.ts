/**
 * The circuit breakers' side of a request: every attempt claims its backend's half-open probe and
 * settles it as a success, a failure or inconclusive.
 *
 * A backend that answered 5xx is not blamed at once: an engine error can be the request's own
 * doing (a body the engine chokes on), and five such requests must not open every backend's
 * breaker. The blame is settled by what the next candidate does with the same request: it
 * answers → the first backend failed (counted); it fails the same way → the request is at fault
 * (no backend is counted; the retry policy tries no further backend). Unsettled (no other
 * candidate tried) counts nothing: a backend that fails everything is then left to its active
 * health check.
 */
import type { CircuitBreaker } from '../../routing/breaker.js';
import type { LifecycleHooks } from './hooks.js';

export function breakerHook(breakerOf: (backendId: string) => CircuitBreaker): LifecycleHooks {
  // The breaker of the attempt under way: onAttempt comes before any other event of an attempt.
  let current: CircuitBreaker | undefined;
  // The backend that answered 5xx, until the next candidate settles its blame.
  let suspect: CircuitBreaker | undefined;
  return {
    onAttempt(a) {
      current = breakerOf(a.backend.id);
      current.onDispatch();
    },
    // A connect failure or a timeout is the backend's; anything else (the client gone, a plugin's
    // own error, a bug) proves nothing about it.
    onTransportError: (_a, f) => (f.kind ? current?.onFailure() : current?.onInconclusive()),
    onAnswer(_a, status) {
      if (status >= 400) return;
      current?.onSuccess();
      // The same request succeeded here: the backend that answered 5xx before was at fault.
      suspect?.onFailure();
      suspect = undefined;
    },
    onRefused(_a, f) {
      if (f.status < 500) {
        current?.onSuccess(); // a 4xx or 429 is an answer: the backend is up
        return;
      }
      current?.onInconclusive();
      // Two backends failed this one request: the request is at fault, not them.
      suspect = suspect ? undefined : current;
    },
    onDispatchEnd: () => suspect?.onInconclusive(),
  };
}
