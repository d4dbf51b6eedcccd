import { describe, expect, it } from 'vitest';
import { Engine, isQueueFull, responsesOf } from '../../native/engine.js';
import type { EngineProfile, EngineRequest, EngineResponse, ResponseBatch } from '../../native/types.js';

const base: EngineProfile = {
  name: 'test', blockSize: 16, numBlocks: 64, maxBatchSize: 8, maxNumTokens: 256, chunkedPrefill: true,
  enablePrefixCaching: true, schedulerPolicy: 'max-utilization', stepBaseMs: 10, stepPerSeqMs: 1,
  stepPerPrefillTokenMs: 0.1, stepPerKvTokenMs: 0, maxModelLen: 4096, maxQueueSize: 0,
};

function manual(profile: Partial<EngineProfile> = {}, kvEvents = 0, blockHashSeed?: bigint): Engine {
  return new Engine({ profile: { ...base, ...profile }, clock: 'manual', kvEventBufferSize: kvEvents, blockHashSeed });
}

function tokens(n: number, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => 100 + ((i + offset) % 5000));
}

/** Steps until every listed request has its final response; returns all responses by id. */
function runToEnd(engine: Engine, ids: number[], maxSteps = 10_000): Map<number, EngineResponse[]> {
  const byId = new Map<number, EngineResponse[]>(ids.map((id) => [id, []]));
  const open = new Set(ids);
  for (let i = 0; i < maxSteps && open.size > 0; i++) {
    for (const r of engine.step()) {
      byId.get(r.requestId)?.push(r);
      if (r.isFinal) open.delete(r.requestId);
    }
  }
  expect(open.size).toBe(0);
  return byId;
}

function output(responses: EngineResponse[]): number[] {
  return responses.flatMap((r) => r.tokens);
}

describe('engine model', () => {
  it('produces the same output for the same request, streamed or not', () => {
    const engine = manual();
    const req: EngineRequest = { inputTokenIds: tokens(40), maxTokens: 12, streaming: true };
    const a = engine.enqueue(req);
    const b = engine.enqueue({ ...req, streaming: false });
    const c = engine.enqueue({ ...req, seed: 7 });
    const out = runToEnd(engine, [a, b, c]);
    expect(output(out.get(a)!)).toHaveLength(12);
    expect(output(out.get(a)!)).toEqual(output(out.get(b)!));
    expect(out.get(b)!).toHaveLength(1);
    expect(output(out.get(c)!)).not.toEqual(output(out.get(a)!));
    expect(out.get(a)!.at(-1)!.finishReason).toBe('length');
    engine.close();
  });

  it('batches running requests into one step and charges the step-time model', () => {
    const engine = manual({ stepBaseMs: 10, stepPerSeqMs: 1, stepPerPrefillTokenMs: 0.5 });
    engine.enqueue({ inputTokenIds: tokens(20), maxTokens: 3 });
    engine.enqueue({ inputTokenIds: tokens(20, 50), maxTokens: 3 });
    engine.step();
    // One prefill step for both: 10 + 2·1 + 40·0.5
    expect(engine.nowMs()).toBeCloseTo(32);
    const [stats] = engine.getLatestIterationStats();
    expect(stats.numActiveRequests).toBe(2);
    expect(stats.inflightBatchingStats.numContextRequests).toBe(2);
    expect(stats.inflightBatchingStats.numCtxTokens).toBe(40);
    engine.step();
    expect(engine.nowMs()).toBeCloseTo(32 + 12);
    engine.close();
  });

  it('splits a long prompt over steps by the token budget (chunked prefill)', () => {
    const engine = manual({ maxNumTokens: 64 });
    const id = engine.enqueue({ inputTokenIds: tokens(200), maxTokens: 2, streaming: true });
    const first: number[] = [];
    for (let i = 0; i < 4; i++) first.push(engine.step().length);
    expect(first).toEqual([0, 0, 0, 1]); // 64+64+64 then 8 → first token
    runToEnd(engine, [id]);
    engine.close();
  });

  it('reuses cached prefix blocks and reports cached tokens', () => {
    const engine = manual();
    const prompt = tokens(100);
    const a = runToEnd(engine, [engine.enqueue({ inputTokenIds: prompt, maxTokens: 4 })]);
    expect([...a.values()][0][0].cachedTokens).toBe(0);
    const b = runToEnd(engine, [engine.enqueue({ inputTokenIds: [...prompt, 1, 2, 3], maxTokens: 4 })]);
    const final = [...b.values()][0].at(-1)!;
    expect(final.timings!.cachedTokens).toBe(96); // 6 full blocks of 16
    const snap = engine.snapshot();
    expect(snap.prefixQueryTokens).toBe(203);
    expect(snap.prefixHitTokens).toBe(96);
    engine.close();
  });

  it('serves a cached prefix faster than a cold one (TTFT falls)', () => {
    const engine = manual({ stepPerPrefillTokenMs: 0.5, numBlocks: 512 });
    const system = tokens(2000);
    const ttft = (q: number) => {
      const id = engine.enqueue({ inputTokenIds: [...system, ...tokens(20, 3000 + q)], maxTokens: 2 });
      const t = [...runToEnd(engine, [id]).values()][0].at(-1)!.timings!;
      return t.firstTokenMs - t.arrivalMs;
    };
    const cold = ttft(1);
    const warm = ttft(2);
    expect(warm).toBeLessThan(cold / 5);
    engine.close();
  });

  it('evicts least recently used cached blocks and emits KV events', () => {
    const engine = manual({ numBlocks: 16 }, 1000);
    const created = engine.getLatestKvEvents();
    expect(created[0]).toMatchObject({ type: 'created', numBlocks: 16, blockSize: 16, eventId: 0 });
    runToEnd(engine, [engine.enqueue({ inputTokenIds: tokens(128), maxTokens: 1 })]);
    const events = engine.getLatestKvEvents();
    // Event ids follow each other across drains: a gap means the buffer dropped some.
    expect(events.map((e) => e.eventId)).toEqual(events.map((_, i) => i + 1));
    const stored = events.filter((e) => e.type === 'stored');
    const blocks = stored.flatMap((e) => (e.type === 'stored' ? e.blocks : []));
    // The prompt's blocks in order, each with its tokens; each event names its first block's parent.
    expect(blocks.slice(0, 7).map((b) => b.tokens)).toEqual(Array.from({ length: 7 }, (_, j) => tokens(128).slice(16 * j, 16 * j + 16)));
    expect(stored[0].type === 'stored' && stored[0].parentHash).toBeNull();
    for (let i = 1; i < stored.length; i++) {
      const prev = stored[i - 1];
      const cur = stored[i];
      if (prev.type === 'stored' && cur.type === 'stored') expect(cur.parentHash).toBe(prev.blocks.at(-1)!.blockHash);
    }
    // A different prompt needing most of the cache evicts the first one's blocks.
    runToEnd(engine, [engine.enqueue({ inputTokenIds: tokens(200, 9000), maxTokens: 1 })]);
    const removed = engine.getLatestKvEvents().filter((e) => e.type === 'removed');
    expect(removed.length).toBeGreaterThan(0);
    expect(engine.snapshot().usedBlocks).toBe(0);
    engine.close();
  });

  it('names its blocks with a salted hash when given a block-hash seed', () => {
    const storedHashes = (seed?: bigint) => {
      const engine = manual({}, 100, seed);
      runToEnd(engine, [engine.enqueue({ inputTokenIds: tokens(64), maxTokens: 1 })]);
      const hashes = engine.getLatestKvEvents().flatMap((e) => (e.type === 'stored' ? e.blocks.map((b) => b.blockHash) : []));
      engine.close();
      return hashes;
    };
    const plain = storedHashes();
    expect(plain).toHaveLength(4);
    expect(storedHashes()).toEqual(plain);
    const salted = storedHashes(0x1234_5678_9abc_def0n);
    expect(salted).toHaveLength(4);
    expect(salted.some((h) => plain.includes(h))).toBe(false);
  });

  it('decodes greedily at temperature 0; seed and sampling parameters change a sampled answer', () => {
    const engine = manual();
    const prompt = tokens(40);
    const out = (req: Partial<EngineRequest>) =>
      output([...runToEnd(engine, [engine.enqueue({ inputTokenIds: prompt, maxTokens: 12, ...req })]).values()][0]);
    const sampled = out({});
    expect(out({ seed: 0 })).toEqual(sampled); // 0 is the default seed
    expect(out({ seed: 7 })).toEqual(out({ seed: 7 }));
    expect(out({ seed: 7 })).not.toEqual(sampled);
    expect(out({ seed: 7n })).toEqual(out({ seed: 7 }));
    expect(out({ temperature: 0.7 })).not.toEqual(sampled);
    expect(out({ topP: 0.9 })).not.toEqual(out({ topP: 0.8 }));
    // Greedy: the seed makes no difference.
    const greedy = out({ temperature: 0 });
    expect(out({ temperature: 0, seed: 7 })).toEqual(greedy);
    expect(out({ topK: 1, seed: 99 })).toEqual(greedy);
    // Penalties are taken (they reach TensorRT-LLM) and checked.
    expect(out({ repetitionPenalty: 1.1, presencePenalty: 0.5, frequencyPenalty: -0.5 })).toEqual(sampled);
    expect(() => engine.enqueue({ inputTokenIds: prompt, maxTokens: 1, temperature: -1 })).toThrow(/temperature/);
    expect(() => engine.enqueue({ inputTokenIds: prompt, maxTokens: 1, topP: 0 })).toThrow(/topP/);
    expect(() => engine.enqueue({ inputTokenIds: prompt, maxTokens: 1, topK: 1.5 })).toThrow(/topK/);
    expect(() => engine.enqueue({ inputTokenIds: prompt, maxTokens: 1, seed: -1 })).toThrow(/seed/);
    expect(() => engine.enqueue({ inputTokenIds: prompt, maxTokens: 1, temperature: 'hot' as unknown as number })).toThrow(/temperature/);
    engine.close();
  });

  it('refuses requests past its queue bound with a queue-full error', () => {
    const engine = manual({ maxQueueSize: 2 });
    engine.enqueue({ inputTokenIds: tokens(10), maxTokens: 2 });
    engine.enqueue({ inputTokenIds: tokens(10, 1), maxTokens: 2 });
    let err: unknown;
    try {
      engine.enqueue({ inputTokenIds: tokens(10, 2), maxTokens: 2 });
    } catch (e) {
      err = e;
    }
    expect(isQueueFull(err)).toBe(true);
    expect(String(err)).toMatch(/queue is full/);
    // An invalid request is not a full queue.
    let bad: unknown;
    try {
      engine.enqueue({ inputTokenIds: [], maxTokens: 2 });
    } catch (e) {
      bad = e;
    }
    expect(isQueueFull(bad)).toBe(false);
    engine.step(); // both admitted: room again
    expect(() => engine.enqueue({ inputTokenIds: tokens(10, 3), maxTokens: 2 })).not.toThrow();
    engine.close();
  });

  it('preempts under max-utilization and never under guaranteed-no-evict', () => {
    const load = (policy: EngineProfile['schedulerPolicy']) => {
      const engine = manual({ numBlocks: 24, schedulerPolicy: policy, enablePrefixCaching: false });
      const ids = Array.from({ length: 6 }, (_, i) =>
        engine.enqueue({ inputTokenIds: tokens(40, i * 100), maxTokens: 40, ignoreEos: true }));
      const out = runToEnd(engine, ids);
      const lengths = [...out.values()].map((r) => output(r).length);
      const snap = engine.snapshot();
      engine.close();
      return { lengths, preemptions: snap.preemptions, used: snap.usedBlocks };
    };
    const mu = load('max-utilization');
    const gne = load('guaranteed-no-evict');
    expect(mu.preemptions).toBeGreaterThan(0);
    expect(gne.preemptions).toBe(0);
    expect(mu.lengths).toEqual(Array(6).fill(40));
    expect(gne.lengths).toEqual(Array(6).fill(40));
    expect(mu.used).toBe(0);
    expect(gne.used).toBe(0);
  });

  it('honours end id, min tokens, ignore_eos and stop token sequences', () => {
    const engine = manual();
    const prompt = tokens(30);
    const free = [...runToEnd(engine, [engine.enqueue({ inputTokenIds: prompt, maxTokens: 600, endId: 2 })]).values()][0];
    const natural = output(free);
    expect(free.at(-1)!.finishReason).toBe('end-id');
    expect(natural.at(-1)).toBe(2);
    const ignored = [...runToEnd(engine, [engine.enqueue({ inputTokenIds: prompt, maxTokens: natural.length + 5, endId: 2, ignoreEos: true })]).values()][0];
    expect(output(ignored)).toHaveLength(natural.length + 5);
    expect(ignored.at(-1)!.finishReason).toBe('length');
    const longer = [...runToEnd(engine, [engine.enqueue({ inputTokenIds: prompt, maxTokens: 600, endId: 2, minTokens: natural.length + 3 })]).values()][0];
    expect(output(longer).length).toBe(natural.length + 4);
    const stopAt = natural.slice(2, 4);
    const stopped = [...runToEnd(engine, [engine.enqueue({ inputTokenIds: prompt, maxTokens: 600, stopTokenSequences: [stopAt] })]).values()][0];
    expect(stopped.at(-1)!.finishReason).toBe('stop-words');
    expect(output(stopped)).toEqual(natural.slice(0, 4));
    engine.close();
  });

  it('cancels waiting and running requests and frees their blocks', () => {
    const engine = manual({ maxBatchSize: 1 });
    const running = engine.enqueue({ inputTokenIds: tokens(50), maxTokens: 100, streaming: true });
    const waiting = engine.enqueue({ inputTokenIds: tokens(50, 7), maxTokens: 100 });
    engine.step();
    expect(engine.snapshot()).toMatchObject({ running: 1, waiting: 1 });
    expect(engine.cancel(running)).toBe(true);
    expect(engine.cancel(waiting)).toBe(true);
    expect(engine.cancel(12345)).toBe(false);
    const finals = engine.step();
    expect(finals.map((r) => [r.requestId, r.finishReason, r.isFinal])).toEqual([
      [running, 'cancelled', true], [waiting, 'cancelled', true],
    ]);
    expect(engine.snapshot()).toMatchObject({ running: 0, waiting: 0, usedBlocks: 0 });
    engine.close();
  });

  it('rejects requests it can never serve, with a message', () => {
    const engine = manual({ maxModelLen: 100, numBlocks: 4 });
    expect(() => engine.enqueue({ inputTokenIds: [], maxTokens: 1 })).toThrow(/no tokens/);
    expect(() => engine.enqueue({ inputTokenIds: tokens(100), maxTokens: 1 })).toThrow(/maximum context length/);
    expect(() => engine.enqueue({ inputTokenIds: tokens(90), maxTokens: 5 })).toThrow(/KV blocks/);
    engine.close();
    expect(() => engine.snapshot()).toThrow(/closed/);
  });

  it('runs in scaled real time and delivers responses in batches to the listener', async () => {
    const got: EngineResponse[] = [];
    let done!: () => void;
    const finished = new Promise<void>((resolve) => { done = resolve; });
    const engine = new Engine({ profile: base, timeScale: 20 }, (batch) => {
      const responses = responsesOf(batch);
      got.push(...responses);
      if (responses.some((r) => r.isFinal)) done();
    });
    const started = performance.now();
    engine.enqueue({ inputTokenIds: tokens(32), maxTokens: 10, streaming: true });
    await finished;
    const realMs = performance.now() - started;
    const final = got.at(-1)!;
    expect(output(got)).toHaveLength(10);
    // Model time runs 20× real time, never faster: an engine that ran unthrottled (virtual time)
    // would finish its model milliseconds in far less real time. The check holds on a loaded
    // machine too (a late event loop only makes the real time longer).
    const modelMs = final.timings!.finishMs - final.timings!.arrivalMs;
    expect(modelMs).toBeGreaterThan(0);
    expect(modelMs).toBeLessThanOrEqual(realMs * 20 * 1.05 + 1);
    engine.close();
  });
});

describe('engine model response batches', () => {
  it('makes each response when it is read, names its request without making it, and refuses reads after release', async () => {
    let held: ResponseBatch | undefined;
    const finished = new Promise<void>((resolve) => {
      const engine = new Engine({ profile: base, timeScale: 50 }, (batch) => {
        if (batch.length === 0 || !batch.at(0).isFinal) return;
        held = batch;
        engine.close();
        resolve();
      });
      engine.enqueue({ inputTokenIds: tokens(16), maxTokens: 3, streaming: false });
    });
    await finished;
    const batch = held!;
    expect(batch.length).toBe(1);
    const first = batch.at(0);
    expect(batch.requestIdAt(0)).toBe(first.requestId);
    expect(first.tokens).toHaveLength(3);
    // Each read is a fresh object: a consumer that keeps one owns it.
    expect(batch.at(0)).not.toBe(first);
    expect(batch.at(0)).toEqual(first);
    expect(() => batch.at(1)).toThrow(RangeError);
    expect(() => batch.at(-1)).toThrow(RangeError);
    expect(() => batch.at(0.5)).toThrow(RangeError);
    batch.release();
    batch.release();
    expect(batch.length).toBe(1);
    expect(() => batch.at(0)).toThrow(/released/);
    expect(first.tokens).toHaveLength(3);
  });
});

describe('engine model process lifetime', () => {
  it('keeps the process alive while requests are in flight, and lets it exit when idle', async () => {
    const { execFile } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const addon = fileURLToPath(new URL('../../native/build/Release/switchyard_engine.node', import.meta.url));
    // No timers, no sockets: only the engine's in-flight request may hold the event loop open.
    const script = `
      const { Engine } = require(${JSON.stringify(addon)});
      const profile = ${JSON.stringify({ ...base, stepBaseMs: 50 })};
      const e = new Engine({ profile, timeScale: 1 }, (batch) => {
        for (let i = 0; i < batch.length; i++) if (batch.at(i).isFinal) console.log('final', batch.at(i).tokens.length);
      });
      e.enqueue({ inputTokenIds: [1, 2, 3, 4], maxTokens: 4 });`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['-e', script], { timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
    expect(out.trim()).toBe('final 4');
  });
});
