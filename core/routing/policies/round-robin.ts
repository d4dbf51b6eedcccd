import type { Candidate, Decision, PolicyFactory, RoutingPolicy } from '../policy.js';

/** Each healthy candidate in turn; the baseline every other policy is measured against. */
export class RoundRobinPolicy implements RoutingPolicy {
  readonly type = 'round-robin';
  private next = 0;

  select(candidates: readonly Candidate[]): Decision | null {
    const healthy = candidates.filter((c) => c.healthy);
    if (healthy.length === 0) return null;
    const pick = healthy[this.next % healthy.length];
    this.next = (this.next + 1) % 1_000_000_007;
    return { backend: pick.backend, reason: 'round-robin' };
  }
}

export const roundRobinFactory: PolicyFactory = {
  type: 'round-robin',
  validate: (options) => Object.keys(options).map((k) => `${k}: round-robin takes no options`),
  create: () => new RoundRobinPolicy(),
};
