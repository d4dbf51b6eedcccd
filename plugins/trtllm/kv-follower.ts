/**
 * The in-process engine's KV-cache events, followed: drained from the engine, converted to the
 * engine-neutral form, applied to one KvTracker (core/routing/kv-tracker.ts), whose removals
 * retract the router chunks each block was linked to (PrefixLinks). The engine's own block hashes
 * are only ever looked up, never computed.
 */
import type { Engine } from '../../native/engine.js';
import type { KvCacheEvent } from '../../native/types.js';
import type { PrefixRetraction } from '../../core/plugin/types.js';
import { KvTracker, type KvEvent } from '../../core/routing/kv-tracker.js';
import { PrefixLinks } from './prefix-links.js';

/** The addon's event shape (TensorRT-LLM's KVCacheEvent, mirrored) in the tracker's terms. */
export function toKvEvent(e: KvCacheEvent): KvEvent {
  switch (e.type) {
    case 'stored':
      return { eventId: e.eventId, type: 'stored', parentHash: e.parentHash, blocks: e.blocks.map((b) => ({ hash: b.blockHash, tokens: b.tokens })) };
    case 'removed':
      return { eventId: e.eventId, type: 'removed', hashes: e.blockHashes };
    case 'created':
      return { eventId: e.eventId, type: 'created', numBlocks: e.numBlocks, blockSize: e.blockSize };
    case 'cleared':
    case 'updated':
      return { eventId: e.eventId, type: e.type };
  }
}

export class KvFollower {
  readonly tracker: KvTracker;
  readonly links = new PrefixLinks();

  constructor(private readonly runtime: Engine, blockSize?: number) {
    this.tracker = new KvTracker({ blockSize });
    this.tracker.listen({
      onRemoved: (keys) => this.links.retract(keys),
      // Cleared, or events lost: the router's picture of this backend can no longer be vouched for.
      onCleared: () => this.links.retractAll(),
    });
  }

  onRetraction(listener: PrefixRetraction): void {
    this.links.onRetraction(listener);
  }

  /** Applies the events since the last poll. */
  poll(): void {
    const events = this.runtime.getLatestKvEvents();
    if (events.length > 0) this.tracker.apply(events.map(toKvEvent));
  }

  /** A request entered the engine: link its blocks (keyed by Switchyard) to the router's chunks. */
  link(tokenIds: ArrayLike<number>, chunkHashes: readonly number[] | undefined, blockStartChunk?: readonly number[]): void {
    if (!chunkHashes || chunkHashes.length === 0) return;
    this.links.link(this.tracker.keysOf(tokenIds), chunkHashes, blockStartChunk);
  }
}
