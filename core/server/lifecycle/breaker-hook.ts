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
import type { Attempt, Leaving, LifecycleHooks } from './hooks.js';
import type { StatusFailure, TransportFailure } from './failures.js';

/** One per request: a class, so its handlers are the prototype's, not five closures a request. */
class BreakerHook implements LifecycleHooks {
  /** The breaker of the attempt under way: onAttempt comes before any other event of an attempt. */
  private current: CircuitBreaker | undefined;
  /** The backend that answered 5xx, until the next candidate settles its blame. */
  private suspect: CircuitBreaker | undefined;

  constructor(private readonly breakerOf: (backendId: string) => CircuitBreaker) {}

  onAttempt(a: Leaving): void {
    this.current = this.breakerOf(a.backend.id);
    this.current.onDispatch();
  }

  // A connect failure or a timeout is the backend's; anything else (the client gone, a plugin's
  // own error, a bug) proves nothing about it.
  onTransportError(_a: Attempt, f: TransportFailure): void {
    if (f.kind) this.current?.onFailure();
    else this.current?.onInconclusive();
  }

  onAnswer(_a: Attempt, status: number): void {
    if (status >= 400) return;
    this.current?.onSuccess();
    // The same request succeeded here: the backend that answered 5xx before was at fault.
    this.suspect?.onFailure();
    this.suspect = undefined;
  }

  onRefused(_a: Attempt, f: StatusFailure): void {
    if (f.status < 500) {
      this.current?.onSuccess(); // a 4xx or 429 is an answer: the backend is up
      return;
    }
    this.current?.onInconclusive();
    // Two backends failed this one request: the request is at fault, not them.
    this.suspect = this.suspect ? undefined : this.current;
  }

  onDispatchEnd(): void {
    this.suspect?.onInconclusive();
  }
}

export function breakerHook(breakerOf: (backendId: string) => CircuitBreaker): LifecycleHooks {
  return new BreakerHook(breakerOf);
}
