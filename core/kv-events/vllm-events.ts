/**
 * vLLM's KV-cache event payload (the third frame of each ZMQ message) → engine-neutral events.
 *
 * The payload is msgspec msgpack of `KVEventBatch` (vllm/distributed/kv_events.py). Its shape
 * moved over the releases, and all of these are read:
 * - the batch is an array `[ts, events, data_parallel_rank?]` (array_like; the rank arrived with
 *   #18925, v0.9.1), or a map `{ts, events, data_parallel_rank}` (a main-branch state in 2026,
 *   e.g. kv_events.py @ 0181ea31, before the outer array came back);
 * - each event is an array led by its class name (msgspec `tag=True, array_like=True`), or a
 *   map whose "type" key (msgspec's default tag_field) holds the class name, with the fields by
 *   name (#42892, mid-2026; v0.26.0 sends maps): fields may be added anywhere, and those holding
 *   their default (None) are left out;
 * - BlockStored's positional fields, in order: block_hashes, parent_block_hash, token_ids,
 *   block_size, lora_id (v0.9.0 stops here: kv_events.py @ b4e69e0a), medium, lora_name (#27577),
 *   extra_keys (#33304), group_idx (#37688), kv_cache_spec_kind, kv_cache_spec_sliding_window
 *   (#40984). msgspec writes every field of an array_like struct, defaults included
 *   (msgspec _core.c mpack_encode_struct_array ignores omit_defaults), so a release has one
 *   length; any length from 5 elements is accepted here, and later elements are ignored.
 *   BlockRemoved: block_hashes, medium, group_idx. AllBlocksCleared: nothing.
 * - hashes are `bytes | int` (kv_cache_utils.py ExternalBlockHash): an int is the low 64 bits of
 *   the digest (up to 2^64−1; negative in the releases that used Python's hash()) and becomes a
 *   bigint, exactly; bytes become lower-case hex.
 *
 * `token_ids` is one flat list for all the event's blocks, `block_size` tokens each. Offloading
 * connectors have sent stored events with no tokens (and block_size 0, #43468): then, or when
 * the counts do not add up, every block gets `tokens: []`, meaning "unknown", and a consumer
 * that links blocks by their tokens should skip the event.
 */
import { decodeMsgpack, MsgpackDecodeError, type MsgpackValue } from './msgpack-decode.js';

export type EngineHash = bigint | string;

export type KvEvent =
  | {
      type: 'stored';
      parentHash: EngineHash | null;
      blocks: { hash: EngineHash; tokens: number[] }[];
      /** lora_name when the engine sends one, else the deprecated lora_id. */
      lora?: string | number | null;
      extraKeys?: unknown;
      /** "GPU", "CPU", … (null or absent: the engine did not say; before 0.10 always the GPU). */
      medium?: string | null;
      /** KV-cache group (hybrid models store one block per group); absent before #37688. */
      group?: number | null;
      /** kv_cache_spec_kind, e.g. "full_attention" or "sliding_window". */
      cacheSpec?: string | null;
    }
  | { type: 'removed'; hashes: EngineHash[]; medium?: string | null; group?: number | null }
  | { type: 'cleared' };

export interface KvEventBatch {
  /** Engine wall-clock time of the batch, in seconds. */
  ts: number;
  dpRank: number | null;
  events: KvEvent[];
  /** Events of a type this decoder does not know (skipped). */
  unknownEvents: number;
}

export class VllmEventDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VllmEventDecodeError';
  }
}

export function decodeVllmEventBatch(payload: Uint8Array): KvEventBatch {
  let root: MsgpackValue;
  try {
    root = decodeMsgpack(payload);
  } catch (err) {
    if (err instanceof MsgpackDecodeError) throw new VllmEventDecodeError(`payload is not msgpack: ${err.message}`);
    throw err;
  }
  const f = fields(root, ['ts', 'events', 'data_parallel_rank'], 'batch');
  const ts = num(f[0], 'batch.ts');
  const rawEvents = f[1];
  if (!Array.isArray(rawEvents)) throw new VllmEventDecodeError('batch.events is not an array');
  const rank = f[2] === undefined || f[2] === null ? null : int(f[2], 'batch.data_parallel_rank');
  const events: KvEvent[] = [];
  let unknownEvents = 0;
  rawEvents.forEach((raw, i) => {
    const event = decodeEvent(raw, `events[${i}]`);
    if (event) events.push(event);
    else unknownEvents++;
  });
  return { ts, dpRank: rank, events, unknownEvents };
}

const STORED = ['block_hashes', 'parent_block_hash', 'token_ids', 'block_size', 'lora_id', 'medium', 'lora_name',
  'extra_keys', 'group_idx', 'kv_cache_spec_kind', 'kv_cache_spec_sliding_window'] as const;
const REMOVED = ['block_hashes', 'medium', 'group_idx'] as const;

function decodeEvent(raw: MsgpackValue, path: string): KvEvent | null {
  let tag: MsgpackValue;
  let body: MsgpackValue;
  if (Array.isArray(raw)) {
    tag = raw[0];
    body = raw.slice(1);
  } else if (raw instanceof Map) {
    tag = raw.get('type') ?? null;
    body = raw;
  } else {
    throw new VllmEventDecodeError(`${path} is neither an array nor a map`);
  }
  if (typeof tag !== 'string') throw new VllmEventDecodeError(`${path} has no class-name tag`);
  if (tag === 'AllBlocksCleared') return { type: 'cleared' };
  if (tag === 'BlockRemoved') {
    const f = fields(body, REMOVED, path);
    const event: KvEvent = { type: 'removed', hashes: hashList(f[0], `${path}.block_hashes`) };
    if (f[1] !== undefined) event.medium = optStr(f[1], `${path}.medium`);
    if (f[2] !== undefined) event.group = optInt(f[2], `${path}.group_idx`);
    return event;
  }
  if (tag === 'BlockStored') return decodeStored(fields(body, STORED, path), path);
  return null;
}

function decodeStored(f: Array<MsgpackValue | undefined>, path: string): KvEvent {
  if (f[3] === undefined) throw new VllmEventDecodeError(`${path} (BlockStored) has fewer than 4 fields`);
  const hashes = hashList(f[0], `${path}.block_hashes`);
  const parentHash = f[1] === undefined || f[1] === null ? null : hash(f[1], `${path}.parent_block_hash`);
  const tokens = f[2];
  if (!Array.isArray(tokens)) throw new VllmEventDecodeError(`${path}.token_ids is not an array`);
  const blockSize = int(f[3], `${path}.block_size`);
  const aligned = blockSize > 0 && tokens.length === hashes.length * blockSize;
  const blocks = hashes.map((h, i) => ({
    hash: h,
    tokens: aligned ? tokens.slice(i * blockSize, (i + 1) * blockSize).map((t, j) => int(t, `${path}.token_ids[${i * blockSize + j}]`)) : [],
  }));
  const event: KvEvent = { type: 'stored', parentHash, blocks };
  const loraName = f[6] === undefined ? null : optStr(f[6], `${path}.lora_name`);
  const loraId = f[4] === undefined ? null : optInt(f[4], `${path}.lora_id`);
  if (f[4] !== undefined || f[6] !== undefined) event.lora = loraName ?? loraId;
  if (f[5] !== undefined) event.medium = optStr(f[5], `${path}.medium`);
  if (f[7] !== undefined && f[7] !== null) event.extraKeys = f[7];
  if (f[8] !== undefined) event.group = optInt(f[8], `${path}.group_idx`);
  if (f[9] !== undefined) event.cacheSpec = optStr(f[9], `${path}.kv_cache_spec_kind`);
  return event;
}

/** A struct's fields in declaration order, from an array (positional) or a map (by name). */
function fields(v: MsgpackValue, names: readonly string[], path: string): Array<MsgpackValue | undefined> {
  if (Array.isArray(v)) return names.map((_, i) => v[i]);
  if (v instanceof Map) return names.map((n) => v.get(n));
  throw new VllmEventDecodeError(`${path} is neither an array nor a map`);
}

function hashList(v: MsgpackValue | undefined, path: string): EngineHash[] {
  if (!Array.isArray(v)) throw new VllmEventDecodeError(`${path} is not an array`);
  return v.map((h, i) => hash(h, `${path}[${i}]`));
}

function hash(v: MsgpackValue, path: string): EngineHash {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  throw new VllmEventDecodeError(`${path} is not an int or bytes hash`);
}

function num(v: MsgpackValue | undefined, path: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new VllmEventDecodeError(`${path} is not a number`);
}

function int(v: MsgpackValue | undefined, path: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new VllmEventDecodeError(`${path} is not a (53-bit) integer`);
}

function optInt(v: MsgpackValue, path: string): number | null {
  return v === null ? null : int(v, path);
}

function optStr(v: MsgpackValue, path: string): string | null {
  if (v === null || typeof v === 'string') return v;
  throw new VllmEventDecodeError(`${path} is not a string`);
}
