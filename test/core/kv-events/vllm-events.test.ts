import { describe, expect, it } from 'vitest';
import { decodeVllmEventBatch, VllmEventDecodeError, type KvEvent } from '../../../core/kv-events/vllm-events.js';
import { encodeMsgspec, F64, OrderedMap, type Encodable } from '../../../bench/sim/kv-events/msgspec-encode.js';
import { CAPTURED_VLLM_PAYLOAD } from './vectors.js';

const CAPTURED_TOKENS = [4217, 315, 678, 882, 151645, 198, 151644, 77091, 198, 151667, 198, 32313, 11, 773, 358, 1184];

const batch = (events: Encodable[], rank: Encodable = 0) => encodeMsgspec([new F64(1.5), events, rank]);
const stored = (e: KvEvent) => {
  if (e.type !== 'stored') throw new Error(`expected stored, got ${e.type}`);
  return e;
};

describe('decodeVllmEventBatch', () => {
  it('decodes a payload captured from a running vLLM, 64-bit hashes exact', () => {
    const b = decodeVllmEventBatch(CAPTURED_VLLM_PAYLOAD);
    expect(b.ts).toBe(1767666073.8055613);
    expect(b.dpRank).toBe(0);
    expect(b.events).toEqual([{
      type: 'stored',
      parentHash: 15722805041033817089n,
      blocks: [{ hash: 17536983392627827276n, tokens: CAPTURED_TOKENS }],
      lora: null,
      medium: 'GPU',
    }]);
  });

  it('reads BlockStored of every length from 5 elements (no lora_id) to 12, and ignores fields it does not know', () => {
    const fields: Encodable[] = [[1n, 2n], 9n, [1, 2, 3, 4], 2, 7, 'CPU', 'adapter', [['salt'], null], 1, 'sliding_window', 128, 'LOCAL'];
    for (let n = 4; n <= fields.length; n++) {
      const e = stored(decodeVllmEventBatch(batch([['BlockStored', ...fields.slice(0, n)]])).events[0]);
      expect(e.parentHash).toBe(9n);
      expect(e.blocks).toEqual([{ hash: 1n, tokens: [1, 2] }, { hash: 2n, tokens: [3, 4] }]);
      expect(e.lora).toBe(n < 5 ? undefined : n < 7 ? 7 : 'adapter');
      expect(e.medium).toBe(n < 6 ? undefined : 'CPU');
      expect(e.extraKeys).toEqual(n < 8 ? undefined : [['salt'], null]);
      expect(e.group).toBe(n < 9 ? undefined : 1);
      expect(e.cacheSpec).toBe(n < 10 ? undefined : 'sliding_window');
    }
    expect(() => decodeVllmEventBatch(batch([['BlockStored', [1n], null, [1]]]))).toThrow(/fewer than 4/);
  });

  it('keeps int hashes exact up to 2^64−1, takes negative ones (Python hash()), and spells bytes in hex', () => {
    const top = 0xffff_ffff_ffff_ffffn;
    const e = stored(decodeVllmEventBatch(batch([['BlockStored', [top, 2n ** 53n + 1n, -5n, 7], top - 1n, [], 0, null]])).events[0]);
    expect(e.blocks.map((b) => b.hash)).toEqual([top, 2n ** 53n + 1n, -5n, 7n]);
    expect(e.parentHash).toBe(top - 1n);
    const digest = Buffer.alloc(32, 0xab);
    const d = stored(decodeVllmEventBatch(batch([['BlockStored', [digest], Buffer.from([0, 1]), [5], 1, null, 'GPU']])).events[0]);
    expect(d.blocks[0].hash).toBe('ab'.repeat(32));
    expect(d.parentHash).toBe('0001');
  });

  it('decodes events encoded as maps tagged "type", as from v0.26 on, missing defaults and extra keys alike', () => {
    const map = new OrderedMap([
      ['type', 'BlockStored'], ['block_hashes', [15760518052499183552n]], ['parent_block_hash', null],
      ['token_ids', [151644, 872]], ['block_size', 2], ['lora_id', null], ['medium', 'GPU'], ['lora_name', null],
      ['extra_keys', [null]], ['group_idx', 0], ['kv_cache_spec_kind', 'full_attention'], ['ownership', 'x'],
    ]);
    const removed = new OrderedMap([['type', 'BlockRemoved'], ['block_hashes', [1n]], ['medium', 'GPU']]);
    const b = decodeVllmEventBatch(batch([map, removed, new OrderedMap([['type', 'AllBlocksCleared']])]));
    expect(b.events).toEqual([
      { type: 'stored', parentHash: null, blocks: [{ hash: 15760518052499183552n, tokens: [151644, 872] }],
        lora: null, medium: 'GPU', extraKeys: [null], group: 0, cacheSpec: 'full_attention' },
      { type: 'removed', hashes: [1n], medium: 'GPU' },
      { type: 'cleared' },
    ]);
  });

  it('decodes a batch that is itself a map', () => {
    const payload = encodeMsgspec(new OrderedMap([['ts', new F64(2.5)], ['events', [['AllBlocksCleared']]], ['data_parallel_rank', 3]]));
    expect(decodeVllmEventBatch(payload)).toEqual({ ts: 2.5, dpRank: 3, events: [{ type: 'cleared' }], unknownEvents: 0 });
  });

  it('reads BlockRemoved of 2 to 4 elements, batches without a rank, and skips unknown event types', () => {
    expect(decodeVllmEventBatch(encodeMsgspec([new F64(1), [['BlockRemoved', [3n]]]]))).toEqual({
      ts: 1, dpRank: null, events: [{ type: 'removed', hashes: [3n] }], unknownEvents: 0,
    });
    const b = decodeVllmEventBatch(batch([['BlockRemoved', [3n], 'GPU', 2], ['BlockPromoted', 1], ['AllBlocksCleared']], null));
    expect(b.events).toEqual([{ type: 'removed', hashes: [3n], medium: 'GPU', group: 2 }, { type: 'cleared' }]);
    expect(b.unknownEvents).toBe(1);
    expect(b.dpRank).toBe(null);
  });

  it('gives blocks no tokens when the flat token list does not split into them (offload events)', () => {
    const e = stored(decodeVllmEventBatch(batch([['BlockStored', [1n, 2n], null, [], 0, null, 'CPU']])).events[0]);
    expect(e.blocks).toEqual([{ hash: 1n, tokens: [] }, { hash: 2n, tokens: [] }]);
    const odd = stored(decodeVllmEventBatch(batch([['BlockStored', [1n, 2n], null, [1, 2, 3], 2, null]])).events[0]);
    expect(odd.blocks.every((b) => b.tokens.length === 0)).toBe(true);
  });

  it('refuses payloads that are not a KV event batch', () => {
    expect(() => decodeVllmEventBatch(Buffer.from([0xc1]))).toThrow(VllmEventDecodeError);
    expect(() => decodeVllmEventBatch(encodeMsgspec([new F64(1), 5]))).toThrow(/events is not an array/);
    expect(() => decodeVllmEventBatch(batch([42]))).toThrow(/neither an array nor a map/);
    expect(() => decodeVllmEventBatch(batch([['BlockStored', 'x', null, [], 1]]))).toThrow(/block_hashes/);
    expect(() => decodeVllmEventBatch(batch([['BlockStored', [new F64(1.5)], null, [], 1]]))).toThrow(/hash/);
  });
});
