import { describe, expect, it } from 'vitest';
import { parseExactJson, readKvEvents } from '../../../plugins/trtllm-serve/kv-events.js';

describe('trtllm-serve /kv_cache_events', () => {
  it('keeps 64-bit block hashes exact (JSON.parse alone would round them)', () => {
    const text = '[{"event_id": 7, "data": {"type": "removed", "block_hashes": [18446744073709551557, 42]}, "window_size": 4096}]';
    expect(JSON.parse(text)[0].data.block_hashes[0]).not.toBe(18446744073709551557n.toString());
    expect(readKvEvents(text)).toEqual([{ eventId: 7, type: 'removed', hashes: ['18446744073709551557', '42'] }]);
    expect(parseExactJson('{"a": 1.5, "b": [12345678901234567890], "c": "12345678901234567890"}')).toEqual({ a: 1.5, b: ['12345678901234567890'], c: '12345678901234567890' });
  });

  it('reads every kind KVCacheEventSerializer writes', () => {
    const text = JSON.stringify([
      { event_id: 0, data: { type: 'created', num_blocks_per_cache_level: [4096, 0] }, window_size: 4096 },
      { event_id: 1, data: { type: 'stored', parent_hash: null, blocks: [{ type: 'stored_block', block_hash: 5, tokens: [{ type: 'unique_token', token_id: 11, token_extra_id: 0 }, { type: 'unique_token', token_id: 12, token_extra_id: 0 }], lora_id: null, cache_level: 0, priority: 35 }] }, window_size: 4096 },
      { event_id: 2, data: { type: 'updated', block_hash: 5, cache_level: { type: 'event_diff', old_value: 0, new_value: 1 }, priority: null }, window_size: 4096 },
    ]);
    expect(readKvEvents(text)).toEqual([
      { eventId: 0, type: 'created', numBlocks: 4096 },
      { eventId: 1, type: 'stored', parentHash: null, blocks: [{ hash: '5', tokens: [11, 12] }] },
      { eventId: 2, type: 'updated' },
    ]);
  });
});
