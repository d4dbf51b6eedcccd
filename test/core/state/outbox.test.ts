import { describe, expect, it } from 'vitest';
import { Outbox } from '../../../core/state/outbox.js';

const p = (h: number) => ({ backendId: 'x', hashes: [h], at: h });
const load = (backendId: string, inFlight: number) => ({ gatewayId: 'gw', backendId, inFlight, at: inFlight });

describe('Outbox', () => {
  it('drops the oldest prefix observations past its bound, and counts them', () => {
    const box = new Outbox(3);
    for (let i = 0; i < 5; i++) box.pushPrefix(p(i));
    expect(box.dropped).toBe(2);
    expect(box.take(10).prefixes.map((o) => o.at)).toEqual([2, 3, 4]);
    expect(box.size).toBe(0);
  });

  it('keeps only the latest load per gateway and backend', () => {
    const box = new Outbox(10);
    box.setLoad(load('a', 1));
    box.setLoad(load('b', 2));
    box.setLoad(load('a', 3));
    expect(box.size).toBe(2);
    expect(box.take(10).loads).toEqual([load('a', 3), load('b', 2)]);
  });

  it('puts an unsent batch back ahead of newer observations, under its bound; a newer load wins', () => {
    const box = new Outbox(4);
    for (let i = 0; i < 3; i++) box.pushPrefix(p(i));
    box.setLoad(load('a', 1));
    const batch = box.take(2);
    box.pushPrefix(p(3));
    box.pushPrefix(p(4));
    box.setLoad(load('a', 5));
    box.restore(batch);
    expect(box.dropped).toBe(1);
    const again = box.take(10);
    expect(again.prefixes.map((o) => o.at)).toEqual([1, 2, 3, 4]);
    expect(again.loads).toEqual([load('a', 5)]);
  });

  it('takes in chunks, in order, across many observations', () => {
    const box = new Outbox(10_000);
    for (let i = 0; i < 5000; i++) box.pushPrefix(p(i));
    const seen: number[] = [];
    while (box.size > 0) seen.push(...box.take(1000).prefixes.map((o) => o.at));
    expect(seen).toEqual([...Array(5000).keys()]);
  });
});
