/**
 * The wire format of one stream entry: a batch of observations as compact JSON (field `j1`, so a
 * later format can take another field name and old readers skip it).
 *
 *   {"t":<base ms>,"b":[backend ids],"p":[[b, dt, shared, ...new hashes], …],"l":[[b, dt, inFlight(, gatewayId|null(, engine))], …]}
 *
 * - backend ids are interned per batch (`b` indexes into the table), times are deltas from `t`;
 * - prefix chains are delta-coded against the previous chain in the batch: `shared` leading
 *   hashes are copied from it and only the rest are sent. Requests that share a system prompt or a
 *   conversation history share their leading blocks, so a busy batch sends each common prefix once;
 * - a load row names its gateway only when it is not the entry's publisher (null: it is), and
 *   carries the engine's own reading last when the publisher read one
 *   (`{"r":running,"w":waiting,"k":kvUsage,"h":hitRate,"a":readAt dt}`, absent keys unread).
 * Hashes are below 2^53, so JSON numbers carry them exactly.
 */
import type { KvEventsObservation, LoadObservation, PrefixObservation, WireKvEvent } from './types.js';
import { isKvEventsObservation } from './validate.js';

export const BATCH_FIELD = 'j1';

export interface ObservationBatch {
  prefixes: PrefixObservation[];
  loads: LoadObservation[];
  /** KV-cache events, as `"k":[[b, dt, [events]], …]` (the events' own JSON). */
  kvEvents?: KvEventsObservation[];
}

interface WireBatch {
  t: number;
  b: string[];
  p?: number[][];
  l?: (number | string | null | Record<string, number>)[][];
  k?: [number, number, WireKvEvent[]][];
}

export function encodeBatch(batch: ObservationBatch, publisher: string): string {
  const ids = new Map<string, number>();
  const intern = (id: string): number => {
    let i = ids.get(id);
    if (i === undefined) ids.set(id, (i = ids.size));
    return i;
  };
  const t = batch.prefixes[0]?.at ?? batch.loads[0]?.at ?? batch.kvEvents?.[0]?.at ?? 0;
  const wire: WireBatch = { t, b: [] };
  if (batch.prefixes.length > 0) {
    let prev: number[] = [];
    wire.p = batch.prefixes.map((obs) => {
      const max = Math.min(prev.length, obs.hashes.length);
      let shared = 0;
      while (shared < max && prev[shared] === obs.hashes[shared]) shared++;
      prev = obs.hashes;
      const row = [intern(obs.backendId), obs.at - t, shared];
      for (let i = shared; i < obs.hashes.length; i++) row.push(obs.hashes[i]!);
      return row;
    });
  }
  if (batch.loads.length > 0) {
    wire.l = batch.loads.map((obs) => {
      const row: (number | string | null | Record<string, number>)[] = [intern(obs.backendId), obs.at - t, obs.inFlight];
      if (obs.gatewayId !== publisher || obs.engine) row.push(obs.gatewayId !== publisher ? obs.gatewayId : null);
      if (obs.engine) {
        const e = obs.engine;
        const wireEngine: Record<string, number> = { a: e.readAt - t };
        if (e.running !== undefined) wireEngine.r = e.running;
        if (e.waiting !== undefined) wireEngine.w = e.waiting;
        if (e.kvUsage !== undefined) wireEngine.k = e.kvUsage;
        if (e.prefixHitRate !== undefined) wireEngine.h = e.prefixHitRate;
        row.push(wireEngine);
      }
      return row;
    });
  }
  if (batch.kvEvents && batch.kvEvents.length > 0) wire.k = batch.kvEvents.map((obs) => [intern(obs.backendId), obs.at - t, obs.events]);
  wire.b = [...ids.keys()];
  return JSON.stringify(wire);
}

/** Throws on anything that is not a well-formed batch: the reader skips that entry. */
export function decodeBatch(text: string, publisher: string): ObservationBatch {
  const wire: unknown = JSON.parse(text);
  if (!isRecord(wire) || !isFiniteNumber(wire.t) || !Array.isArray(wire.b) || !wire.b.every((s) => typeof s === 'string')) {
    throw new Error('malformed batch header');
  }
  const t = wire.t;
  const backends = wire.b as string[];
  const backend = (i: unknown): string => {
    const id = Number.isInteger(i) ? backends[i as number] : undefined;
    if (id === undefined) throw new Error('malformed batch: bad backend index');
    return id;
  };
  const prefixes: PrefixObservation[] = [];
  let prev: number[] = [];
  for (const row of rows(wire.p)) {
    const shared = row[2];
    if (row.length < 3 || !isFiniteNumber(row[1]) || !Number.isInteger(shared) || (shared as number) < 0 || (shared as number) > prev.length) {
      throw new Error('malformed batch: bad prefix row');
    }
    const hashes = prev.slice(0, shared as number);
    for (let i = 3; i < row.length; i++) {
      const h = row[i];
      if (!Number.isSafeInteger(h) || (h as number) < 0) throw new Error('malformed batch: bad hash');
      hashes.push(h as number);
    }
    prefixes.push({ backendId: backend(row[0]), hashes, at: t + row[1] });
    prev = hashes;
  }
  const loads: LoadObservation[] = [];
  for (const row of rows(wire.l)) {
    const gw = row.length > 3 && row[3] !== null ? row[3] : publisher;
    if (!isFiniteNumber(row[1]) || !isFiniteNumber(row[2]) || typeof gw !== 'string') throw new Error('malformed batch: bad load row');
    const obs: LoadObservation = { gatewayId: gw, backendId: backend(row[0]), inFlight: row[2], at: t + row[1] };
    if (row.length > 4) obs.engine = decodeEngine(row[4], t);
    loads.push(obs);
  }
  const kvEvents: KvEventsObservation[] = [];
  for (const row of rows(wire.k)) {
    if (!isFiniteNumber(row[1]) || !Array.isArray(row[2])) throw new Error('malformed batch: bad kv-events row');
    const obs: KvEventsObservation = { backendId: backend(row[0]), at: t + row[1], events: row[2] as WireKvEvent[] };
    if (!isKvEventsObservation(obs)) throw new Error('malformed batch: bad kv events');
    kvEvents.push(obs);
  }
  return kvEvents.length > 0 ? { prefixes, loads, kvEvents } : { prefixes, loads };
}

function decodeEngine(v: unknown, t: number): NonNullable<LoadObservation['engine']> {
  if (!isRecord(v) || !isFiniteNumber(v.a)) throw new Error('malformed batch: bad engine reading');
  const e: NonNullable<LoadObservation['engine']> = { readAt: t + v.a };
  const read = (k: string): number | undefined => {
    if (v[k] === undefined) return undefined;
    if (!isFiniteNumber(v[k])) throw new Error('malformed batch: bad engine reading');
    return v[k] as number;
  };
  const running = read('r');
  const waiting = read('w');
  const kvUsage = read('k');
  const prefixHitRate = read('h');
  if (running !== undefined) e.running = running;
  if (waiting !== undefined) e.waiting = waiting;
  if (kvUsage !== undefined) e.kvUsage = kvUsage;
  if (prefixHitRate !== undefined) e.prefixHitRate = prefixHitRate;
  return e;
}

function rows(v: unknown): unknown[][] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every(Array.isArray)) throw new Error('malformed batch: rows');
  return v as unknown[][];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
