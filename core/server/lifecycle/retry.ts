/**
 * The retry loop's policy: how many attempts a request gets (the route's `retries`, each retry
 * paid from the route's budget so a failing fleet does not see a retry storm), and which
 * failures end it at once — one another candidate cannot help (a timeout, a 4xx, the client
 * gone), or a second 5xx: two backends failing the same request say the request is at fault.
 */
import type { ClientRequest } from '../client.js';
import type { Route } from '../../routing/route-table.js';
import { GatewayError } from '../errors.js';
import type { AttemptFailure } from './failures.js';

export class RetryPolicy {
  private last: AttemptFailure | undefined;
  private serverErrors = 0;

  // The request, not its logger: a request-bound logger is made only when something is logged.
  constructor(private readonly route: Route, private readonly req: Pick<ClientRequest, 'log'>) {
    route.retryBudget.onRequest();
  }

  /** May attempt n go? The first always may; a retry spends from the route's budget. */
  allows(n: number): boolean {
    if (n > this.route.retries) return false;
    if (n > 0 && !this.route.retryBudget.tryRetry()) {
      this.req.log.warn({ model: this.route.model }, 'retry budget exhausted');
      return false;
    }
    return true;
  }

  /** After a failed attempt: throws its error when no other candidate may be tried. */
  failed(f: AttemptFailure & { status?: number }): void {
    this.last = f;
    if (f.status !== undefined && f.status >= 500 && ++this.serverErrors === 2) {
      this.req.log.warn({ model: this.route.model }, 'the request failed on two backends; not retried further, no backend blamed');
      throw f.error;
    }
    if (!f.retryable) throw f.error;
  }

  /** The answer once the attempts ran out: the last failure's, or that no backend was healthy. */
  exhausted(): Error {
    return this.last?.error ?? new GatewayError('SY_ERR_NO_HEALTHY_BACKEND', `no healthy backend for \`${this.route.model}\``, { headers: { 'retry-after': '1' } });
  }
}
