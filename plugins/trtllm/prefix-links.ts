/**
 * Links the in-process engine's token blocks to the router's prefix chunks, so that when the
 * engine evicts a block the router stops crediting this backend with the chunks it stood for.
 *
 * The router keys prompts by byte chunks of the canonical prompt; the engine caches token blocks.
 * Blocks are named here by Switchyard's own key of their token ids (core/routing/kv-tracker.ts),
 * never by the engine's hash: the tracker turns the engine's `removed` events into those keys.
 * Each dispatched request links its blocks to the router's chunks:
 *
 * - exactly, when the router keyed the very text the engine tokenized (the route renders the same
 *   chat template: its chunk hashes equal the plugin's own over its prompt) and the tokenizer is
 *   byte-level: block j starts at the byte where its first token starts, so it stands for the
 *   chunks from the one holding that byte on;
 * - proportionally otherwise (block j of n stands for the chunks from ⌊j/n · chunks⌋ on).
 *
 * When a block's key leaves the engine, the chunks from that point on are retracted for this
 * backend; a later request that stores them again re-links them.
 */
import type { PrefixRetraction } from '../../core/plugin/types.js';

interface Link {
  chunks: readonly number[];
  /** Retract from this chunk index on. */
  from: number;
}

export class PrefixLinks {
  private readonly links = new Map<number, Link>();
  private listener?: PrefixRetraction;
  retracted = 0;
  /** Blocks linked by the exact (byte-offset) mapping, for tests and /admin/routing. */
  exactLinks = 0;

  constructor(private readonly maxLinks = 200_000) {}

  onRetraction(listener: PrefixRetraction): void {
    this.listener = listener;
  }

  /**
   * A request is in the engine: link its blocks (Switchyard keys, in order) to the router's
   * chunks. `blockStartChunk`, where the exact mapping is known (blockStartChunks below), gives
   * each block's first chunk.
   */
  link(blockKeys: readonly number[], chunkHashes: readonly number[] | undefined, blockStartChunk?: readonly number[]): void {
    if (!chunkHashes || chunkHashes.length === 0) return;
    const n = blockKeys.length;
    if (blockStartChunk) this.exactLinks += n;
    for (let j = 0; j < n; j++) {
      const from = Math.min(chunkHashes.length, blockStartChunk?.[j] ?? Math.floor((j * chunkHashes.length) / n));
      this.links.delete(blockKeys[j]);
      this.links.set(blockKeys[j], { chunks: chunkHashes, from });
    }
    while (this.links.size > this.maxLinks) this.links.delete(this.links.keys().next().value as number);
  }

  /** These blocks left the engine: retract the chunks they stood for. */
  retract(blockKeys: readonly number[]): void {
    for (const key of blockKeys) {
      const link = this.links.get(key);
      if (!link) continue;
      this.links.delete(key);
      this.retractLink(link);
    }
  }

  /** The engine's cache is gone, or its events were lost: retract every linked chunk run. */
  retractAll(): void {
    for (const link of this.links.values()) this.retractLink(link);
    this.links.clear();
  }

  private retractLink(link: Link): void {
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
