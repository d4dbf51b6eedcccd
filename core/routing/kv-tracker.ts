/**
 * One backend's KV cache, followed through its engine's KV-cache events, without knowing how the
 * engine names its blocks.
 *
 * Every engine names a cached block by its own chained hash (TensorRT-LLM's BlockKeyHasher,
 * vLLM's hash_block_tokens, the engine model's block_hash.cc), which can change with the release,
 * the LoRA id, a per-process salt (vLLM's PYTHONHASHSEED) or the block size. Re-implementing them
 * breaks silently. So the tracker never computes an engine hash: a `stored` event carries the
 * engine's hashes *and* each block's token ids, and the tracker links each engine hash to
 * Switchyard's own key of those tokens. A `removed` event (engine hashes only) then retracts
 * exactly the right keys, `cleared` drops them all, and a request is matched by keying its own
 * token ids the same way at the engine's block size.
 *
 * Switchyard's block key: key(b) = a 52-bit hash of b's token ids seeded with key(parent), with
 * key(parent of the first block) = 0: two independent 32-bit multiply–rotate lanes (MurmurHash3's
 * mixing constants and finaliser) over the ids, joined into 52 bits. Chained like the engines'
 * hashes, so equal keys at block i mean equal tokens up to the end of block i. 52 bits keep keys
 * plain JS numbers (Map keys without BigInt); collision odds ~2^-52 per pair, as for
 * prefix-key.ts. Plain integer arithmetic: a 32k-token prompt is keyed in ~0.1 ms (a wasm xxh64
 * per block, with BigInt seeds, cost ten times that on the request path).
 *
 * Event ids: engines number their events, and drop the oldest ones when their buffer is full
 * (TensorRT-LLM's event_buffer_max_size, the engine model's kvEventBufferSize). An id that does
 * not follow the previous one means events were lost: the tracker can no longer vouch for its
 * picture, so it clears (listeners hear `gap`) and relearns from the events that follow.
 *
 * Memory: at most `maxBlocks` engine blocks (default 1,048,576, far more than one GPU's cache:
 * 80 GB of KV at 32 tokens a block is some 40k blocks for a 7B model); past the cap the oldest
 * stored blocks are forgotten as if evicted (listeners hear them removed), so the picture errs
 * toward "not cached". Both tables are recency lists in typed arrays (recency-list.ts), off the
 * JS heap: 80 bytes per slot, the slots doubling to fit, so 80–160 bytes per block held — 84 MB
 * for a full million-block cap (measured: 90 bytes a block at 1M blocks, 140 at 600k) — and
 * nothing per block for the collector to trace or promote — as Maps, each
 * block was a boxed key, a BigInt and two entries that survived into the old generation, and a
 * Map past a power of two rebuilt its whole table on the event loop.
 *
 * Engine hashes are held as a 52-bit digest (engineDigest), not as the engine's BigInt or
 * string: two different hashes that share a digest would be taken for one block (odds ~n²/2^53
 * among n blocks held: 1 in 5.6 million for 40k blocks, 1 in 8,600 at the million-block cap), which
 * costs at worst one block's key stored or retracted wrongly until the next eviction or clear.
 */
import type { WireKvEvent } from '../state/types.js';
import { RecencyList } from './recency-list.js';

/** An engine's name for a block: a 64-bit integer, or bytes as a string (hex, base64…). */
export type EngineBlockHash = bigint | string;

/** One block of a `stored` event. */
export interface StoredBlock {
  hash: EngineBlockHash;
  tokens: ArrayLike<number>;
  /**
   * What else the engine keyed this block by, when anything (vLLM's per-block extra_keys: the
   * LoRA adapter, a cache_salt on the first block, multimodal hashes), in a canonical text form
   * (extraKeyText): folded into the chain at this block, so a prompt of the same tokens matches
   * it only when keyed by the same extras (a request's cache_salt, see RequestTokens).
   */
  extra?: string;
}

/** A KV-cache event in engine-neutral form (each engine's plugin converts its own to this). */
export type KvEvent = { eventId?: number } & (
  | { type: 'created'; numBlocks: number; blockSize?: number }
  | {
      type: 'stored'; parentHash: EngineBlockHash | null; blocks: ReadonlyArray<StoredBlock>;
    }
  | { type: 'removed'; hashes: readonly EngineBlockHash[] }
  | { type: 'cleared' }
  /** A held block changed cache level or priority: nothing to learn but its event id. */
  | { type: 'updated' }
);

export interface KvTrackerListener {
  /** These block keys are no longer held anywhere in the engine. */
  onRemoved?(keys: readonly number[]): void;
  /** Every key is gone: the engine cleared its cache, or events were lost (`gap`). */
  onCleared?(reason: 'cleared' | 'gap'): void;
}

export interface KvTrackerOptions {
  /** Tokens per block when known up front; else learned from `created` or the first `stored` block. */
  blockSize?: number;
  maxBlocks?: number;
}

const TWO_32 = 2 ** 32;

/** MurmurHash3's 32-bit finaliser. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** One token into lane a (the low half of a block key). */
function mixA(a: number, t: number): number {
  let k = Math.imul(t, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  a ^= Math.imul(k, 0x1b873593);
  a = (a << 13) | (a >>> 19);
  return (Math.imul(a, 5) + 0xe6546b64) | 0;
}

/** One token into lane b (the high half). */
function mixB(b: number, t: number): number {
  let m = Math.imul(t ^ 0x5bd1e995, 0x27d4eb2d);
  m = (m << 11) | (m >>> 21);
  b ^= Math.imul(m, 0x165667b1);
  b = (b << 17) | (b >>> 15);
  return (Math.imul(b, 9) + 0x7feb352d) | 0;
}

/** A 52-bit key from the two lanes after `n` tokens. */
function finish(a: number, b: number, n: number): number {
  const hi = fmix((b ^ n) >>> 0) & 0xfffff; // 20 bits
  const lo = fmix((a ^ n ^ hi) >>> 0); // 32 bits
  return hi * TWO_32 + lo;
}

/** Switchyard's key of one block of token ids, chained from its parent's key (0 for the first). */
export function blockKey(parentKey: number, tokens: ArrayLike<number>, from = 0, to = tokens.length): number {
  // Two lanes seeded from the parent's high and low bits, mixing every id with different constants.
  let a = (parentKey % TWO_32) >>> 0;
  let b = Math.floor(parentKey / TWO_32) ^ 0x9e3779b9;
  for (let i = from; i < to; i++) {
    const t = tokens[i] | 0;
    a = mixA(a, t);
    b = mixB(b, t);
  }
  return finish(a, b, to - from);
}

/**
 * The parent key a block keyed by extras chains from: the real parent's key mixed with the
 * extras' text behind a marker, so the block's key differs from a plain block of the same tokens.
 */
export function extraSeed(parentKey: number, extra: string): number {
  const codes = Array.from(extra, (c) => c.codePointAt(0)!);
  codes.push(0x5a17, codes.length);
  return blockKey(parentKey, codes);
}

/** The canonical text of one block's extra keys (a JSON array; 64-bit integers as decimal strings). */
export function extraKeyText(keys: readonly unknown[]): string {
  return JSON.stringify(keys, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

const MASK_32 = 0xffffffffn;
/** Mixed in after an engine hash's own words or code units. */
const DIGEST_MARK = 0x3e9d;
const digestWords: number[] = [0, 0, DIGEST_MARK, 0];

/**
 * A 52-bit digest of an engine's block hash, to index it without keeping the BigInt or string:
 * a 64-bit integer (signed or not: Python's hash() is signed) by its two 32-bit words, a string
 * by its UTF-16 code units, each through blockKey's two lanes.
 */
export function engineDigest(hash: EngineBlockHash): number {
  if (typeof hash === 'bigint') {
    const u = BigInt.asUintN(64, hash);
    digestWords[0] = Number(u & MASK_32);
    digestWords[1] = Number(u >> 32n);
    digestWords[3] = 1;
    return blockKey(0, digestWords);
  }
  let a = 0x2545f491;
  let b = 0x9e3779b9 ^ hash.length;
  for (let i = 0; i < hash.length; i++) {
    const c = hash.charCodeAt(i);
    a = mixA(a, c);
    b = mixB(b, c);
  }
  a = mixA(a, DIGEST_MARK);
  b = mixB(b, DIGEST_MARK);
  return finish(a, b, hash.length + 2);
}

/** Keys of every full block of `tokens` at `blockSize` (a partial tail has none: it is never reused). */
export function blockKeys(tokens: ArrayLike<number>, blockSize: number, limit = Infinity): number[] {
  return blockKeysOfParts([tokens], blockSize, limit);
}

/** blockKeys of a prompt whose first block the engine keys by extras too (vLLM: a cache_salt). */
export function blockKeysWithFirstExtra(parts: ReadonlyArray<ArrayLike<number>>, blockSize: number, firstExtra: string): number[] {
  // The first block chains from extraSeed(0, …) instead of 0; the rest as usual.
  return blockKeysOfParts(parts, blockSize, Infinity, extraSeed(0, firstExtra));
}

/**
 * blockKeys of the concatenation of `parts`, without concatenating them (a long prompt's ids
 * arrive as the tokenizer's cached segments; copying 32k ids costs more than keying them).
 */
export function blockKeysOfParts(parts: ReadonlyArray<ArrayLike<number>>, blockSize: number, limit = Infinity, firstParent = 0): number[] {
  const keys: number[] = [];
  let total = 0;
  for (const p of parts) total += p.length;
  const full = Math.min(Math.floor(total / blockSize), limit);
  if (full <= 0) return keys;
  // The lanes of the first block's parent, as blockKey seeds them.
  let a = (firstParent % TWO_32) >>> 0;
  let b = Math.floor(firstParent / TWO_32) ^ 0x9e3779b9;
  let n = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      const t = p[i] | 0;
      a = mixA(a, t);
      b = mixB(b, t);
      if (++n < blockSize) continue;
      const key = finish(a, b, n);
      keys.push(key);
      if (keys.length === full) return keys;
      a = (key % TWO_32) >>> 0;
      b = Math.floor(key / TWO_32) ^ 0x9e3779b9;
      n = 0;
    }
  }
  return keys;
}

export class KvTracker {
  /** engineDigest(engine hash) → Switchyard key, oldest stored first (the order the cap forgets in). */
  private readonly byEngine: RecencyList;
  /** Switchyard key → how many engine blocks hold it (one, unless the engine salts by LoRA etc.); never fuller than byEngine. */
  private readonly held: RecencyList;
  private readonly listeners: KvTrackerListener[] = [];
  private readonly maxBlocks: number;
  private lastEventId?: number;
  private size?: number;
  private capacity?: number;
  /** Counters for tests, /metrics and /admin. */
  readonly stats = { events: 0, stored: 0, removed: 0, cleared: 0, gaps: 0, orphans: 0, unknownRemovals: 0, forgotten: 0, duplicates: 0 };

  constructor(opts: KvTrackerOptions = {}) {
    this.size = opts.blockSize;
    this.maxBlocks = opts.maxBlocks ?? 1 << 20;
    this.byEngine = new RecencyList(this.maxBlocks);
    this.held = new RecencyList(this.maxBlocks);
  }

  /** Tokens per block, once known. */
  get blockSize(): number | undefined {
    return this.size;
  }

  /** The engine's KV capacity in blocks, once a `created` event said it. */
  get numBlocks(): number | undefined {
    return this.capacity;
  }

  /** Engine blocks currently held. */
  get blocks(): number {
    return this.byEngine.size;
  }

  /** The engine's block size, learned from elsewhere (iteration stats); the first value sticks. */
  learnBlockSize(blockSize: number): void {
    if (this.size === undefined && Number.isInteger(blockSize) && blockSize > 0) this.size = blockSize;
  }

  listen(listener: KvTrackerListener): void {
    this.listeners.push(listener);
  }

  apply(events: Iterable<KvEvent>): void {
    for (const e of events) {
      this.stats.events++;
      if (e.eventId !== undefined) {
        // At-least-once relays (the state store) may repeat events: an id already applied is
        // skipped. An engine that restarted starts again from 0 or with `created`: that is a gap.
        if (this.lastEventId !== undefined && e.eventId <= this.lastEventId && e.eventId !== 0 && e.type !== 'created') {
          this.stats.duplicates++;
          continue;
        }
        if (this.lastEventId !== undefined && e.eventId !== this.lastEventId + 1) {
          this.stats.gaps++;
          this.clear('gap');
        }
        this.lastEventId = e.eventId;
      }
      switch (e.type) {
        case 'created':
          this.capacity = e.numBlocks;
          if (e.blockSize) this.learnBlockSize(e.blockSize);
          break;
        case 'stored':
          this.store(e.parentHash, e.blocks);
          break;
        case 'removed':
          this.remove(e.hashes);
          break;
        case 'cleared':
          this.stats.cleared++;
          this.clear('cleared');
          break;
        case 'updated':
          break;
      }
    }
  }

  /** Switchyard keys of `tokens`' full blocks at the engine's block size; [] until it is known. */
  keysOf(tokens: ArrayLike<number>): number[] {
    return this.size === undefined ? [] : blockKeys(tokens, this.size);
  }

  /** How many leading tokens of `tokens` the engine holds (whole blocks, in a row from the start). */
  match(tokens: ArrayLike<number>): number {
    if (this.size === undefined) return 0;
    const full = Math.floor(tokens.length / this.size);
    let parent = 0;
    let b = 0;
    for (; b < full; b++) {
      parent = blockKey(parent, tokens, b * this.size, (b + 1) * this.size);
      if (!this.held.has(parent)) break;
    }
    return b * this.size;
  }

  /** Whether some engine block holds this key. */
  holds(key: number): boolean {
    return this.held.has(key);
  }

  private store(parentHash: EngineBlockHash | null, blocks: ReadonlyArray<StoredBlock>): void {
    let parent = 0;
    if (parentHash !== null) {
      const known = this.byEngine.get(engineDigest(parentHash));
      if (known === undefined) {
        // Its parent was stored before we listened, or lost in a gap: its tokens' prefix is
        // unknown, so no key can be given to these blocks.
        this.stats.orphans += blocks.length;
        return;
      }
      parent = known;
    }
    const removed: number[] = [];
    for (const block of blocks) {
      if (this.size === undefined && block.tokens.length > 0) this.size = block.tokens.length;
      const key = blockKey(block.extra === undefined ? parent : extraSeed(parent, block.extra), block.tokens);
      const digest = engineDigest(block.hash);
      const old = this.byEngine.get(digest);
      if (old === undefined && this.byEngine.size >= this.maxBlocks) {
        // Full: the oldest stored block is forgotten first, as if the engine had evicted it.
        this.release(this.byEngine.oldestValue()!, removed);
        this.byEngine.delete(this.byEngine.oldestKey()!);
        this.stats.forgotten++;
      }
      // Stored again: it becomes the newest for the cap, under a new key or not.
      if (old !== undefined && old !== key) this.release(old, removed);
      this.byEngine.touch(digest, key);
      if (old !== key) this.held.touch(key, (this.held.get(key) ?? 0) + 1);
      this.stats.stored++;
      parent = key;
    }
    this.emitRemoved(removed);
  }

  private remove(hashes: readonly EngineBlockHash[]): void {
    const removed: number[] = [];
    for (const hash of hashes) {
      const digest = engineDigest(hash);
      const key = this.byEngine.get(digest);
      if (key === undefined) {
        this.stats.unknownRemovals++;
        continue;
      }
      this.byEngine.delete(digest);
      this.release(key, removed);
      this.stats.removed++;
    }
    this.emitRemoved(removed);
  }

  private release(key: number, removed: number[]): void {
    const n = (this.held.get(key) ?? 1) - 1;
    if (n > 0) {
      this.held.touch(key, n);
    } else {
      this.held.delete(key);
      removed.push(key);
    }
  }

  private emitRemoved(released: number[]): void {
    // A key released and stored again in the same event is still held.
    const keys = released.filter((k) => !this.held.has(k));
    if (keys.length === 0) return;
    for (const l of this.listeners) l.onRemoved?.(keys);
  }

  private clear(reason: 'cleared' | 'gap'): void {
    this.byEngine.clear();
    this.held.clear();
    for (const l of this.listeners) l.onCleared?.(reason);
  }
}

/** Events with their hashes as strings, for a relay that carries JSON (the state store). */
export function toWire(events: readonly KvEvent[]): WireKvEvent[] {
  const h = (x: EngineBlockHash): string => (typeof x === 'bigint' ? x.toString() : x);
  return events.map((e): WireKvEvent => {
    switch (e.type) {
      case 'stored':
        return { ...(e.eventId !== undefined ? { eventId: e.eventId } : {}), type: 'stored', parentHash: e.parentHash === null ? null : h(e.parentHash),
          blocks: e.blocks.map((b) => ({ hash: h(b.hash), tokens: Array.from(b.tokens), ...(b.extra !== undefined ? { extra: b.extra } : {}) })) };
      case 'removed':
        return { ...(e.eventId !== undefined ? { eventId: e.eventId } : {}), type: 'removed', hashes: e.hashes.map(h) };
      default:
        return e;
    }
  });
}
