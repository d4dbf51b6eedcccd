/**
 * A bounded set of numeric keys in recency order, each with one number beside it: the least
 * recently touched key goes first when the set is full. What a `Map` does when each touch is a
 * `delete` and a `set` — but a `Map` churned that way on a hot path leaves a deleted entry per
 * touch, boxes every 52-bit key and value in a heap object for the collector, and every few
 * hundred requests rebuilds a table of the whole index on the event loop (a 200k-entry index: a
 * 6 MB table, tens of milliseconds here). Here everything is in typed arrays: a touch relinks two
 * slots, and keys find their slots through an open-addressing table (linear probing, deletion by
 * shifting back: no tombstones), so the hot path allocates nothing.
 *
 * Slots grow by doubling up to the capacity, so a large capacity costs nothing until it is used:
 * 32 bytes a slot (32 MB per million keys).
 */
const NONE = -1;

export class RecencyList {
  /** Slot + 1 of the key hashed to each position (0: empty); a power of two, at least twice the slots. */
  private table = new Int32Array(0);
  private mask = -1;
  private count = 0;
  private keys = new Float64Array(0);
  private values = new Float64Array(0);
  /** Neighbours in recency order: `older` towards the oldest, `newer` towards the newest. */
  private older = new Int32Array(0);
  private newer = new Int32Array(0);
  private oldest = NONE;
  private newest = NONE;
  /** Slots never used yet start here; freed slots are chained through `newer` from `free`. */
  private unused = 0;
  private free = NONE;
  private cap: number;

  constructor(capacity: number) {
    this.cap = Math.max(1, Math.floor(capacity));
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.cap;
  }

  /** A smaller capacity forgets the least recent keys at once; a larger one keeps every key. */
  set capacity(n: number) {
    this.cap = Math.max(1, Math.floor(n));
    while (this.count > this.cap) this.delete(this.keys[this.oldest]);
  }

  has(key: number): boolean {
    return this.find(key) !== NONE;
  }

  /** The number kept beside `key`, or undefined when it is not held. */
  get(key: number): number | undefined {
    const slot = this.find(key);
    return slot === NONE ? undefined : this.values[slot];
  }

  /** Holds `key` as the most recent, with `value` beside it; the least recent key goes if the list is full. */
  touch(key: number, value = 0): void {
    let slot = this.find(key);
    if (slot === NONE) {
      if (this.count >= this.cap) this.delete(this.keys[this.oldest]);
      slot = this.take();
      this.keys[slot] = key === 0 ? 0 : key; // -0 and 0 are one key
      this.place(slot);
      this.count++;
    } else if (slot !== this.newest) {
      this.unlink(slot);
    } else {
      this.values[slot] = value;
      return;
    }
    this.values[slot] = value;
    this.older[slot] = this.newest;
    this.newer[slot] = NONE;
    if (this.newest !== NONE) this.newer[this.newest] = slot;
    this.newest = slot;
    if (this.oldest === NONE) this.oldest = slot;
  }

  delete(key: number): boolean {
    const at = this.position(key);
    if (at === NONE) return false;
    const slot = this.table[at] - 1;
    this.vacate(at);
    this.count--;
    this.unlink(slot);
    this.newer[slot] = this.free;
    this.free = slot;
    return true;
  }

  /** The least recent key, or undefined when empty. */
  oldestKey(): number | undefined {
    return this.oldest === NONE ? undefined : this.keys[this.oldest];
  }

  /** The value beside the least recent key, or undefined when empty. */
  oldestValue(): number | undefined {
    return this.oldest === NONE ? undefined : this.values[this.oldest];
  }

  clear(): void {
    this.table.fill(0);
    this.count = 0;
    this.oldest = this.newest = this.free = NONE;
    this.unused = 0;
  }

  private unlink(slot: number): void {
    const o = this.older[slot];
    const n = this.newer[slot];
    if (o !== NONE) this.newer[o] = n;
    else this.oldest = n;
    if (n !== NONE) this.older[n] = o;
    else this.newest = o;
  }

  private take(): number {
    if (this.free !== NONE) {
      const slot = this.free;
      this.free = this.newer[slot];
      return slot;
    }
    if (this.unused === this.keys.length) this.grow();
    return this.unused++;
  }

  /** The slot holding `key`, or NONE. */
  private find(key: number): number {
    const at = this.position(key);
    return at === NONE ? NONE : this.table[at] - 1;
  }

  /** The table position pointing at `key`'s slot, or NONE. */
  private position(key: number): number {
    if (this.count === 0) return NONE;
    if (key === 0) key = 0; // -0 is stored as 0
    for (let at = hashOf(key) & this.mask; ; at = (at + 1) & this.mask) {
      const entry = this.table[at];
      if (entry === 0) return NONE;
      if (this.keys[entry - 1] === key) return at;
    }
  }

  private place(slot: number): void {
    let at = hashOf(this.keys[slot]) & this.mask;
    while (this.table[at] !== 0) at = (at + 1) & this.mask;
    this.table[at] = slot + 1;
  }

  /** Empties a table position, shifting back the entries after it that probed past it. */
  private vacate(at: number): void {
    let hole = at;
    for (let next = (at + 1) & this.mask; this.table[next] !== 0; next = (next + 1) & this.mask) {
      const home = hashOf(this.keys[this.table[next] - 1]) & this.mask;
      // Moves back unless its home lies cyclically in (hole, next].
      if ((next - home + this.table.length) % this.table.length >= (next - hole + this.table.length) % this.table.length) {
        this.table[hole] = this.table[next];
        hole = next;
      }
    }
    this.table[hole] = 0;
  }

  private grow(): void {
    const n = Math.min(this.cap, Math.max(1024, this.keys.length * 2));
    const widen = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.keys = widen(this.keys, (k) => new Float64Array(k));
    this.values = widen(this.values, (k) => new Float64Array(k));
    this.older = widen(this.older, (k) => new Int32Array(k));
    this.newer = widen(this.newer, (k) => new Int32Array(k));
    let size = 1;
    while (size < n * 2) size *= 2;
    this.table = new Int32Array(size);
    this.mask = size - 1;
    // Every live slot again (freed slots are off the recency chain).
    for (let slot = this.oldest; slot !== NONE; slot = this.newer[slot]) this.place(slot);
  }
}

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);

/** A 32-bit mix of a number's 64 bits. */
function hashOf(key: number): number {
  bits[0] = key;
  let h = Math.imul(words[0] ^ Math.imul(words[1], 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
