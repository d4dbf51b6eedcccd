import { describe, expect, it } from 'vitest';
import { blockKeys } from '../../../core/routing/kv-tracker.js';
import type { KvCacheEvent } from '../../../native/types.js';
import { KvFollower, toKvEvent } from '../../../plugins/trtllm/kv-follower.js';
import { blockStartChunks, PrefixLinks } from '../../../plugins/trtllm/prefix-links.js';
import type { Engine } from '../../../native/engine.js';

describe('prefix links', () => {
  const tokens = Int32Array.from({ length: 128 }, (_, i) => 1000 + i); // 4 blocks of 32
  const chunks = [11, 12, 13, 14, 15, 16, 17, 18]; // the router's 8 chunks of the same prompt

  it('retracts the chunks an evicted block stood for, from that point on', () => {
    const links = new PrefixLinks();
    const retracted: number[][] = [];
    links.onRetraction((h) => retracted.push([...h]));
    const keys = blockKeys(tokens, 32);
    links.link(keys, chunks);
    links.retract([keys[2]]);
    expect(retracted).toEqual([[15, 16, 17, 18]]);
    links.retract([123]); // a key never linked
    expect(retracted).toHaveLength(1);
    links.retractAll();
    expect(retracted).toContainEqual([11, 12, 13, 14, 15, 16, 17, 18]);
  });

  it('maps blocks to chunks exactly by the bytes their tokens encode', () => {
    // 8 tokens of 10 bytes, then 8 of 100: blocks of 4 tokens start at bytes 0, 40, 80, 480 → with
    // 64-byte chunks, chunks 0, 0, 1, 7 (proportional mapping would have said 0, 2, 4, 6).
    const bytes = Int32Array.from([10, 10, 10, 10, 10, 10, 10, 10, 100, 100, 100, 100, 100, 100, 100, 100]);
    expect(blockStartChunks(bytes, 0, 4, 64)).toEqual([0, 0, 1, 7]);
    // Two prefix_tokens_id ahead of the text encode none of it and shift the blocks.
    expect(blockStartChunks(bytes, 2, 4, 64)).toEqual([0, 0, 0, 4]);
    const links = new PrefixLinks();
    const retracted: number[][] = [];
    links.onRetraction((h) => retracted.push([...h]));
    const ids = Int32Array.from({ length: 16 }, (_, i) => 500 + i);
    const chunkHashes = Array.from({ length: 26 }, (_, i) => i + 1);
    links.link(blockKeys(ids, 4), chunkHashes, blockStartChunks(bytes, 0, 4, 64));
    links.retract([blockKeys(ids, 4)[2]]);
    expect(retracted).toEqual([chunkHashes.slice(1)]);
    expect(links.exactLinks).toBe(4);
  });
});

describe('KV follower', () => {
  /** An engine stand-in that hands out scripted events, with hashes unrelated to the tokens. */
  function scripted(batches: KvCacheEvent[][]): Engine {
    return { getLatestKvEvents: () => batches.shift() ?? [] } as unknown as Engine;
  }

  it('retracts router chunks when the engine removes a block, matched by its own hash only', () => {
    const ids = Array.from({ length: 64 }, (_, i) => 7 + i);
    const follower = new KvFollower(scripted([
      [{ eventId: 0, type: 'created', numBlocks: 10 },
        { eventId: 1, type: 'stored', parentHash: null, blocks: [{ blockHash: 0xf00dn, tokens: ids.slice(0, 32) }, { blockHash: 0xbeefn, tokens: ids.slice(32) }] }],
      [{ eventId: 2, type: 'removed', blockHashes: [0xbeefn] }],
      [{ eventId: 5, type: 'stored', parentHash: null, blocks: [] }], // 3 and 4 lost
    ]));
    const retracted: number[][] = [];
    follower.onRetraction((h) => retracted.push([...h]));
    follower.poll();
    expect(follower.tracker.blockSize).toBe(32);
    follower.link(ids, [1, 2, 3, 4]);
    follower.poll();
    expect(retracted).toEqual([[3, 4]]);
    follower.poll();
    expect(follower.tracker.stats.gaps).toBe(1);
    expect(retracted).toEqual([[3, 4], [1, 2, 3, 4]]); // what is left is retracted: it can no longer be vouched for
  });

  it('converts every addon event type', () => {
    expect(toKvEvent({ eventId: 3, type: 'updated' })).toEqual({ eventId: 3, type: 'updated' });
    expect(toKvEvent({ eventId: 4, type: 'cleared' })).toEqual({ eventId: 4, type: 'cleared' });
    expect(toKvEvent({ eventId: 5, type: 'created', numBlocks: 9 })).toEqual({ eventId: 5, type: 'created', numBlocks: 9, blockSize: undefined });
  });
});
