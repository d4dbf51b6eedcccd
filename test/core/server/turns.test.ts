import { describe, expect, it } from 'vitest';
import { RelayTurns } from '../../../core/server/turns.js';

/** Spins for `ms` of wall time: one chunk's relay work, made long enough to spend a slice. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* work */ }
}

/** What a relay does per chunk: work now, or when its turn comes. Resolves once the work is done. */
function chunk(turns: RelayTurns, ms: number, log: string[], name: string): Promise<void> {
  return new Promise((resolve) => {
    const work = () => {
      busy(ms);
      log.push(name);
      resolve();
    };
    if (turns.turn(work)) work();
  });
}

/** A chunk's turn, as a promise: undefined when it may go on now. */
function waitTurn(turns: RelayTurns): Promise<void> | undefined {
  let resume!: () => void;
  const turn = new Promise<void>((resolve) => { resume = resolve; });
  return turns.turn(() => resume()) ? undefined : turn;
}

describe('RelayTurns', () => {
  it('lets a lone chunk go on at once', () => {
    const turns = new RelayTurns(1);
    expect(turns.turn(() => { throw new Error('a lone chunk goes on at once'); })).toBe(true);
    expect(turns.queued).toBe(0);
  });

  it('lets chunks go on at once while the slice has time, then queues them in arrival order', async () => {
    const turns = new RelayTurns(50);
    expect(waitTurn(turns)).toBeUndefined();
    expect(waitTurn(turns)).toBeUndefined();
    busy(60);
    const late = [waitTurn(turns), waitTurn(turns)];
    expect(late.every((p) => p instanceof Promise)).toBe(true);
    expect(turns.queued).toBe(2);
    await Promise.all(late);
    expect(turns.queued).toBe(0);
  });

  it('lets a new request go on while the slice has time; once it is spent, requests and chunks go alternately, each in arrival order', async () => {
    const turns = new RelayTurns(50);
    expect(waitTurn(turns)).toBeUndefined();
    busy(60);
    const log: string[] = [];
    const chunks = [waitTurn(turns)!.then(() => log.push('chunk 1')), waitTurn(turns)!.then(() => log.push('chunk 2'))];
    // The slice is spent: requests wait too, and take every other turn with the chunks.
    const requests = [1, 2, 3].map((i) => turns.admission()!.then(() => log.push(`request ${i}`)));
    expect(turns.queued).toBe(5);
    await Promise.all([...chunks, ...requests]);
    expect(log).toEqual(['request 1', 'chunk 1', 'request 2', 'chunk 2', 'request 3']);
    // Within a slice's time, one request after another goes on at once.
    const fresh = new RelayTurns(50);
    expect(fresh.admission()).toBeUndefined();
    expect(fresh.admission()).toBeUndefined();
  });

  it('turns the event loop between slices: a timer due during a burst runs before the burst ends', async () => {
    const turns = new RelayTurns(2);
    const log: string[] = [];
    // A burst of 60 chunks of 0.5 ms each (30 ms in all), as one poll phase hands them over.
    let timerAt = -1;
    setTimeout(() => { timerAt = log.length; }, 0);
    const all: Array<Promise<void>> = [];
    for (let i = 0; i < 60; i++) all.push(chunk(turns, 0.5, log, `c${i}`));
    await Promise.all(all);
    // In order, all of them, and the timer fired with most of the burst still waiting.
    expect(log).toEqual(Array.from({ length: 60 }, (_, i) => `c${i}`));
    expect(timerAt).toBeGreaterThanOrEqual(0);
    expect(timerAt).toBeLessThan(30);
  });
});
