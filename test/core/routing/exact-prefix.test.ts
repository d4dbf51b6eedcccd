import { describe, expect, it } from 'vitest';
import type { KvCacheView } from '../../../core/plugin/types.js';
import { exactMatch, RequestTokens, Speculation } from '../../../core/routing/exact-prefix.js';
import { KvTracker } from '../../../core/routing/kv-tracker.js';
import { TrackedKvCache } from '../../../core/routing/kv-cache-view.js';
import { GatewayMetrics } from '../../../core/metrics/gateway-metrics.js';
import { RoutingLearner } from '../../../core/routing/learner.js';
import { prefixAffinityFactory } from '../../../core/routing/policies/prefix-affinity.js';
import type { Candidate, RoutingRequest } from '../../../core/routing/policy.js';
import type { Route } from '../../../core/routing/route-table.js';
import { candidate, routingState } from './policy-contract.js';

/** A KV view over a tracker fed engine events whose hashes are not Switchyard's (strings here). */
function viewOf(tracker: KvTracker, live = () => true): KvCacheView {
  return { get blockSize() { return tracker.blockSize; }, live, holds: (k) => tracker.holds(k), describe: () => ({}) };
}

/** Store `tokens`' full blocks in a tracker as an engine would announce them (foreign hashes). */
function engineStores(tracker: KvTracker, tokens: number[], blockSize: number, salt: string): void {
  const blocks = [];
  for (let b = 0; b + blockSize <= tokens.length; b += blockSize) blocks.push({ hash: `${salt}-${b}`, tokens: tokens.slice(b, b + blockSize) });
  tracker.apply([{ type: 'stored', parentHash: null, blocks }]);
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe('exact prefix matching', () => {
  it('counts the leading blocks the engine holds, whatever its hash, and stops at the first it does not', () => {
    const tracker = new KvTracker({ blockSize: 16 });
    engineStores(tracker, range(64), 16, 'sha256');
    const view = viewOf(tracker);
    const spec = new Speculation();
    expect(exactMatch(view, spec, new RequestTokens(Int32Array.from(range(100))))).toMatchObject({ tokens: 64, blocks: 4, totalBlocks: 6, speculativeBlocks: 0 });
    // Same first block, different second: one block.
    expect(exactMatch(view, spec, new RequestTokens(Int32Array.from([...range(16), ...range(48, 1000)])))?.tokens).toBe(16);
    // The engine removes block 2 (by its own hash): the match ends before it.
    tracker.apply([{ type: 'removed', hashes: ['sha256-32'] }]);
    expect(exactMatch(view, spec, new RequestTokens(Int32Array.from(range(100))))?.tokens).toBe(32);
  });

  it('never predicts the last token as cached: an engine always computes it', () => {
    const tracker = new KvTracker({ blockSize: 16 });
    engineStores(tracker, range(64), 16, 'e');
    // The very prompt the engine holds, 4 full blocks: the last block is prefilled again.
    expect(exactMatch(viewOf(tracker), new Speculation(), new RequestTokens(Int32Array.from(range(64))))?.tokens).toBe(48);
    expect(exactMatch(viewOf(tracker), new Speculation(), new RequestTokens(Int32Array.from(range(65))))?.tokens).toBe(64);
  });

  it('is not exact while the events are not flowing, or before the block size is known', () => {
    const tracker = new KvTracker();
    const spec = new Speculation();
    const tokens = new RequestTokens(Int32Array.from(range(64)));
    expect(exactMatch(viewOf(tracker), spec, tokens)).toBeUndefined();
    tracker.learnBlockSize(16);
    expect(exactMatch(viewOf(tracker), spec, tokens)).toBeDefined();
    expect(exactMatch(viewOf(tracker, () => false), spec, tokens)).toBeUndefined();
  });

  it('speculates a placement until it lapses (the engine publishes stored only after prefill)', () => {
    let now = 1000;
    const tracker = new KvTracker({ blockSize: 16 });
    const spec = new Speculation(2000, 1000, () => now);
    const tokens = new RequestTokens(Int32Array.from(range(70)));
    spec.record(tokens.keys(16));
    expect(exactMatch(viewOf(tracker), spec, tokens)).toMatchObject({ tokens: 64, speculativeBlocks: 4 });
    now += 2001;
    expect(exactMatch(viewOf(tracker), spec, tokens)?.tokens).toBe(0);
  });

  it('says how many leading blocks the events confirm, before the first speculative one', () => {
    const tracker = new KvTracker({ blockSize: 16 });
    engineStores(tracker, range(48), 16, 'sha256');
    const spec = new Speculation();
    const tokens = new RequestTokens([Int32Array.from(range(40)), Int32Array.from(range(60, 40))]);
    expect(tokens.length).toBe(100);
    expect(Array.from(tokens.ids)).toEqual(range(100));
    spec.record(tokens.keys(16).slice(3));
    expect(exactMatch(viewOf(tracker), spec, tokens)).toMatchObject({ tokens: 96, blocks: 6, confirmedBlocks: 3, speculativeBlocks: 3 });
  });

  it('bounds the speculation', () => {
    const spec = new Speculation(60_000, 100);
    for (let i = 0; i < 50; i++) spec.record(range(10, i * 10));
    expect(spec.size).toBeLessThanOrEqual(100);
  });
});

describe('prefix affinity on exact candidates', () => {
  it('follows the engine that holds the prompt per its events, says so, and speculates where it sent it', () => {
    const state = routingState();
    const policy = prefixAffinityFactory.create({}, { seed: 1, state });
    const trackers = { a: new KvTracker({ blockSize: 16 }), b: new KvTracker({ blockSize: 16 }) };
    const pool: Candidate[] = (['a', 'b'] as const).map((id) => {
      const c = candidate(id);
      Object.assign(c.backend, { kvCache: viewOf(trackers[id]) });
      return c;
    });
    const prompt = range(200);
    engineStores(trackers.b, prompt, 16, 'xx');
    const request: RoutingRequest = { requestId: 'r', model: 'm', headers: {}, body: { messages: [{ role: 'user', content: 'hi' }] }, tokens: new RequestTokens(Int32Array.from(prompt)) };
    const decision = policy.select(pool, request)!;
    expect(decision.backend.id).toBe('b');
    expect(decision.reason).toMatch(/prefix 12\/12 blocks \(kv events\)/);
    // The learner predicts exactly that many cached tokens and records the placement.
    const learner = new RoutingLearner(state, new GatewayMetrics([]));
    const record = learner.onDecision({ model: 'm' } as Route, pool[1], request, decision);
    expect(record.predictedCachedTokens).toBe(192);
    // A new prompt sent to a: speculated there from dispatch, before any event (renewed at its first token).
    const fresh: RoutingRequest = { ...request, requestId: 's', tokens: new RequestTokens(Int32Array.from(range(70, 5000))) };
    const placed = learner.onDecision({ model: 'm' } as Route, pool[0], fresh, { backend: pool[0].backend, reason: 'test' });
    expect(exactMatch(pool[0].backend.kvCache, state.speculation.of('a'), fresh.tokens)?.tokens).toBe(64);
    learner.prefilled(placed, true);
    expect(exactMatch(pool[0].backend.kvCache, state.speculation.of('a'), fresh.tokens)?.tokens).toBe(64);
  });

  it('speculates only past what the events confirm', () => {
    const state = routingState();
    const policy = prefixAffinityFactory.create({}, { seed: 1, state });
    const tracker = new KvTracker({ blockSize: 16 });
    const c = candidate('a');
    Object.assign(c.backend, { kvCache: viewOf(tracker) });
    // The engine holds a 160-token system prompt; the request adds 80 tokens of question.
    engineStores(tracker, range(160), 16, 'sha');
    const tokens = new RequestTokens([Int32Array.from(range(160)), Int32Array.from(range(80, 9000))]);
    const request: RoutingRequest = { requestId: 'r', model: 'm', headers: {}, body: { messages: [{ role: 'user', content: 'x'.repeat(2000) }] }, tokens };
    const decision = policy.select([c], request)!;
    expect(decision.features?.confirmedBlocks).toBe(10);
    const learner = new RoutingLearner(state, new GatewayMetrics([]));
    const record = learner.onDecision({ model: 'm' } as Route, c, request, decision);
    expect(record.placedKeys).toEqual(tokens.keys(16).slice(10));
    expect(state.speculation.of('a').size).toBe(5);
    // The next request of the group matches the confirmed blocks and the speculated tail.
    expect(exactMatch(c.backend.kvCache, state.speculation.of('a'), tokens)).toMatchObject({ blocks: 14, confirmedBlocks: 10, speculativeBlocks: 4 });
  });
});

/** One backend `a` whose engine publishes KV events (block size 16), and a learner over it. */
function exactBackend() {
  const state = routingState();
  const tracker = new KvTracker({ blockSize: 16 });
  const c = candidate('a');
  Object.assign(c.backend, { kvCache: new TrackedKvCache(tracker) });
  return { state, tracker, c, learner: new RoutingLearner(state, new GatewayMetrics([])) };
}

describe('speculation against the engine\'s removals', () => {
  it('a placement the events confirmed and then removed is not predicted, within its TTL; one not yet stored still is', () => {
    const { state, tracker, c, learner } = exactBackend();
    const prompt = range(100, 7000);
    const request: RoutingRequest = { requestId: 'r', model: 'm', headers: {}, body: {}, tokens: new RequestTokens(Int32Array.from(prompt)) };
    const record = learner.onDecision({ model: 'm' } as Route, c, request, { backend: c.backend, reason: 'test' });
    const predicted = () => exactMatch(c.backend.kvCache, state.speculation.of('a'), request.tokens)?.tokens;
    // Placed, not yet stored: speculated.
    expect(predicted()).toBe(96);
    // Prefilled and stored: confirmed by the events.
    const blocks = range(6).map((b) => ({ hash: `h${b}`, tokens: prompt.slice(b * 16, b * 16 + 16) }));
    tracker.apply([{ type: 'stored', parentHash: null, blocks }]);
    expect(predicted()).toBe(96);
    // Evicted (the last three blocks): the rest of the prompt is cached, those blocks are not…
    tracker.apply([{ type: 'removed', hashes: ['h3', 'h4', 'h5'] }]);
    expect(predicted()).toBe(48);
    // …and the first token, reaching the gateway after the eviction's event, does not bring them back.
    learner.prefilled(record, true);
    expect(predicted()).toBe(48);
    // A second request's tail placed after the removal is speculated again, as it should be.
    const again = learner.onDecision({ model: 'm' } as Route, c, request, { backend: c.backend, reason: 'test' });
    expect(again.placedKeys?.length).toBe(3);
    expect(predicted()).toBe(96);
  });
});

describe('precision under churn', () => {
  it('counts the predicted tokens whose blocks the engine evicted between the decision and the first token', () => {
    const { tracker, c, learner } = exactBackend();
    const prompt = range(100, 3000);
    tracker.apply([{ type: 'stored', parentHash: null, blocks: range(6).map((b) => ({ hash: `e${b}`, tokens: prompt.slice(b * 16, b * 16 + 16) })) }]);
    const request: RoutingRequest = { requestId: 'r', model: 'm', headers: {}, body: {}, tokens: new RequestTokens(Int32Array.from(prompt)) };
    // Evicted before the decision: the index already knows, nothing is predicted for it.
    tracker.apply([{ type: 'removed', hashes: ['e5'] }]);
    const record = learner.onDecision({ model: 'm' } as Route, c, request, { backend: c.backend, reason: 'test' });
    expect(record.predictedCachedTokens).toBe(80);
    // Evicted after it, before the request ran: the engine reports 32 cached tokens of the 80.
    tracker.apply([{ type: 'removed', hashes: ['e2', 'e3', 'e4'] }]);
    learner.onOutcome(record, { usage: { prompt_tokens: 100, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 32 } } });
    expect(learner.precisionOf('a').report()).toMatchObject({ predicted_tokens: 80, reported_tokens: 32, evicted_after_decision_tokens: 48, precision: 0.4 });
  });
});

describe('blocks keyed by more than their tokens', () => {
  it('a LoRA or cache-salted chain never matches a plain prompt of the same tokens', async () => {
    const { trackerEvents } = await import('../../../plugins/vllm/kv-events.js');
    const tracker = new KvTracker({ blockSize: 16 });
    const tokens = range(64);
    const blocks = [0, 16, 32, 48].map((b) => ({ hash: BigInt(b + 1), tokens: tokens.slice(b, b + 16) }));
    tracker.apply(trackerEvents(0, [{ type: 'stored', parentHash: null, blocks, lora: 'sql-adapter' }]));
    expect(tracker.blocks).toBe(4);
    expect(exactMatch(viewOf(tracker), new Speculation(), new RequestTokens(Int32Array.from(range(80))))?.tokens).toBe(0);
    // The same tokens stored without extra keys do match.
    tracker.apply(trackerEvents(0, [{ type: 'stored', parentHash: null, blocks: blocks.map((b) => ({ ...b, hash: b.hash + 100n })), lora: null, extraKeys: [null, null, null, null] }]));
    expect(exactMatch(viewOf(tracker), new Speculation(), new RequestTokens(Int32Array.from(range(80))))?.tokens).toBe(64);
  });

  it('a cache_salt keys the first block as vLLM does: a salted request matches blocks of its own salt only', async () => {
    const { trackerEvents } = await import('../../../plugins/vllm/kv-events.js');
    const tracker = new KvTracker({ blockSize: 16 });
    const view: KvCacheView = { ...viewOf(tracker), keysCacheSalt: true };
    const tokens = range(64);
    // vLLM publishes each block's extra keys; a cache_salt is among the first block's only.
    const stored = (salt: string | null, base: bigint) => trackerEvents(0, [{
      type: 'stored', parentHash: null, lora: null,
      blocks: [0, 16, 32, 48].map((b) => ({ hash: base + BigInt(b), tokens: tokens.slice(b, b + 16) })),
      extraKeys: [salt === null ? null : [salt], null, null, null],
    }]);
    tracker.apply(stored('tenant-a', 1000n));
    const request = (salt?: string) => new RequestTokens(Int32Array.from(range(80)), salt);
    expect(exactMatch(view, new Speculation(), request('tenant-a'))?.tokens).toBe(64);
    expect(exactMatch(view, new Speculation(), request('tenant-b'))?.tokens).toBe(0);
    expect(exactMatch(view, new Speculation(), request())?.tokens).toBe(0);
    tracker.apply(stored(null, 2000n));
    expect(exactMatch(view, new Speculation(), request())?.tokens).toBe(64);
    // Removing the salted chain leaves the plain one.
    tracker.apply(trackerEvents(0, [{ type: 'removed', hashes: [1000n, 1016n, 1032n, 1048n] }]));
    expect(exactMatch(view, new Speculation(), request('tenant-a'))?.tokens).toBe(0);
    expect(exactMatch(view, new Speculation(), request())?.tokens).toBe(64);
    // An engine whose events show no salts is not matched exactly for a salted request.
    expect(exactMatch(viewOf(tracker), new Speculation(), request('tenant-a'))).toBeUndefined();
  });

  it('requests with a cache_salt are keyed by it; requests with non-text inputs are not tokenized for exact matching', async () => {
    const { tokenizeForRouting } = await import('../../../core/server/request-tokens.js');
    const { TokenizerPool } = await import('../../../core/tokenizer/pool.js');
    const pool = new TokenizerPool({ threads: 0 });
    try {
      const route = { tokenizer: pool } as unknown as Route;
      const text = [{ role: 'user', content: 'hello there, '.repeat(100) }];
      const plain = await tokenizeForRouting(route, { messages: text }, 256);
      const salted = await tokenizeForRouting(route, { messages: text, cache_salt: 'tenant-a' }, 256);
      expect(salted?.tokens.cacheSalt).toBe('tenant-a');
      expect(Array.from(salted!.tokens.ids)).toEqual(Array.from(plain!.tokens.ids));
      expect(salted!.tokens.keys(16)[0]).not.toBe(plain!.tokens.keys(16)[0]);
      // The approximate key is salted too: salted prompts never share chunks with plain ones.
      expect(salted!.prefix.hashes[0]).not.toBe(plain!.prefix.hashes[0]);
      expect(await tokenizeForRouting(route, { messages: text, cache_salt: 42 }, 256)).toBeUndefined();
      expect(await tokenizeForRouting(route, { messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:,' } }] }] }, 256)).toBeUndefined();
    } finally {
      await pool.close();
    }
  });
});
