import { describe, expect, it } from 'vitest';
import { Engine } from '../../native/engine.js';
import type { EngineProfile, ResponseBatch } from '../../native/types.js';

// 10,000 requests through a real-clock engine (engine thread + ThreadSafeFunction), a quarter of
// them cancelled at random points. At the end nothing may be left: no active or queued request,
// no referenced KV block, and resident memory no higher than after the first round.
const profile: EngineProfile = {
  name: 'leak', blockSize: 16, numBlocks: 2048, maxBatchSize: 64, maxNumTokens: 2048, chunkedPrefill: true,
  enablePrefixCaching: true, schedulerPolicy: 'max-utilization', stepBaseMs: 5, stepPerSeqMs: 0.05,
  stepPerPrefillTokenMs: 0.01, stepPerKvTokenMs: 0, maxModelLen: 8192, maxQueueSize: 0,
};

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('engine model under churn', () => {
  it('ends 10,000 requests with random cancellations with nothing held and flat RSS', async () => {
    const random = lcg(42);
    const pending = new Map<number, () => void>();
    const engine = new Engine({ profile, timeScale: 200, kvEventBufferSize: 256 }, (batch: ResponseBatch) => {
      for (let i = 0; i < batch.length; i++) {
        const r = batch.at(i);
        if (r.isFinal) pending.get(r.requestId)?.();
      }
      batch.release();
    });
    const runRound = async (count: number) => {
      const finals: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        const prompt = Array.from({ length: 16 + Math.floor(random() * 300) }, (_, j) =>
          j < 64 ? 7 + (i % 8) : 100 + Math.floor(random() * 30000));
        const id = engine.enqueue({
          inputTokenIds: prompt, maxTokens: 1 + Math.floor(random() * 40), streaming: random() < 0.5, endId: 2,
        });
        finals.push(new Promise<void>((resolve) => pending.set(id, resolve)).then(() => { pending.delete(id); }));
        if (random() < 0.25) {
          const delay = Math.floor(random() * 5);
          setTimeout(() => engine.cancel(id), delay);
        }
        engine.getLatestKvEvents();
        if (i % 200 === 199) await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.all(finals);
    };
    await runRound(2000);
    global.gc?.();
    const rssAfterWarmup = process.memoryUsage().rss;
    for (let round = 0; round < 4; round++) await runRound(2000);
    global.gc?.();
    const rssAtEnd = process.memoryUsage().rss;
    const snap = engine.snapshot();
    expect(snap.completed + 0).toBeGreaterThan(0);
    expect(snap.running).toBe(0);
    expect(snap.waiting).toBe(0);
    expect(snap.usedBlocks).toBe(0);
    expect(pending.size).toBe(0);
    // Memory, not time: 8,000 more requests may not grow the process by more than 32 MB.
    expect(rssAtEnd - rssAfterWarmup).toBeLessThan(32 * 1024 * 1024);
    engine.close();
  }, 120_000);
});
