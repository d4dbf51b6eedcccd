/**
 * Which prompt-prefix chunks each backend probably holds in its KV cache. Per backend, a bounded
 * LRU of chunk hashes (a Map in recency order). Fed by the gateway's own routing decisions (a
 * request sent there leaves its prefix cached), by other gateway replicas' observations (state
 * store), and — where an engine publishes KV events — by those events.
 *
 * A chain is touched tail-first so its head is the most recent: under pressure the LRU evicts
 * tails before heads, as engines do, and a match can scan from the start and stop at the first
 * miss.
 */
export class BackendPrefixIndex {
  private readonly entries = new Map<number, true>();

  constructor(public capacity: number) {}

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
    for (let i = hashes.length - 1; i >= 0; i--) {
      // Re-inserted at the end: the Map stays in recency order.
      this.entries.delete(hashes[i]);
      this.entries.set(hashes[i], true);
    }
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as number;
      this.entries.delete(oldest);
    }
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
    this.of(backendId).capacity = Math.max(16, Math.floor((tokens * bytesPerToken) / chunkBytes));
  }
}
