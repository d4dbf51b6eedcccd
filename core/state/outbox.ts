import type { ObservationBatch } from './batch-codec.js';
import type { KvEventsObservation, LoadObservation, PrefixObservation } from './types.js';

/**
 * What a replica has observed but not yet published. Prefix observations queue in order, bounded:
 * past `maxPrefixes` the oldest go first (a long outage keeps the freshest blocks, which are the
 * ones still likely to be in the engines' caches). Loads are gauges, so only the latest value per
 * (gateway, backend) is kept: an outage leaves one row per backend, never a backlog of stale counts.
 */
export class Outbox {
  private prefixes: PrefixObservation[] = [];
  private head = 0;
  private loads = new Map<string, LoadObservation>();
  /** KV events queue in order, bounded like prefixes (a consumer sees a drop as an event-id gap). */
  private kvEvents: KvEventsObservation[] = [];
  /** Prefix observations discarded because the outbox was full. */
  dropped = 0;

  constructor(private readonly maxPrefixes: number) {}

  get size(): number {
    return this.prefixes.length - this.head + this.loads.size + this.kvEvents.length;
  }

  pushPrefix(obs: PrefixObservation): void {
    this.prefixes.push(obs);
    const excess = this.prefixes.length - this.head - this.maxPrefixes;
    if (excess > 0) {
      this.head += excess;
      this.dropped += excess;
      this.compact();
    }
  }

  pushKvEvents(obs: KvEventsObservation): void {
    this.kvEvents.push(obs);
    if (this.kvEvents.length > this.maxPrefixes) {
      this.dropped += this.kvEvents.length - this.maxPrefixes;
      this.kvEvents = this.kvEvents.slice(-this.maxPrefixes);
    }
  }

  setLoad(obs: LoadObservation): void {
    this.loads.set(loadKey(obs), obs);
  }

  /** Removes up to `maxPrefixes` prefix observations (oldest first) and every pending load. */
  take(maxPrefixes: number): ObservationBatch {
    const end = Math.min(this.prefixes.length, this.head + maxPrefixes);
    const prefixes = this.prefixes.slice(this.head, end);
    this.head = end;
    this.compact();
    const loads = [...this.loads.values()];
    this.loads.clear();
    const kvEvents = this.kvEvents.splice(0, maxPrefixes);
    return { prefixes, loads, kvEvents };
  }

  /** Puts back a batch that could not be sent, ahead of what was published since. */
  restore(batch: ObservationBatch): void {
    const pending = this.prefixes.slice(this.head);
    const all = batch.prefixes.concat(pending);
    const excess = all.length - this.maxPrefixes;
    if (excess > 0) this.dropped += excess;
    this.prefixes = excess > 0 ? all.slice(excess) : all;
    this.head = 0;
    for (const obs of batch.loads) {
      const key = loadKey(obs);
      if (!this.loads.has(key)) this.loads.set(key, obs); // a newer value wins
    }
    this.kvEvents = (batch.kvEvents ?? []).concat(this.kvEvents).slice(-this.maxPrefixes);
  }

  private compact(): void {
    if (this.head === this.prefixes.length) {
      this.prefixes = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.prefixes.length) {
      this.prefixes = this.prefixes.slice(this.head);
      this.head = 0;
    }
  }
}

function loadKey(obs: LoadObservation): string {
  return `${obs.gatewayId}\u0000${obs.backendId}`;
}
