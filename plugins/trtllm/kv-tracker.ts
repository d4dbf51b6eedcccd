/**
 * Follows the in-process engine's KV-cache events so the router's prefix index for this backend
 * tracks the engine's real cache. The router keys prompts by byte chunks of the canonical prompt,
 * the engine by token blocks (TensorRT-LLM's BlockKeyHasher over the token ids — the engine model
 * uses the same scheme, exported as hashBlocks). Each dispatched request links the two: engine
 * block j of n stands for the router's chunks up to ⌈(j+1)/n · chunks⌉. When the engine evicts a
 * block, the chunks from that point on are retracted for this backend; a later request that
 * stores them again re-links them.
 */
import { hashBlocks } from '../../core/engine/engine.js';
import type { KvCacheEvent } from '../../core/engine/types.js';
import type { PrefixRetraction } from '../../core/plugin/types.js';

interface Link {
  chunks: readonly number[];
  /** Retract from this chunk index on. */
  from: number;
}

export class KvTracker {
  private readonly links = new Map<bigint, Link>();
  private listener?: PrefixRetraction;
  retracted = 0;

  constructor(private readonly blockSize: number, private readonly maxLinks = 200_000) {}

  onRetraction(listener: PrefixRetraction): void {
    this.listener = listener;
  }

  /** A request is in the engine: link its token blocks to the router's chunks. */
  link(tokenIds: Int32Array, chunkHashes: readonly number[] | undefined): void {
    if (!chunkHashes || chunkHashes.length === 0) return;
    const blocks = hashBlocks(tokenIds, this.blockSize);
    const n = blocks.length;
    for (let j = 0; j < n; j++) {
      const from = Math.min(chunkHashes.length, Math.floor((j * chunkHashes.length) / n));
      this.links.delete(blocks[j]);
      this.links.set(blocks[j], { chunks: chunkHashes, from });
    }
    while (this.links.size > this.maxLinks) this.links.delete(this.links.keys().next().value as bigint);
  }

  /** Applies drained events: evicted blocks retract the chunks they stood for. */
  apply(events: readonly KvCacheEvent[]): void {
    for (const e of events) {
      if (e.type === 'cleared') {
        for (const link of this.links.values()) this.retract(link);
        this.links.clear();
        continue;
      }
      if (e.type !== 'removed') continue;
      for (const hash of e.blockHashes) {
        const link = this.links.get(hash);
        if (!link) continue;
        this.links.delete(hash);
        this.retract(link);
      }
    }
  }

  private retract(link: Link): void {
    if (link.from >= link.chunks.length) return;
    this.retracted++;
    this.listener?.(link.chunks.slice(link.from));
  }
}
