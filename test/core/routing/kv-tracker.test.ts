import { describe, expect, it } from 'vitest';
import { Engine } from '../../../native/engine.js';
import type { EngineProfile, KvCacheEvent } from '../../../native/types.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { blockKey, blockKeys, blockKeysOfParts, engineDigest, KvTracker, type KvEvent } from '../../../core/routing/kv-tracker.js';

const ids = (n: number, from = 1000) => Array.from({ length: n }, (_, i) => from + i);
/** The addon's events in the tracker's engine-neutral form. */
function neutral(e: KvCacheEvent): KvEvent {
  if (e.type === 'stored') return { ...e, blocks: e.blocks.map((b) => ({ hash: b.blockHash, tokens: b.tokens })) };
  if (e.type === 'removed') return { eventId: e.eventId, type: 'removed', hashes: e.blockHashes };
  return e;
}
const block = (hash: bigint | string, tokens: number[]) => ({ hash, tokens });

/** A tracker with its removals and clears recorded. */
function tracked(opts: ConstructorParameters<typeof KvTracker>[0] = {}) {
  const tracker = new KvTracker(opts);
  const removed: number[] = [];
  const cleared: string[] = [];
  tracker.listen({ onRemoved: (keys) => removed.push(...keys), onCleared: (reason) => cleared.push(reason) });
  return { tracker, removed, cleared };
}

describe('KvTracker', () => {
  it('keys blocks by their token ids, chained, whatever the engine calls them', () => {
    const prompt = ids(12);
    const keys = blockKeys(prompt, 4);
    expect(keys).toHaveLength(3);
    expect(keys[1]).toBe(blockKey(keys[0], prompt, 4, 8));
    expect(blockKeys(prompt.slice(0, 11), 4)).toEqual(keys.slice(0, 2)); // a partial block has no key
    // The same tokens under another prefix are another block.
    expect(blockKeys([...ids(4, 7), ...prompt.slice(4, 8)], 4)[1]).not.toBe(keys[1]);
    expect(keys.every((k) => Number.isSafeInteger(k) && k >= 0)).toBe(true);

    const { tracker } = tracked();
    // Engine hashes with no relation to the tokens (as TensorRT-LLM's or a salted vLLM's are).
    tracker.apply([
      { eventId: 0, type: 'created', numBlocks: 100 },
      { eventId: 1, type: 'stored', parentHash: null, blocks: [block(91n, prompt.slice(0, 4)), block(17n, prompt.slice(4, 8))] },
      { eventId: 2, type: 'stored', parentHash: 17n, blocks: [block(5n, prompt.slice(8, 12))] },
    ]);
    expect(tracker.blockSize).toBe(4); // learned from the stored blocks
    expect(tracker.numBlocks).toBe(100);
    expect(tracker.match(prompt)).toBe(12);
    expect(tracker.match([...prompt.slice(0, 8), 1, 2, 3, 4])).toBe(8);
    expect(tracker.keysOf(prompt)).toEqual(keys);
    expect(keys.every((k) => tracker.holds(k))).toBe(true);
  });

  it('retracts exactly the removed blocks, by the engine hashes alone', () => {
    const prompt = ids(12);
    const keys = blockKeys(prompt, 4);
    const { tracker, removed } = tracked({ blockSize: 4 });
    tracker.apply([
      { type: 'stored', parentHash: null, blocks: [block('aa01', prompt.slice(0, 4)), block('aa02', prompt.slice(4, 8)), block('aa03', prompt.slice(8, 12))] },
    ]);
    tracker.apply([{ type: 'removed', hashes: ['aa03'] }]);
    expect(removed).toEqual([keys[2]]);
    expect(tracker.match(prompt)).toBe(8);
    // A hash it never saw stored changes nothing (and is counted).
    tracker.apply([{ type: 'removed', hashes: ['ffff', 17n] }]);
    expect(removed).toHaveLength(1);
    expect(tracker.stats.unknownRemovals).toBe(2);
    // String and BigInt hashes are different names: 0xaa01 is not 'aa01'.
    tracker.apply([{ type: 'removed', hashes: [0xaa01n] }]);
    expect(tracker.match(prompt)).toBe(8);
  });

  it('drops everything on cleared', () => {
    const { tracker, removed, cleared } = tracked();
    tracker.apply([{ type: 'stored', parentHash: null, blocks: [block(1n, ids(4)), block(2n, ids(4, 2000))] }]);
    tracker.apply([{ type: 'cleared' }]);
    expect(cleared).toEqual(['cleared']);
    expect(removed).toEqual([]);
    expect(tracker.blocks).toBe(0);
    expect(tracker.match(ids(8))).toBe(0);
  });

  it('cannot key a block whose parent it never saw, and says so', () => {
    const { tracker } = tracked({ blockSize: 4 });
    tracker.apply([{ type: 'stored', parentHash: 77n, blocks: [block(78n, ids(4))] }]);
    expect(tracker.blocks).toBe(0);
    expect(tracker.stats.orphans).toBe(1);
  });

  it('holds a key while any engine block with those tokens is held (engines that salt by LoRA)', () => {
    const { tracker, removed } = tracked();
    const tokens = ids(4);
    tracker.apply([
      { type: 'stored', parentHash: null, blocks: [block(1n, tokens)] },
      { type: 'stored', parentHash: null, blocks: [block(2n, tokens)] },
    ]);
    tracker.apply([{ type: 'removed', hashes: [1n] }]);
    expect(removed).toEqual([]);
    expect(tracker.match(tokens)).toBe(4);
    tracker.apply([{ type: 'removed', hashes: [2n] }]);
    expect(removed).toEqual(blockKeys(tokens, 4));
    // Stored twice under one hash: still one block.
    tracker.apply([{ type: 'stored', parentHash: null, blocks: [block(3n, tokens)] }, { type: 'stored', parentHash: null, blocks: [block(3n, tokens)] }]);
    tracker.apply([{ type: 'removed', hashes: [3n] }]);
    expect(tracker.match(tokens)).toBe(0);
  });

  it('treats an event-id gap as lost state: clears, counts it, relearns', () => {
    const { tracker, cleared } = tracked({ blockSize: 4 });
    const events: KvEvent[] = [
      { eventId: 10, type: 'stored', parentHash: null, blocks: [block(1n, ids(4))] },
      { eventId: 11, type: 'updated' },
      { eventId: 12, type: 'stored', parentHash: 1n, blocks: [block(2n, ids(4, 50))] },
    ];
    tracker.apply(events);
    expect(tracker.blocks).toBe(2);
    expect(tracker.stats.gaps).toBe(0); // the first id seen starts the count
    // 13..14 were dropped by the engine's full buffer (say, 1n removed): the picture is unknown.
    tracker.apply([{ eventId: 15, type: 'stored', parentHash: null, blocks: [block(9n, ids(4, 90))] }]);
    expect(tracker.stats.gaps).toBe(1);
    expect(cleared).toEqual(['gap']);
    expect(tracker.blocks).toBe(1);
    expect(tracker.match(ids(4, 90))).toBe(4);
    expect(tracker.match(ids(4))).toBe(0);
    // An engine restart numbers from 0 again: also a gap.
    tracker.apply([{ eventId: 0, type: 'created', numBlocks: 8 }]);
    expect(tracker.stats.gaps).toBe(2);
  });

  it('keeps at most maxBlocks, forgetting the oldest as removed', () => {
    const { tracker, removed } = tracked({ blockSize: 2, maxBlocks: 100 });
    for (let i = 0; i < 1000; i++) {
      tracker.apply([{ eventId: i, type: 'stored', parentHash: null, blocks: [block(BigInt(i), [i, i + 1])] }]);
    }
    expect(tracker.blocks).toBe(100);
    expect(tracker.stats.forgotten).toBe(900);
    expect(removed).toHaveLength(900);
    expect(tracker.match([999, 1000])).toBe(2);
    expect(tracker.match([0, 1])).toBe(0);
  });

  it('tells engine hashes apart by a 52-bit digest: 64-bit integers by their bits, strings by their text', () => {
    const digests = new Set<number>();
    for (let i = 1n; i <= 20_000n; i++) {
      digests.add(engineDigest(i));
      digests.add(engineDigest(i << 40n)); // differing only in the high word
      digests.add(engineDigest(`sha256:${i}`));
    }
    expect(digests.size).toBe(60_000);
    expect([...digests].every((d) => Number.isSafeInteger(d) && d >= 0 && d < 2 ** 52)).toBe(true);
    // Python's hash() is signed: -1 and 2^64 - 1 are the same 64 bits, so the same block.
    expect(engineDigest(-1n)).toBe(engineDigest(2n ** 64n - 1n));
    expect(engineDigest('ab')).not.toBe(engineDigest('ba'));
    // A signed hash stored and removed under the same value round-trips.
    const { tracker, removed } = tracked({ blockSize: 2 });
    tracker.apply([{ type: 'stored', parentHash: null, blocks: [block(-5_000_000_000_000n, [1, 2])] }]);
    tracker.apply([{ type: 'stored', parentHash: -5_000_000_000_000n, blocks: [block('x', [3, 4])] }]);
    expect(tracker.match([1, 2, 3, 4])).toBe(4);
    tracker.apply([{ type: 'removed', hashes: ['x', -5_000_000_000_000n] }]);
    expect(removed).toHaveLength(2);
    expect(tracker.blocks).toBe(0);
  });

  it('holds its blocks off the JS heap: a few bytes of heap per block, not a BigInt and two Map entries', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const tracker = new KvTracker({ blockSize: 4 });
    gc();
    const before = process.memoryUsage().heapUsed;
    // 200k blocks in chains of 100, under 64-bit hashes, as vLLM's events name them.
    for (let chain = 0; chain < 2000; chain++) {
      const blocks = Array.from({ length: 100 }, (_, i) => block(BigInt(chain) * 1_000_003n + BigInt(i) * 7n + (1n << 62n), [chain, i, 3, 4]));
      tracker.apply([{ type: 'stored', parentHash: null, blocks }]);
    }
    gc();
    const perBlock = (process.memoryUsage().heapUsed - before) / tracker.blocks;
    expect(tracker.blocks).toBe(200_000);
    // As Maps it was ~99 bytes of heap per block; the typed arrays live outside the heap.
    expect(perBlock).toBeLessThan(8);
  });

  it('follows the engine model through the real addon, whose block hashes are salted and not Switchyard\'s', () => {
    const profile: EngineProfile = {
      name: 'test', blockSize: 16, numBlocks: 12, maxBatchSize: 8, maxNumTokens: 256, chunkedPrefill: true,
      enablePrefixCaching: true, schedulerPolicy: 'max-utilization', stepBaseMs: 10, stepPerSeqMs: 1,
      stepPerPrefillTokenMs: 0.1, stepPerKvTokenMs: 0, maxModelLen: 4096, maxQueueSize: 0,
    };
    const engine = new Engine({ profile, clock: 'manual', kvEventBufferSize: 1000, blockHashSeed: 0xdead_beef_cafen });
    const { tracker, removed } = tracked();
    const run = (prompt: number[]) => {
      engine.enqueue({ inputTokenIds: prompt, maxTokens: 1 });
      for (let i = 0; i < 50 && (engine.snapshot().running > 0 || engine.snapshot().waiting > 0); i++) engine.step();
      tracker.apply(engine.getLatestKvEvents().map(neutral));
    };
    const first = ids(80, 100);
    run(first);
    expect(tracker.blockSize).toBe(16); // from the created event
    expect(tracker.numBlocks).toBe(12);
    // 80 tokens + 1 generated: 5 full blocks stored, keyed by Switchyard from their tokens.
    expect(tracker.match(first)).toBe(80);
    // A second prompt needing most of the 12 blocks evicts the first one's.
    run(ids(150, 5000));
    expect(removed.length).toBeGreaterThan(0);
    expect(removed.every((k) => blockKeys(first, 16).includes(k) || blockKeys(ids(150, 5000), 16).includes(k))).toBe(true);
    expect(tracker.match(first)).toBeLessThan(80);
    expect(tracker.stats.unknownRemovals).toBe(0);
    expect(tracker.stats.gaps).toBe(0);
    engine.close();
  });

  it('sees the gap when the engine\'s event buffer overflows between drains (real addon)', () => {
    const profile: EngineProfile = {
      name: 'test', blockSize: 4, numBlocks: 64, maxBatchSize: 8, maxNumTokens: 256, chunkedPrefill: true,
      enablePrefixCaching: true, schedulerPolicy: 'max-utilization', stepBaseMs: 10, stepPerSeqMs: 1,
      stepPerPrefillTokenMs: 0.1, stepPerKvTokenMs: 0, maxModelLen: 4096, maxQueueSize: 0,
    };
    const engine = new Engine({ profile, clock: 'manual', kvEventBufferSize: 2 });
    const { tracker, cleared } = tracked();
    tracker.apply(engine.getLatestKvEvents().map(neutral)); // created, id 0
    // Three prompts, each one stored event: the buffer of 2 keeps the last two.
    for (let p = 0; p < 3; p++) {
      engine.enqueue({ inputTokenIds: ids(8, 100 * p), maxTokens: 1 });
      for (let i = 0; i < 10; i++) engine.step();
    }
    tracker.apply(engine.getLatestKvEvents().map(neutral));
    expect(tracker.stats.gaps).toBe(1);
    expect(cleared).toEqual(['gap']);
    // What followed the gap is known; what was dropped is not claimed.
    expect(tracker.match(ids(8, 200))).toBe(8);
    expect(tracker.match(ids(8, 0))).toBe(0);
    engine.close();
  });
});

describe('blockKey', () => {
  it('spreads 200k near-identical blocks over distinct 52-bit keys, and chains on the parent', async () => {
    const { blockKey } = await import('../../../core/routing/kv-tracker.js');
    const seen = new Set<number>();
    for (let i = 0; i < 200_000; i++) {
      // Blocks that differ in one token, or only in their parent.
      const k = blockKey(i % 2 === 0 ? 0 : 12345, [1, 2, 3, Math.floor(i / 2), 5, 6, 7, 8]);
      expect(Number.isSafeInteger(k) && k >= 0 && k < 2 ** 52).toBe(true);
      seen.add(k);
    }
    expect(seen.size).toBe(200_000);
    expect(blockKey(0, [1, 2])).not.toBe(blockKey(0, [2, 1]));
    expect(blockKey(0, [0])).not.toBe(blockKey(0, [0, 0]));
  });

  it('keeps its values (gateways of different builds share keys through the store)', () => {
    expect(blockKeys(Array.from({ length: 48 }, (_, i) => i * 1000), 16)).toEqual([3335365414846691, 305108150888496, 2399032066664587]);
  });

  it('keys a prompt held in parts exactly as the whole, wherever the parts are cut', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let trial = 0; trial < 300; trial++) {
      const tokens = Array.from({ length: rand(300) }, () => rand(150_000));
      const size = 1 + rand(32);
      const cuts = [rand(tokens.length + 1), rand(tokens.length + 1)].sort((a, b) => a - b);
      const parts = [Int32Array.from(tokens.slice(0, cuts[0])), Int32Array.from(tokens.slice(cuts[0], cuts[1])), Int32Array.from(tokens.slice(cuts[1]))];
      expect(blockKeysOfParts(parts, size)).toEqual(blockKeys(tokens, size));
      expect(blockKeysOfParts(parts, size, 2)).toEqual(blockKeys(tokens, size).slice(0, 2));
    }
  });
});

describe('KvTracker: events relayed at least once', () => {
  it('skips an event id it has applied, but still sees an engine restart (id 0 or created) as a gap', async () => {
    const { KvTracker } = await import('../../../core/routing/kv-tracker.js');
    const t = new KvTracker({ blockSize: 2 });
    const stored = (id: number, hash: string) => ({ eventId: id, type: 'stored' as const, parentHash: null, blocks: [{ hash, tokens: [id, id + 1] }] });
    t.apply([stored(1, 'a'), stored(2, 'b')]);
    t.apply([stored(2, 'b')]); // delivered twice
    expect(t.stats.duplicates).toBe(1);
    expect(t.stats.gaps).toBe(0);
    expect(t.blocks).toBe(2);
    t.apply([{ eventId: 0, type: 'created', numBlocks: 100 }]); // the engine restarted
    expect(t.stats.gaps).toBe(1);
    expect(t.blocks).toBe(0);
  });
});
