/**
 * The league's routing profiles: the product's policies (core/routing/policies) and the peers'
 * routers (bench/league/peers), by name. `NAME+exact` runs a profile with the prompt's token ids
 * and the replicas' KV-cache events (exact prefix matching); plain NAME hashes the prompt text.
 */
import { policyFactory } from '../../core/routing/policies/index.js';
import type { PolicyFactory } from '../../core/routing/policy.js';
import { peerFactories } from './peers/index.js';

export interface LeagueProfile {
  name: string;
  factory: PolicyFactory;
  options: Record<string, unknown>;
  /** Requests carry token ids and replicas publish KV events. */
  exact: boolean;
  /** One of the peers' routers, not a Switchyard policy. */
  peer: boolean;
}

const OURS = ['round-robin', 'least-load', 'prefix-affinity', 'slo', 'prefix-affinity+exact', 'slo+exact'];

/**
 * Peers whose published configuration reads the engines' KV events, so they run exact by default:
 * llm-d's precise preset (precise-prefix scorer, REFERENCE §2.2) and Dynamo's KV router
 * (`use_kv_events` true, §2.3). Every other peer hashes the text, as it does upstream.
 */
const PEERS_ON_KV_EVENTS = new Set(['llmd-precise', 'dynamo-kv']);

export function defaultProfileNames(): string[] {
  return [...OURS, ...peerFactories().map((f) => (PEERS_ON_KV_EVENTS.has(f.type) ? `${f.type}+exact` : f.type))];
}

export function resolveProfile(name: string): LeagueProfile {
  const exact = name.endsWith('+exact');
  const type = exact ? name.slice(0, -'+exact'.length) : name;
  const ours = policyFactory(type);
  const peer = ours ? undefined : peerFactories().find((f) => f.type === type);
  const factory = ours ?? peer;
  if (!factory) throw new Error(`league: no profile '${name}' (have: ${defaultProfileNames().join(', ')}; any of them +exact)`);
  const errors = factory.validate({});
  if (errors.length > 0) throw new Error(`league: profile '${name}' rejects its default options: ${errors.join('; ')}`);
  return { name, factory, options: {}, exact, peer: peer !== undefined };
}

export function resolveProfiles(names: readonly string[] = defaultProfileNames()): LeagueProfile[] {
  return names.map(resolveProfile);
}
