import { describe, expect, it } from 'vitest';
import { hashBlocks } from '../../../core/engine/engine.js';
import { KvTracker } from '../../../plugins/trtllm/kv-tracker.js';

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
});
