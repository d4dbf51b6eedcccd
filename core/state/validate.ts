import type { KvEventsObservation, LoadObservation, PrefixObservation } from './types.js';

/**
 * What a store accepts. Checked at publish so that one bad observation (a NaN time, a hash that is
 * not an integer) is dropped on its own instead of poisoning the batch it would travel in, and so
 * that every store, in-memory included, accepts exactly the same observations.
 */
export function isPrefixObservation(obs: PrefixObservation): boolean {
  if (typeof obs?.backendId !== 'string' || !Number.isFinite(obs.at) || !Array.isArray(obs.hashes)) return false;
  for (const h of obs.hashes) if (!Number.isSafeInteger(h) || h < 0) return false;
  return true;
}

export function isLoadObservation(obs: LoadObservation): boolean {
  return typeof obs?.gatewayId === 'string' && typeof obs.backendId === 'string' && Number.isFinite(obs.inFlight) && Number.isFinite(obs.at)
    && (obs.engine === undefined || isEngineReading(obs.engine));
}

function isEngineReading(e: NonNullable<LoadObservation['engine']>): boolean {
  if (typeof e !== 'object' || e === null || !Number.isFinite(e.readAt)) return false;
  for (const k of ['running', 'waiting', 'kvUsage', 'prefixHitRate'] as const) {
    if (e[k] !== undefined && !(Number.isFinite(e[k]) && (e[k] as number) >= 0)) return false;
  }
  return true;
}

export function isKvEventsObservation(obs: KvEventsObservation): boolean {
  if (typeof obs?.backendId !== 'string' || !Number.isFinite(obs.at) || !Array.isArray(obs.events)) return false;
  for (const e of obs.events) {
    if (typeof e !== 'object' || e === null || typeof e.type !== 'string') return false;
    if (e.eventId !== undefined && !Number.isSafeInteger(e.eventId)) return false;
    if (e.type === 'stored' && !(Array.isArray(e.blocks) && e.blocks.every((b) => typeof b.hash === 'string' && Array.isArray(b.tokens) && (b.extra === undefined || typeof b.extra === 'string')))) return false;
    if (e.type === 'removed' && !(Array.isArray(e.hashes) && e.hashes.every((h) => typeof h === 'string'))) return false;
  }
  return true;
}
