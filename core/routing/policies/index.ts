/** The policy registry: `policy: { type }` in a route picks one of these factories. */
import type { PolicyFactory } from '../policy.js';
import { leastLoadFactory } from './least-load.js';
import { prefixAffinityFactory } from './prefix-affinity.js';
import { roundRobinFactory } from './round-robin.js';
import { sloFactory } from './slo.js';

const FACTORIES: ReadonlyMap<string, PolicyFactory> = new Map(
  [roundRobinFactory, leastLoadFactory, prefixAffinityFactory, sloFactory].map((f) => [f.type, f]),
);

export function policyFactory(type: string): PolicyFactory | undefined {
  return FACTORIES.get(type);
}

export function policyTypes(): string[] {
  return [...FACTORIES.keys()];
}
