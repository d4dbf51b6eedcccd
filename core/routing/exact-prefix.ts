/**
 * Exact prefix matching: how many leading tokens of a request each backend holds, from the
 * engine's KV-cache events (the backend's KvCacheView) plus the gateway's own placements that the
 * events have not confirmed yet.
 *
 * A placement is recorded at dispatch, because an engine publishes `stored` only after it has
 * prefilled the blocks: without it, the next request of a group that arrives meanwhile would see
 * no holder. A speculative entry lapses after `ttlMs` (2 s, llm-d's precise prefix scorer's
 * default) unless an event has made it real; an event that removes the block wins at once.
 *
 * Keys are Switchyard's block keys of token ids at the engine's block size (kv-tracker.ts), one
 * chain per block size, computed once per request.
 */
import { RecencyList } from './recency-list.js';
import type { KvCacheView } from '../plugin/types.js';
import { blockKeysOfParts, blockKeysWithFirstExtra, extraKeyText } from './kv-tracker.js';
import { PerBackend } from './per-backend.js';
import { concat } from '../tokenizer/segment-cache.js';

export const SPECULATION_TTL_MS = 2000;

/** A request's token ids and their block keys per block size (computed on first use). */
export class RequestTokens {
  private readonly keysBySize = new Map<number, number[]>();
  private whole: Int32Array | undefined;
  private readonly parts: readonly Int32Array[];
  /** How many tokens. */
  readonly length: number;

  /**
   * `ids`: the prompt's ids whole, or in parts (the tokenizer's cached segments, never copied into
   * one unless asked). `cacheSalt`: the request's cache_salt, which engines that honour it key
   * the first block by (vLLM: among that block's extra keys).
   */
  constructor(ids: Int32Array | readonly Int32Array[], readonly cacheSalt?: string) {
    this.parts = ids instanceof Int32Array ? [ids] : ids;
    if (ids instanceof Int32Array) this.whole = ids;
    let n = 0;
    for (const p of this.parts) n += p.length;
    this.length = n;
  }

  /** Every id in one array (a copy, made once, when the parts are many). */
  get ids(): Int32Array {
    this.whole ??= this.parts.length === 1 ? this.parts[0] : concat(this.parts);
    return this.whole;
  }

  keys(blockSize: number): number[] {
    let keys = this.keysBySize.get(blockSize);
    if (!keys) {
      keys = this.cacheSalt === undefined ? blockKeysOfParts(this.parts, blockSize) : blockKeysWithFirstExtra(this.parts, blockSize, extraKeyText([this.cacheSalt]));
      this.keysBySize.set(blockSize, keys);
    }
    return keys;
  }
}

/** One backend's unconfirmed placements: block key → when the speculation lapses (in recency order, which is expiry order). */
export class Speculation {
  private readonly until: RecencyList;

  constructor(private readonly ttlMs = SPECULATION_TTL_MS, maxKeys = 200_000, private readonly now: () => number = Date.now) {
    this.until = new RecencyList(maxKeys);
  }

  record(keys: readonly number[]): void {
    const expires = this.now() + this.ttlMs;
    // Every key gets the same lapse time, so the list's recency order stays its expiry order.
    for (const k of keys) this.until.touch(k, expires);
    this.prune();
  }

  /**
   * Extends the keys still speculated here; a key the engine's events removed meanwhile (or one
   * lapsed) is not brought back: the request that placed it has been prefilled, and what the
   * engine stored of it, its events say.
   */
  renew(keys: readonly number[]): void {
    const expires = this.now() + this.ttlMs;
    for (const k of keys) if (this.until.get(k) !== undefined) this.until.touch(k, expires);
    this.prune();
  }

  /** The engine's events say these blocks are gone: a placement they once confirmed is no longer vouched for. */
  drop(keys: readonly number[]): void {
    if (this.until.size === 0) return;
    for (const k of keys) this.until.delete(k);
  }

  /** Whether `key` is placed here and not lapsed (`now`: one clock read for a whole walk). */
  holds(key: number, now = this.now()): boolean {
    const t = this.until.get(key);
    return t !== undefined && t > now;
  }

  /** The clock the entries lapse by. */
  time(): number {
    return this.now();
  }

  get size(): number {
    return this.until.size;
  }

  private prune(): void {
    const now = this.now();
    for (let t = this.until.oldestValue(); t !== undefined && t <= now; t = this.until.oldestValue()) this.until.delete(this.until.oldestKey()!);
  }
}

export interface ExactMatch {
  /** Leading tokens held (whole blocks). */
  tokens: number;
  /** Of those, blocks only the gateway's own unconfirmed placements vouch for. */
  speculativeBlocks: number;
  /** Leading blocks the engine's events vouch for, before the first speculative one: no need to speculate on them again. */
  confirmedBlocks: number;
  blocks: number;
  totalBlocks: number;
}

/** Leading blocks of `tokens` the engine holds or the gateway just placed there; undefined when not exact. */
export function exactMatch(view: KvCacheView | undefined, speculation: Speculation, tokens: RequestTokens | undefined): ExactMatch | undefined {
  if (!view || !tokens || !view.live()) return undefined;
  // A salted request's keys mean nothing to an engine whose events do not show salts.
  if (tokens.cacheSalt !== undefined && !view.keysCacheSalt) return undefined;
  const size = view.blockSize;
  if (size === undefined) return undefined;
  // An engine always computes a prompt's last token (it needs its logits), so a fully cached
  // prompt still prefills its last block: vLLM caps the hit at prompt length − 1, and so on.
  const keys = tokens.keys(size);
  const usable = Math.min(keys.length, Math.floor((tokens.length - 1) / size));
  let b = 0;
  for (; b < usable && view.holds(keys[b]); b++);
  const confirmed = b;
  let speculative = 0;
  if (b < usable && speculation.size > 0) {
    const now = speculation.time();
    for (; b < usable; b++) {
      if (view.holds(keys[b])) continue;
      if (!speculation.holds(keys[b], now)) break;
      speculative++;
    }
  }
  return { tokens: b * size, speculativeBlocks: speculative, confirmedBlocks: confirmed, blocks: b, totalBlocks: keys.length };
}

/** Every backend's speculation. */
export class Speculations extends PerBackend<Speculation> {
  constructor() {
    super(() => new Speculation());
  }
}
