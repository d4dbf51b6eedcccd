import { describe, expect, it } from 'vitest';
import { hashBlocks } from '../../../core/engine/engine.js';
import { blockStartChunks, KvTracker } from '../../../plugins/trtllm/kv-tracker.js';

describe('KV tracker', () => {
  const tokens = Int32Array.from({ length: 128 }, (_, i) => 1000 + i); // 4 blocks of 32
  const chunks = [11, 12, 13, 14, 15, 16, 17, 18]; // the router's 8 chunks of the same prompt

  it('retracts the chunks an evicted engine block stood for, from that point on', () => {
    const tracker = new KvTracker(32);
    const retracted: number[][] = [];
    tracker.onRetraction((h) => retracted.push([...h]));
    tracker.link(tokens, chunks);
    const blocks = hashBlocks(tokens, 32);
    tracker.apply([{ eventId: 1, type: 'removed', blockHashes: [blocks[2]] }]);
    expect(retracted).toEqual([[15, 16, 17, 18]]);
    // Unknown blocks and stored events change nothing.
    tracker.apply([{ eventId: 2, type: 'removed', blockHashes: [123n] }, { eventId: 3, type: 'stored', parentHash: null, blocks: [] }]);
    expect(retracted).toHaveLength(1);
    tracker.apply([{ eventId: 4, type: 'cleared' }]);
    expect(retracted).toContainEqual([11, 12, 13, 14, 15, 16, 17, 18]);
  });

  it('maps blocks to chunks exactly by the bytes their tokens encode', () => {
    // 8 tokens of 10 bytes, then 8 of 100: blocks of 4 tokens start at bytes 0, 40, 80, 480 → with
    // 64-byte chunks, chunks 0, 0, 1, 7 (proportional mapping would have said 0, 2, 4, 6).
    const bytes = Int32Array.from([10, 10, 10, 10, 10, 10, 10, 10, 100, 100, 100, 100, 100, 100, 100, 100]);
    expect(blockStartChunks(bytes, 0, 4, 64)).toEqual([0, 0, 1, 7]);
    // Two prefix_tokens_id ahead of the text encode none of it and shift the blocks.
    expect(blockStartChunks(bytes, 2, 4, 64)).toEqual([0, 0, 0, 4]);
    const tracker = new KvTracker(4);
    const retracted: number[][] = [];
    tracker.onRetraction((h) => retracted.push([...h]));
    const ids = Int32Array.from({ length: 16 }, (_, i) => 500 + i);
    const chunkHashes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26];
    tracker.link(ids, chunkHashes, blockStartChunks(bytes, 0, 4, 64));
    tracker.apply([{ eventId: 1, type: 'removed', blockHashes: [hashBlocks(ids, 4)[2]] }]);
    expect(retracted).toEqual([chunkHashes.slice(1)]);
    expect(tracker.exactLinks).toBe(4);
  });
});
