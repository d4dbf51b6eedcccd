/**
 * The state-store seam: how gateway replicas share what they learn. Each replica routes on its
 * own local state (prefix index, load counts) and publishes its observations asynchronously; the
 * store delivers other replicas' observations back. Nothing here is ever awaited on the request
 * path: with the backend gone, a replica keeps serving on what it knows and catches up later.
 */

/** "Backend `backendId` now holds these prompt-prefix blocks." */
export interface PrefixObservation {
  backendId: string;
  /** A chain of block hashes (52-bit non-negative integers), prefix first. */
  hashes: number[];
  /** When it was observed, ms since the epoch. */
  at: number;
}

/** What an engine said about its own load, as the gateway that read it saw it. */
export interface EngineReading {
  running?: number;
  waiting?: number;
  kvUsage?: number;
  prefixHitRate?: number;
  /** When the engine's numbers were read (ms since the epoch). */
  readAt: number;
}

/**
 * "Replica `gatewayId` has `inFlight` requests on `backendId`" — and, from the one replica that
 * reads an engine's drain-on-read statistics, what the engine said (`engine`). A gauge: the
 * latest value wins.
 */
export interface LoadObservation {
  gatewayId: string;
  backendId: string;
  inFlight: number;
  at: number;
  engine?: EngineReading;
}

/**
 * An engine's KV-cache events, as the one replica that drains them read them (trtllm-serve's
 * /kv_cache_events), for the other replicas' trackers. Engine-neutral events (kv-tracker.ts), hashes
 * as strings; an empty list is a heartbeat (the reader is alive and the engine quiet). In order per
 * backend; the event ids let a consumer see what a full buffer dropped.
 */
export interface KvEventsObservation {
  backendId: string;
  events: WireKvEvent[];
  at: number;
}

/** kv-tracker.ts's KvEvent with its hashes as strings (JSON carries them exactly). */
export type WireKvEvent = { eventId?: number } & (
  | { type: 'created'; numBlocks: number; blockSize?: number }
  | { type: 'stored'; parentHash: string | null; blocks: Array<{ hash: string; tokens: number[]; extra?: string }> }
  | { type: 'removed'; hashes: string[] }
  | { type: 'cleared' }
  | { type: 'updated' }
);

export interface StateStoreEvents {
  onPrefix(obs: PrefixObservation): void;
  onLoad(obs: LoadObservation): void;
  onKvEvents?(obs: KvEventsObservation): void;
}

export interface StateStoreStats {
  /** Observations handed to the backend (for Redis: acknowledged by it). */
  published: number;
  /** Other replicas' observations delivered to this replica's handlers. */
  applied: number;
  /** Observations lost: invalid ones (see validate.ts), and the oldest when the local buffer was full. */
  dropped: number;
  /** Times the store went from degraded back to connected. */
  reconnects: number;
  /** Observations waiting locally to be published. */
  buffered: number;
}

/**
 * A store shared by the replicas of one gateway. Observations are delivered at least once and
 * may arrive late; both kinds are idempotent (an index insert, a gauge), so consumers apply them
 * as they come and use `at` to age them. Published objects belong to the store: do not mutate
 * them after publishing.
 */
export interface StateStore {
  /** Unique per replica process. */
  readonly gatewayId: string;
  /** Fire-and-forget; never throws, never blocks; buffered (bounded) while the backend is unreachable. */
  publishPrefix(obs: PrefixObservation): void;
  publishLoad(obs: LoadObservation): void;
  /** In order, bounded like prefixes (the oldest dropped while unreachable: consumers see the gap). */
  publishKvEvents(obs: KvEventsObservation): void;
  /** Start delivering OTHER replicas' observations (never this replica's own). Resolves even when the backend is down. */
  start(events: StateStoreEvents): Promise<void>;
  /**
   * Takes or renews the lease `name` for `ttlMs`: true while this replica holds it. One holder at
   * a time across the replicas sharing the store (the reader of an endpoint that drains on read);
   * a holder that stops renewing loses it after `ttlMs`. False while the store is unreachable.
   */
  lease(name: string, ttlMs: number): Promise<boolean>;
  /** 'connected', or 'degraded' (serving on local state): for /ready and metrics. */
  status(): 'connected' | 'degraded';
  stats(): StateStoreStats;
  /** Idempotent. Sends what is buffered if the backend is reachable, then stops delivering. */
  close(): Promise<void>;
}

/** The subset of pino's logger the stores use. */
export interface StateLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}
