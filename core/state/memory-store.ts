import { newGatewayId } from './gateway-id.js';
import { isKvEventsObservation, isLoadObservation, isPrefixObservation } from './validate.js';
import type { KvEventsObservation, LoadObservation, PrefixObservation, StateLogger, StateStore, StateStoreEvents, StateStoreStats } from './types.js';

type Delivery = { from: MemoryStore; kind: 'prefix'; obs: PrefixObservation } | { from: MemoryStore; kind: 'load'; obs: LoadObservation }
  | { from: MemoryStore; kind: 'kv'; obs: KvEventsObservation };

/**
 * An in-process stand-in for Redis: MemoryStores that share a bus see each other's observations,
 * so tests can run N "replicas" in one process. Delivery is asynchronous (a microtask after the
 * publish, in publish order) like the real thing, so code that assumes an observation is visible
 * to its peers at once fails here too; `idle()` waits until everything published is delivered.
 */
export class MemoryBus {
  private readonly members = new Set<MemoryStore>();
  /** Leases by name: who holds each, until when. */
  readonly leases = new Map<string, { holder: MemoryStore; until: number }>();
  private queue: Delivery[] = [];
  private draining: Promise<void> | null = null;

  join(store: MemoryStore): void {
    this.members.add(store);
  }

  leave(store: MemoryStore): void {
    this.members.delete(store);
  }

  post(delivery: Delivery): void {
    this.queue.push(delivery);
    this.draining ??= Promise.resolve().then(() => this.drain());
  }

  /** Resolves once every observation published so far has been delivered. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private drain(): void {
    // Handlers may publish in turn; their deliveries join this same drain.
    for (let i = 0; i < this.queue.length; i++) {
      const d = this.queue[i]!;
      for (const member of this.members) if (member !== d.from) member.deliver(d);
    }
    this.queue = [];
    this.draining = null;
  }
}

export interface MemoryStoreOptions {
  /** Share observations with the other stores on this bus; without one the store is alone. */
  bus?: MemoryBus;
  gatewayId?: string;
  log?: StateLogger;
}

/** The default store for a single replica: publishing reaches only the stores on the same bus. */
export class MemoryStore implements StateStore {
  readonly gatewayId: string;
  private readonly bus: MemoryBus;
  private readonly log: StateLogger | undefined;
  private events: StateStoreEvents | null = null;
  private closed = false;
  private published = 0;
  private applied = 0;
  private dropped = 0;

  constructor(opts: MemoryStoreOptions = {}) {
    this.gatewayId = opts.gatewayId ?? newGatewayId();
    this.bus = opts.bus ?? new MemoryBus();
    this.log = opts.log;
  }

  publishPrefix(obs: PrefixObservation): void {
    if (this.closed) return;
    if (!isPrefixObservation(obs)) { this.dropped++; return; }
    this.published++;
    this.bus.post({ from: this, kind: 'prefix', obs });
  }

  publishLoad(obs: LoadObservation): void {
    if (this.closed) return;
    if (!isLoadObservation(obs)) { this.dropped++; return; }
    this.published++;
    this.bus.post({ from: this, kind: 'load', obs });
  }

  /** As Redis does it: one holder per name on the bus, until it stops renewing for `ttlMs`. */
  async lease(name: string, ttlMs: number): Promise<boolean> {
    if (this.closed) return false;
    const now = Date.now();
    const held = this.bus.leases.get(name);
    if (held && held.holder !== this && held.until > now) return false;
    this.bus.leases.set(name, { holder: this, until: now + ttlMs });
    return true;
  }

  publishKvEvents(obs: KvEventsObservation): void {
    if (this.closed) return;
    if (!isKvEventsObservation(obs)) { this.dropped++; return; }
    this.published++;
    this.bus.post({ from: this, kind: 'kv', obs });
  }

  async start(events: StateStoreEvents): Promise<void> {
    if (this.closed) throw new Error('state store: start() after close()');
    this.events = events;
    this.bus.join(this);
  }

  status(): 'connected' | 'degraded' {
    return this.closed ? 'degraded' : 'connected';
  }

  stats(): StateStoreStats {
    return { published: this.published, applied: this.applied, dropped: this.dropped, reconnects: 0, buffered: 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.events = null;
    this.bus.leave(this);
  }

  /** @internal Called by the bus. A throwing handler must not starve the other replicas. */
  deliver(d: Delivery): void {
    const events = this.events;
    if (!events) return;
    this.applied++;
    try {
      if (d.kind === 'prefix') events.onPrefix(d.obs);
      else if (d.kind === 'load') events.onLoad(d.obs);
      else events.onKvEvents?.(d.obs);
    } catch (err) {
      // The consumer's bug, not the bus's: the other replicas still get their deliveries.
      this.log?.error({ err: err instanceof Error ? err.message : String(err) }, 'state store consumer threw');
    }
  }
}
