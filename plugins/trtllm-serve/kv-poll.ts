/**
 * trtllm-serve's KV-cache events, followed for exact prefix routing (`kv_events:` option): the
 * gateway replica that holds the draining-reader role polls `POST /kv_cache_events` (it drains,
 * kv-events.ts) and shares each batch through the state store; the other replicas follow what it
 * shares. Matching is live while polls succeed (reader) or shares arrive (followers); a poll that
 * fails, or a reader that stopped, leaves it approximate.
 */
import type { KvCacheView } from '../../core/plugin/types.js';
import { TrackedKvCache } from '../../core/routing/kv-cache-view.js';
import { KvTracker, type KvEvent } from '../../core/routing/kv-tracker.js';
import type { EngineHandle, KvEventsSource } from '../http/define.js';
import { readKvEvents } from './kv-events.js';

/** `kv_events: true` or `{ interval_ms, block_size }`: follow the engine's KV-cache events. */
export function readKvEventsOption(v: unknown): { intervalMs: number; blockSize?: number } | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return { intervalMs: 100 };
  const o = v as { interval_ms?: number; block_size?: number };
  return { intervalMs: o.interval_ms ?? 100, blockSize: o.block_size };
}

export function validateKvEventsOption(v: unknown): string[] {
  if (v === undefined || typeof v === 'boolean') return [];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`kv_events: expected true, false or { interval_ms, block_size }, got ${JSON.stringify(v)}`];
  const problems: string[] = [];
  for (const [k, x] of Object.entries(v)) {
    if (k !== 'interval_ms' && k !== 'block_size') problems.push(`kv_events.${k}: not a known option (known: interval_ms, block_size)`);
    else if (!(typeof x === 'number' && Number.isInteger(x) && x > 0)) problems.push(`kv_events.${k}: expected a positive integer, got ${JSON.stringify(x)}`);
  }
  return problems;
}

export class TrtllmKvPoll implements KvEventsSource {
  readonly view: KvCacheView;
  readonly poll: { intervalMs: number; run(): Promise<void> };
  private readonly tracker: KvTracker;
  private lastOk = 0;
  private lastError?: string;
  /** When this replica last shared (reader) or received (follower) events or a heartbeat. */
  private lastShared = 0;
  private lastReceived = 0;

  constructor(private readonly engine: EngineHandle, opts: { intervalMs: number; blockSize?: number }) {
    const { ctx } = engine;
    this.tracker = new KvTracker({ blockSize: opts.blockSize });
    const fresh = (t: number) => Date.now() - t < Math.max(3000, 4 * opts.intervalMs);
    this.view = new TrackedKvCache(this.tracker, {
      // The reader polls (the endpoint drains); the other replicas follow what it shares.
      live: () => (ctx.drainingReader ? fresh(this.lastOk) : fresh(this.lastReceived)),
      describe: () => ({
        source: ctx.drainingReader ? 'POST /kv_cache_events (this replica reads it)' : 'shared by the replica that reads POST /kv_cache_events',
        last_poll_ok: this.lastOk ? new Date(this.lastOk).toISOString() : null, last_error: this.lastError,
        last_shared_received: this.lastReceived ? new Date(this.lastReceived).toISOString() : null,
      }),
    });
    this.poll = { intervalMs: opts.intervalMs, run: () => (ctx.drainingReader ? this.read() : Promise.resolve()) };
  }

  private async read(): Promise<void> {
    try {
      const res = await this.engine.client.post('/kv_cache_events', {});
      if (res.status !== 200) throw new Error(`POST /kv_cache_events answered ${res.status}`);
      const events = readKvEvents(res.body);
      this.tracker.apply(events);
      this.lastOk = Date.now();
      this.lastError = undefined;
      // The other gateway replicas follow through the store: every batch, and a heartbeat a second.
      if (events.length > 0 || this.lastOk - this.lastShared >= 1000) {
        this.engine.ctx.shareKvEvents?.(this.engine.id, events);
        this.lastShared = this.lastOk;
      }
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
    }
  }

  /** Events the reading replica shared: applied as if polled here (their ids catch what was lost). */
  applyShared(events: readonly KvEvent[]): void {
    if (this.engine.ctx.drainingReader) return;
    this.tracker.apply(events);
    this.lastReceived = Date.now();
  }
}
