/**
 * The KV-event wire layouts of the vLLM releases the emulated engine can speak, and the
 * encoding of a batch in one of them (vllm/distributed/kv_events.py of each release, encoded by
 * msgspec.msgpack.Encoder as ZmqEventPublisher does).
 *
 * Sources, per release key (the names match bench/sim/faces/releases.ts where both exist):
 * - "0.9.0": kv_events.py @ b4e69e0a, read: EventBatch `[ts, events]`; BlockStored through
 *   lora_id; BlockRemoved `[tag, block_hashes]`; replies without a topic frame.
 * - "0.10": the v0.11.0 branch point (2025-09-30) as the project's fidelity audit read it:
 *   data_parallel_rank in the batch (#18925), `medium` on both block events. A payload captured
 *   from a running vLLM of that era has exactly this shape (the test vector in
 *   test/core/kv-events/vllm-events.test.ts).
 * - "0.19": main of 2026-05-19 per the same audit: BlockStored adds lora_name (#27577),
 *   extra_keys (#33304), group_idx (#37688), kv_cache_spec_kind and _sliding_window (#40984);
 *   BlockRemoved adds group_idx. Field order as in kv_events.py @ 0181ea31, read.
 * - "0.28": events as maps tagged "type" (#42892; kv_events.py @ 0181ea31, read, has no
 *   array_like on the events), the batch still an array (a v0.26.0 payload printed in
 *   volcano-sh/kthena#1535), `locality` on both block events (struct fields of v0.28.0 as
 *   transcribed by a third party), the topic frame in replay replies (#45177, in v0.26.0).
 *
 * msgspec writes every field of an array_like struct, defaults included (_core.c
 * mpack_encode_struct_array), so array events always have the release's full length; as maps,
 * fields whose value is their default (None) are left out (omit_defaults).
 */
import type { EngineHash, KvEvent } from '../../../core/kv-events/vllm-events.js';
import { encodeMsgspec, F64, OrderedMap, type Encodable } from './msgspec-encode.js';

type StoredField =
  | 'block_hashes' | 'parent_block_hash' | 'token_ids' | 'block_size' | 'lora_id' | 'medium' | 'lora_name'
  | 'extra_keys' | 'group_idx' | 'kv_cache_spec_kind' | 'kv_cache_spec_sliding_window' | 'locality';
type RemovedField = 'block_hashes' | 'medium' | 'group_idx' | 'locality';

export interface VllmKvLayout {
  /** EventBatch carries data_parallel_rank. */
  batchRank: boolean;
  /** Events are tagged maps instead of tagged arrays. */
  eventsAsMaps: boolean;
  stored: readonly StoredField[];
  removed: readonly RemovedField[];
  /** Replay replies carry the topic frame (and an empty one before the end marker). */
  replayTopicFrame: boolean;
}

/** Fields declared with a default (None): left out of a map when they hold it. */
const DEFAULTED = new Set<string>(['extra_keys', 'group_idx', 'kv_cache_spec_kind', 'kv_cache_spec_sliding_window', 'locality']);

const STORED_0_19: readonly StoredField[] = ['block_hashes', 'parent_block_hash', 'token_ids', 'block_size', 'lora_id',
  'medium', 'lora_name', 'extra_keys', 'group_idx', 'kv_cache_spec_kind', 'kv_cache_spec_sliding_window'];

export const VLLM_KV_LAYOUTS: Record<string, VllmKvLayout> = {
  '0.28': {
    batchRank: true, eventsAsMaps: true, replayTopicFrame: true,
    stored: [...STORED_0_19, 'locality'],
    removed: ['block_hashes', 'medium', 'group_idx', 'locality'],
  },
  '0.19': { batchRank: true, eventsAsMaps: false, replayTopicFrame: false, stored: STORED_0_19, removed: ['block_hashes', 'medium', 'group_idx'] },
  '0.10': { batchRank: true, eventsAsMaps: false, replayTopicFrame: false, stored: STORED_0_19.slice(0, 6), removed: ['block_hashes', 'medium'] },
  '0.9.0': { batchRank: false, eventsAsMaps: false, replayTopicFrame: false, stored: STORED_0_19.slice(0, 5), removed: ['block_hashes'] },
};

export function vllmKvLayout(release: string): VllmKvLayout {
  const layout = VLLM_KV_LAYOUTS[release];
  if (!layout) throw new Error(`no vLLM KV-event layout "${release}" (have: ${Object.keys(VLLM_KV_LAYOUTS).join(', ')})`);
  return layout;
}

export interface VllmBatchInput {
  /** Seconds since the epoch (a Python float: always float64 on the wire). */
  ts: number;
  events: readonly KvEvent[];
  dpRank: number;
}

/** The payload frame vLLM would publish for this batch. */
export function encodeVllmBatch(layout: VllmKvLayout, batch: VllmBatchInput): Buffer {
  const events = batch.events.map((e) => encodeEvent(layout, e));
  const fields: Encodable[] = [new F64(batch.ts), events];
  if (layout.batchRank) fields.push(batch.dpRank);
  return encodeMsgspec(fields);
}

function encodeEvent(layout: VllmKvLayout, e: KvEvent): Encodable {
  if (e.type === 'cleared') return struct(layout, 'AllBlocksCleared', []);
  if (e.type === 'removed') {
    const values: Record<RemovedField, Encodable> = {
      block_hashes: e.hashes.map(hashValue),
      medium: e.medium ?? 'GPU',
      group_idx: e.group ?? 0,
      locality: null,
    };
    return struct(layout, 'BlockRemoved', layout.removed.map((f) => [f, values[f]] as const));
  }
  const values: Record<StoredField, Encodable> = {
    block_hashes: e.blocks.map((b) => hashValue(b.hash)),
    parent_block_hash: e.parentHash === null ? null : hashValue(e.parentHash),
    token_ids: e.blocks.flatMap((b) => b.tokens),
    block_size: e.blocks[0]?.tokens.length ?? 0,
    lora_id: typeof e.lora === 'number' ? e.lora : null,
    medium: e.medium ?? 'GPU',
    lora_name: typeof e.lora === 'string' ? e.lora : null,
    // The engine sends one entry per block, None for a block without extra keys (kthena#1535).
    extra_keys: (e.extraKeys as Encodable | undefined) ?? e.blocks.map(() => null),
    group_idx: e.group ?? 0,
    kv_cache_spec_kind: e.cacheSpec ?? 'full_attention',
    kv_cache_spec_sliding_window: null,
    locality: null,
  };
  return struct(layout, 'BlockStored', layout.stored.map((f) => [f, values[f]] as const));
}

/** A tagged msgspec struct: `[tag, …fields]`, or `{type: tag, …fields}` without None defaults. */
function struct(layout: VllmKvLayout, tag: string, fields: ReadonlyArray<readonly [string, Encodable]>): Encodable {
  if (!layout.eventsAsMaps) return [tag, ...fields.map(([, v]) => v)];
  const kept = fields.filter(([name, v]) => !(DEFAULTED.has(name) && v === null));
  return new OrderedMap([['type', tag], ...kept], fields.length + 1);
}

/** An int hash as msgpack int; a hex string as the bytes it spells. */
function hashValue(h: EngineHash): Encodable {
  return typeof h === 'bigint' ? h : Buffer.from(h, 'hex');
}
