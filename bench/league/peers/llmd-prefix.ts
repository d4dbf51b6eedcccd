/**
 * llm-d's prefix scorers (REFERENCE.md §2.2, `llm-d/llm-d-router: pkg/epp/...`).
 *
 * Approximate (the Gateway API Inference Extension's `prefix-cache-scorer`): the router's own
 * index of what it sent where.
 * - Input: the JSON of the chat messages (`json.Marshal(messages)` there, `JSON.stringify` here;
 *   the escaping differs by a character here and there, which moves no block boundary that two
 *   requests share), or the completion's prompt. No template, no tokenizer.
 * - Blocks of 64 bytes (16 tokens · 4 characters), at most 256 of them; a trailing partial block
 *   is not hashed.
 * - Chained hashes h0 = hash(model ‖ cache_salt), hᵢ = hash(blockᵢ ‖ hᵢ₋₁). Here the chain is
 *   Switchyard's xxh64 chain over the blocks (core/routing/prefix-key.ts), each link then keyed by
 *   the model's h0: the same "equal hash at i ⇔ equal model, salt and text up to block i"; the hash
 *   function does not change a routing decision.
 * - Per pod, an LRU of 31,250 block hashes, written after the pick with the request's blocks.
 * - Score: the leading blocks the pod holds ÷ the request's blocks (0 for a prompt under one block).
 *
 * Precise (`llm-d/llm-d-kv-cache-manager`): the same ratio over the engine's KV-cache events —
 * the pipeline's exact features (`f.exact`: matched engine blocks ÷ the prompt's blocks), with
 * Switchyard's 2 s speculative entries for its own unconfirmed placements (exact-prefix.ts, the
 * very TTL llm-d uses). A candidate without live events scores 0, as a pod missing from llm-d's
 * index does.
 */
import { hashString, prefixKeyOfText } from '../../../core/routing/prefix-key.js';
import type { RoutingRequest } from '../../../core/routing/policy.js';
import type { Features } from '../../../core/routing/features.js';
import type { Selection } from '../../../core/routing/pipeline.js';
import type { Scorer } from './scoring.js';

/** The text llm-d's approximate scorer cuts into blocks. */
export function llmdPromptText(body: Readonly<Record<string, unknown>>): string {
  if (typeof body.prompt === 'string') return body.prompt;
  if (body.prompt !== undefined) return JSON.stringify(body.prompt);
  return JSON.stringify(body.messages ?? []);
}

const HALF = 2 ** 26;

/** Keys a 52-bit chain hash by the model's h0: xor of the 26-bit halves (keeps 32-bit xor exact). */
function keyed(h: number, h0: number): number {
  const hi = Math.floor(h / HALF) ^ Math.floor(h0 / HALF);
  const lo = (h % HALF) ^ (h0 % HALF);
  return hi * HALF + lo;
}

/** The request's block hashes, at most `maxBlocks` of `blockBytes` bytes. */
export function llmdBlockHashes(request: RoutingRequest, blockBytes: number, maxBlocks: number): number[] {
  const salt = typeof request.body.cache_salt === 'string' ? request.body.cache_salt : '';
  const h0 = hashString(`${request.model}\u0000${salt}`);
  // A character is at least one byte: this many characters hold every block the cap allows.
  const text = llmdPromptText(request.body).slice(0, blockBytes * maxBlocks);
  const chain = prefixKeyOfText(text, blockBytes).hashes;
  const n = Math.min(chain.length, maxBlocks);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = keyed(chain[i], h0);
  return out;
}

/** One LRU of block hashes per pod (a Map in recency order), the size llm-d gives each server. */
export class PodBlockIndex {
  private readonly pods = new Map<string, Map<number, true>>();

  constructor(readonly capacityPerPod: number) {}

  /** Leading blocks of `hashes` the pod holds (a lookup, not a touch, as llm-d's indexer reads). */
  match(pod: string, hashes: readonly number[]): number {
    const lru = this.pods.get(pod);
    if (!lru) return 0;
    let n = 0;
    while (n < hashes.length && lru.has(hashes[n])) n++;
    return n;
  }

  add(pod: string, hashes: readonly number[]): void {
    let lru = this.pods.get(pod);
    if (!lru) {
      lru = new Map();
      this.pods.set(pod, lru);
    }
    for (const h of hashes) {
      lru.delete(h);
      lru.set(h, true);
    }
    while (lru.size > this.capacityPerPod) lru.delete(lru.keys().next().value as number);
  }

  size(pod: string): number {
    return this.pods.get(pod)?.size ?? 0;
  }
}

/** The approximate prefix scorer over the router's own PodBlockIndex; `record` writes a pick. */
export class ApproximatePrefixScorer implements Scorer {
  readonly name = 'prefix';
  readonly prefix = true;
  private readonly hashes = new WeakMap<Selection, number[]>();

  constructor(readonly index: PodBlockIndex, private readonly blockBytes: number, private readonly maxBlocks: number) {}

  score(set: readonly Features[], sel: Selection): number[] {
    const hashes = this.hashesOf(sel);
    if (hashes.length === 0) return set.map(() => 0);
    return set.map((f) => this.index.match(f.c.backend.id, hashes) / hashes.length);
  }

  /** After the pick: the request's blocks are now the chosen pod's. */
  record(f: Features, sel: Selection): void {
    const hashes = this.hashesOf(sel);
    if (hashes.length > 0) this.index.add(f.c.backend.id, hashes);
  }

  private hashesOf(sel: Selection): number[] {
    let h = this.hashes.get(sel);
    if (!h) {
      h = llmdBlockHashes(sel.request, this.blockBytes, this.maxBlocks);
      this.hashes.set(sel, h);
    }
    return h;
  }
}

/** The precise prefix scorer: engine blocks held (KV events) ÷ the prompt's blocks; 0 when not exact. */
export const precisePrefixScorer: Scorer = {
  name: 'precise-prefix',
  prefix: true,
  score: (set) => set.map((f) => (f.exact && f.units > 0 ? f.match / f.units : 0)),
};
