/**
 * A floor under any router's p90 TTFT on a workload, beside the hit-rate bound (bound.ts): what
 * no placement can beat. A request's blocks that no earlier request held — in its prompt or its
 * answer, in the same arrival order — are compulsory misses: whatever the router does, some
 * replica must prefill from the first of them to the prompt's end. Its TTFT is at least that
 * prefill on an idle replica of the fleet's fastest profile (the engine model, run alone: no
 * queue, no batch-mates, the cached part really cached). The p90 of those floors bounds every
 * profile's p90 from below, so a target written as a ratio to least-load's p90 can be checked
 * against it: a ratio under floor ÷ least-load is out of any router's reach on that workload.
 *
 * Generous on purpose (lower than reachable): the whole history is taken as cached, with no
 * capacity limit and on the replica each request would need.
 */
import { Engine } from '../../native/engine.js';
import type { EngineProfile } from '../../native/types.js';
import { engineProfileOf } from './replica.js';
import { percentile, requestBlockKeys } from './stats.js';
import type { Workload } from './workload.js';

/** Rounding (down, so the floor stays a floor) that lets one engine run serve many requests. */
const TOTAL_STEP = 256;

/** Per request in `order`: prompt tokens past the first compulsory miss (at least one: an engine computes the last token). */
export function compulsoryUncached(w: Workload, order: readonly number[], blockSize: number): Array<{ index: number; total: number; uncached: number }> {
  const seen = new Set<number>();
  return order.map((i) => {
    const r = w.requests[i];
    const { own, answer } = requestBlockKeys(r, blockSize);
    let held = 0;
    while (held < own.length && seen.has(own[held])) held++;
    for (const k of own) seen.add(k);
    for (const k of answer) seen.add(k);
    return { index: i, total: r.ids.length, uncached: Math.max(1, r.ids.length - held * blockSize) };
  });
}

/** TTFT of one request alone on an idle replica, its first `total - uncached` tokens cached beforehand. */
export function idleTtftMs(profile: EngineProfile, total: number, uncached: number): number {
  const engine = new Engine({ profile, clock: 'manual', kvEventBufferSize: 0 });
  try {
    const ids = Int32Array.from({ length: total }, (_, t) => 1 + (t % 30_000));
    const cached = total - uncached;
    if (cached > 0) {
      engine.enqueue({ inputTokenIds: ids.subarray(0, cached), maxTokens: 1, ignoreEos: true, endId: -1 });
      while (!engine.step().some((r) => r.isFinal)) { /* the prefix is prefilled and kept */ }
    }
    const t0 = engine.nowMs();
    const id = engine.enqueue({ inputTokenIds: ids, maxTokens: 1, ignoreEos: true, endId: -1, streaming: true });
    for (;;) {
      const first = engine.step().find((r) => r.requestId === id && r.tokens.length > 0);
      if (first) return first.timeMs - t0;
    }
  } finally {
    engine.close();
  }
}

/** The p90 over the workload's requests of their idle-prefill floors (model ms). */
export function p90TtftFloor(w: Workload, order: readonly number[]): number {
  const profiles = w.fleet.map(engineProfileOf);
  const blockSize = profiles[0].blockSize;
  // One of each profile in the fleet: the floor is the fastest one's.
  const distinct = [...new Map(w.fleet.map((s, i) => [s.profile, profiles[i]])).values()];
  const memo = new Map<string, number>();
  const floorOf = (total: number, uncached: number) => {
    // Rounded down: fewer tokens never take longer to prefill.
    const t = Math.max(uncached, Math.floor(total / TOTAL_STEP) * TOTAL_STEP);
    const u = Math.max(1, Math.floor(uncached / blockSize) * blockSize);
    const key = `${t}/${u}`;
    let ms = memo.get(key);
    if (ms === undefined) {
      ms = Math.min(...distinct.map((p) => idleTtftMs(p, t, u)));
      memo.set(key, ms);
    }
    return ms;
  };
  const floors = compulsoryUncached(w, order, blockSize).map((r) => floorOf(r.total, r.uncached)).sort((a, b) => a - b);
  return percentile(floors, 90);
}
