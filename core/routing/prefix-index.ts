/**
 * Which prompt-prefix chunks each backend probably holds in its KV cache. Per backend, a bounded
 * LRU of chunk hashes (a RecencyList). Fed by the gateway's own routing decisions (a
 * request sent there leaves its prefix cached), by other gateway replicas' observations (state
 * store), and — where an engine publishes KV events — by those events.
 *
 * A chain is touched tail-first so its head is the most recent: under pressure the LRU evicts
 * tails before heads, as engines do, and a match can scan from the start and stop at the first
 * miss.
 */
import { RecencyList } from './recency-list.js';

export class BackendPrefixIndex {
  private readonly entries: RecencyList;
  /** What it was last sized from (setCapacityTokens): the engine's KV tokens, at this many bytes a token. */
  sizedFrom?: { kvTokens: number; bytesPerToken: number };

  constructor(capacity: number) {
    this.entries = new RecencyList(capacity);
  }

  get capacity(): number {
    return this.entries.capacity;
  }

  /** A smaller capacity forgets the least recent chunks at once. */
  set capacity(n: number) {
    this.entries.capacity = n;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Leading chunks of `hashes` this backend holds. */
  match(hashes: readonly number[]): number {
    let n = 0;
    while (n < hashes.length && this.entries.has(hashes[n])) n++;
    return n;
  }

  insert(hashes: readonly number[]): void {
    // Tail first: the head ends the most recent. A full index forgets its least recent chunk.
    for (let i = hashes.length - 1; i >= 0; i--) this.entries.touch(hashes[i]);
  }

  remove(hashes: readonly number[]): void {
    for (const h of hashes) this.entries.delete(h);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** The indexes of every backend, shared by all routes (a backend's cache serves all its models). */
export class PrefixIndexes {
  private readonly byBackend = new Map<string, BackendPrefixIndex>();

  constructor(private readonly defaultCapacity = 65_536) {}

  of(backendId: string): BackendPrefixIndex {
    let index = this.byBackend.get(backendId);
    if (!index) {
      index = new BackendPrefixIndex(this.defaultCapacity);
      this.byBackend.set(backendId, index);
    }
    return index;
  }

  /** Drops a backend's index (the backend left the gateway). */
  forget(backendId: string): void {
    this.byBackend.delete(backendId);
  }

  /** Size a backend's index from its KV capacity in tokens (engine-reported or configured). */
  setCapacityTokens(backendId: string, tokens: number, chunkBytes: number, bytesPerToken = 4): void {
    const index = this.of(backendId);
    index.capacity = Math.max(16, Math.floor((tokens * bytesPerToken) / chunkBytes));
    index.sizedFrom = { kvTokens: tokens, bytesPerToken };
  }
}
