/**
 * The capacity-aware bound on a workload's prefix-cache hit rate: what an omniscient placement
 * could reach with the fleet's total KV capacity. Every replica's cache is pooled into one, and
 * the requests' blocks are replayed in the order the requests arrive; a block counts as a hit when
 * it is present. Eviction is Belady's MIN (the block whose next use is farthest goes; a block never
 * used again, or used later than everything held, is not kept), which maximises hits for a given
 * capacity. A pooled LRU is computed beside it as a reference: what recency alone achieves.
 *
 * The bound is generous on purpose — it ignores that running requests pin their blocks, that an
 * engine recomputes a prompt's last block, and that a hit must be a *prefix* hit — so a profile's
 * share of it is a floor on how close it comes to the best placement possible.
 */

export interface HitCount {
  hits: number;
  accesses: number;
}

/**
 * Hits of Belady's MIN over `accesses` (block keys in order) with room for `capacity` blocks.
 * Where `counted` is 0 an access only brings its block in (an answer's blocks, which the engine
 * caches as it decodes): neither a hit nor an access.
 */
export function beladyHits(accesses: ArrayLike<number>, capacity: number, counted?: ArrayLike<number>): HitCount {
  const n = accesses.length;
  const next = nextUses(accesses);
  // Held block → the index of its next use; a max-heap of (next use, block) with stale entries
  // skipped on pop (an entry is live while the block is held with that very next use).
  const held = new Map<number, number>();
  const heap = new MaxHeap();
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const key = accesses[i];
    const nextUse = next[i];
    if (held.has(key)) {
      if (!counted || counted[i]) hits++;
    } else if (capacity <= 0) {
      continue;
    } else if (held.size >= capacity) {
      // The held block used farthest in the future, or the new one if it is needed even later.
      let top = heap.peek();
      while (top && held.get(top.key) !== top.at) {
        heap.pop();
        top = heap.peek();
      }
      if (!top || nextUse >= top.at) continue;
      heap.pop();
      held.delete(top.key);
    }
    held.set(key, nextUse);
    heap.push(nextUse, key);
  }
  return { hits, accesses: countOf(n, counted) };
}

function countOf(n: number, counted?: ArrayLike<number>): number {
  if (!counted) return n;
  let c = 0;
  for (let i = 0; i < n; i++) if (counted[i]) c++;
  return c;
}

/** Hits of a least-recently-used cache of `capacity` blocks over the same accesses. */
export function lruHits(accesses: ArrayLike<number>, capacity: number, counted?: ArrayLike<number>): HitCount {
  const held = new Map<number, true>();
  let hits = 0;
  for (let i = 0; i < accesses.length; i++) {
    const key = accesses[i];
    if (held.delete(key)) {
      if (!counted || counted[i]) hits++;
    }
    else if (capacity <= 0) continue;
    held.set(key, true);
    if (held.size > capacity) held.delete(held.keys().next().value as number);
  }
  return { hits, accesses: countOf(accesses.length, counted) };
}

/** For each access, the index of the next access of the same key (Infinity when none). */
export function nextUses(accesses: ArrayLike<number>): Float64Array {
  const next = new Float64Array(accesses.length);
  const seen = new Map<number, number>();
  for (let i = accesses.length - 1; i >= 0; i--) {
    next[i] = seen.get(accesses[i]) ?? Infinity;
    seen.set(accesses[i], i);
  }
  return next;
}

/** A binary max-heap of (priority, key) pairs. */
class MaxHeap {
  private readonly at: number[] = [];
  private readonly keys: number[] = [];

  push(at: number, key: number): void {
    const a = this.at;
    const k = this.keys;
    let i = a.length;
    a.push(at);
    k.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] >= at) break;
      a[i] = a[p];
      k[i] = k[p];
      i = p;
    }
    a[i] = at;
    k[i] = key;
  }

  peek(): { at: number; key: number } | undefined {
    return this.at.length > 0 ? { at: this.at[0], key: this.keys[0] } : undefined;
  }

  pop(): void {
    const a = this.at;
    const k = this.keys;
    const lastAt = a.pop()!;
    const lastKey = k.pop()!;
    const n = a.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && a[l + 1] > a[l] ? l + 1 : l;
      if (a[c] <= lastAt) break;
      a[i] = a[c];
      k[i] = k[c];
      i = c;
    }
    a[i] = lastAt;
    k[i] = lastKey;
  }
}

/**
 * Both caches over one access sequence, as hit rates of prompt tokens (hit blocks × block size ÷
 * prompt tokens — the engines' own measure, whose partial last blocks can never hit).
 */
export function capacityBound(
  accesses: ArrayLike<number>, capacityBlocks: number, blockSize: number, promptTokens: number, counted?: ArrayLike<number>,
): { belady: number; lru: number } {
  const rate = (h: HitCount) => (promptTokens > 0 ? (h.hits * blockSize) / promptTokens : 0);
  return { belady: rate(beladyHits(accesses, capacityBlocks, counted)), lru: rate(lruHits(accesses, capacityBlocks, counted)) };
}
