/**
 * Follows the in-process engine's KV-cache events so the router's prefix index for this backend
 * tracks the engine's real cache. The router keys prompts by byte chunks of the canonical prompt,
 * the engine by token blocks (TensorRT-LLM's BlockKeyHasher over the token ids — the engine model
 * uses the same scheme, exported as hashBlocks). Each dispatched request links the two:
 *
 * - exactly, when the router keyed the very text the engine tokenized (the route renders the same
 *   chat template: its chunk hashes equal the plugin's own over its prompt) and the tokenizer is
 *   byte-level: block j starts at the byte where its first token starts, so it stands for the
 *   chunks from the one holding that byte on;
 * - proportionally otherwise (block j of n stands for the chunks from ⌊j/n · chunks⌋ on).
 *
 * When the engine evicts a block, the chunks from that point on are retracted for this backend; a
 * later request that stores them again re-links them.
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
  /** Blocks linked by the exact (byte-offset) mapping, for tests and /admin/routing. */
  exactLinks = 0;

  constructor(private readonly blockSize: number, private readonly maxLinks = 200_000) {}

  onRetraction(listener: PrefixRetraction): void {
    this.listener = listener;
  }

  /**
   * A request is in the engine: link its token blocks to the router's chunks. `blockStartChunk`,
   * where the exact mapping is known (blockStartChunks below), gives each block's first chunk.
   */
  link(tokenIds: Int32Array, chunkHashes: readonly number[] | undefined, blockStartChunk?: readonly number[]): void {
    if (!chunkHashes || chunkHashes.length === 0) return;
    const blocks = hashBlocks(tokenIds, this.blockSize);
    const n = blocks.length;
    if (blockStartChunk) this.exactLinks += n;
    for (let j = 0; j < n; j++) {
      const from = Math.min(chunkHashes.length, blockStartChunk?.[j] ?? Math.floor((j * chunkHashes.length) / n));
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

/**
 * The router chunk each full token block starts in, from the bytes each prompt token encodes.
 * `leading` tokens come before the text (prefix_tokens_id) and encode none of it.
 */
export function blockStartChunks(tokenBytes: Int32Array, leading: number, blockSize: number, chunkBytes: number): number[] {
  const blocks = Math.floor((leading + tokenBytes.length) / blockSize);
  const starts: number[] = [];
  let byte = 0;
  let token = 0; // index into the whole sequence, leading tokens included
  for (let j = 0; j < blocks; j++) {
    const first = j * blockSize;
    for (; token < first; token++) if (token >= leading) byte += tokenBytes[token - leading];
    starts.push(Math.floor(byte / chunkBytes));
  }
  return starts;
}
