/**
 * A backend's KvCacheView over one KvTracker: what the router matches exact requests against.
 * `live` is the event source's word (a subscription that is up and in sequence); while it is
 * false the router falls back to approximate matching for that backend.
 */
import type { KvCacheView } from '../plugin/types.js';
import type { KvTracker } from './kv-tracker.js';

export class TrackedKvCache implements KvCacheView {
  constructor(
    readonly tracker: KvTracker,
    private readonly source: { live(): boolean; describe?(): Record<string, unknown> } = { live: () => true },
    readonly keysCacheSalt = false,
  ) {}

  get blockSize(): number | undefined {
    return this.tracker.blockSize;
  }

  live(): boolean {
    return this.source.live();
  }

  holds(key: number): boolean {
    return this.tracker.holds(key);
  }

  onRemoved(listener: (keys: readonly number[]) => void): void {
    this.tracker.listen({ onRemoved: listener });
  }

  describe(): Record<string, unknown> {
    return {
      mode: this.live() ? 'exact (kv events)' : 'approximate (kv events not flowing)',
      block_size: this.tracker.blockSize,
      blocks: this.tracker.blocks,
      ...this.tracker.stats,
      ...this.source.describe?.(),
    };
  }
}
