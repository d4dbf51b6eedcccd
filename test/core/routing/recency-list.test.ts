import { describe, expect, it } from 'vitest';
import { RecencyList } from '../../../core/routing/recency-list.js';

/** The reference: a Map kept in recency order by delete + set (what RecencyList replaces). */
class MapLru {
  readonly m = new Map<number, number>();
  constructor(public cap: number) {}
  touch(k: number, v: number) {
    this.m.delete(k);
    this.m.set(k, v);
    while (this.m.size > this.cap) this.m.delete(this.m.keys().next().value as number);
  }
}

describe('RecencyList', () => {
  it('holds the same keys, values and order as a Map in recency order, through touches, deletes, clears and capacity changes', () => {
    let seed = 7;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    const list = new RecencyList(3000);
    const ref = new MapLru(3000);
    for (let step = 0; step < 60_000; step++) {
      const op = rand(100);
      const key = rand(5000) * 2 ** 20 + 0.5; // not small integers: the keys are 52-bit hashes
      if (op < 70) {
        list.touch(key, step);
        ref.touch(key, step);
      } else if (op < 95) {
        expect(list.delete(key)).toBe(ref.m.delete(key));
      } else if (op < 99) {
        const cap = 500 + rand(4000);
        list.capacity = cap;
        ref.cap = cap;
        while (ref.m.size > cap) ref.m.delete(ref.m.keys().next().value as number);
      } else if (step % 7 === 0) {
        list.clear();
        ref.m.clear();
      }
      expect(list.size).toBe(ref.m.size);
      if (step % 997 === 0) {
        for (const [k, v] of ref.m) expect(list.get(k)).toBe(v);
        // Emptying both from the oldest gives the same order.
        const a: number[] = [];
        const b = [...ref.m.keys()];
        const copy = new RecencyList(list.capacity);
        for (const k of b) copy.touch(k);
        for (let k = copy.oldestKey(); k !== undefined; k = copy.oldestKey()) { a.push(k); copy.delete(k); }
        expect(a).toEqual(b);
        const first = list.oldestKey();
        expect(first).toBe(b[0]);
      }
    }
  });

  it('forgets the least recent key when full, and reuses its slot', () => {
    const list = new RecencyList(3);
    for (const k of [1, 2, 3]) list.touch(k, k * 10);
    list.touch(1, 11); // 1 is now the most recent
    list.touch(4, 40); // 2 goes
    expect([1, 2, 3, 4].map((k) => list.has(k))).toEqual([true, false, true, true]);
    expect(list.oldestKey()).toBe(3);
    expect(list.get(1)).toBe(11);
    list.capacity = 1;
    expect(list.size).toBe(1);
    expect(list.oldestKey()).toBe(4);
  });
});

describe('RecencyList under collisions', () => {
  it('finds every key after deletes in the middle of probe runs (keys that share their low bits)', () => {
    const list = new RecencyList(4096);
    const keys = Array.from({ length: 4000 }, (_, i) => i * 2 ** 40); // the same low 32 bits
    for (const k of keys) list.touch(k, k / 2 ** 40);
    for (let i = 0; i < keys.length; i += 3) list.delete(keys[i]);
    for (const [i, k] of keys.entries()) expect(list.get(k)).toBe(i % 3 === 0 ? undefined : i);
    list.touch(-0, 5);
    expect(list.get(0)).toBe(5);
  });
});
