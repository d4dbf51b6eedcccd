import { seededRandom, type Candidate, type Decision, type PolicyContext, type PolicyFactory, type RoutingPolicy } from '../policy.js';

/**
 * Power of two choices over load = gateway in-flight + engine-reported waiting. Sampling two
 * instead of scanning for the global minimum keeps several gateway processes (whose in-flight
 * counts are each their own) from all herding onto the same momentarily idlest backend.
 */
export class LeastLoadPolicy implements RoutingPolicy {
  readonly type = 'least-load';
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  select(candidates: readonly Candidate[]): Decision | null {
    const healthy = candidates.filter((c) => c.healthy);
    if (healthy.length === 0) return null;
    if (healthy.length === 1) return { backend: healthy[0].backend, reason: 'least-load: only candidate' };
    const i = Math.floor(this.random() * healthy.length);
    let j = Math.floor(this.random() * (healthy.length - 1));
    if (j >= i) j++;
    const a = healthy[i];
    const b = healthy[j];
    const la = load(a);
    const lb = load(b);
    const [pick, lp, lo] = la <= lb ? [a, la, lb] : [b, lb, la];
    return { backend: pick.backend, reason: `least-load ${lp} vs ${lo}` };
  }
}

function load(c: Candidate): number {
  return c.signals.inFlight + (c.signals.waiting ?? 0);
}

export const leastLoadFactory: PolicyFactory = {
  type: 'least-load',
  validate: (options) => Object.keys(options).map((k) => `${k}: least-load takes no options`),
  create: (_options, ctx: PolicyContext) => new LeastLoadPolicy(ctx.seed),
};
