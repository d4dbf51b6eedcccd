import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../../core/metrics/gateway-metrics.js';
import { RoutingLearner } from '../../../core/routing/learner.js';
import { sizePrefixIndex } from '../../../core/routing/bytes-per-token.js';
import type { RoutingRequest } from '../../../core/routing/policy.js';
import type { Route } from '../../../core/routing/route-table.js';
import { candidate, routingState } from './policy-contract.js';

describe('routing learner: requests awaiting their first token', () => {
  it('counts a request and its uncached prompt against its backend until its first token, once', () => {
    const state = routingState();
    const learner = new RoutingLearner(state, new GatewayMetrics([]));
    const route = { model: 'm' } as Route;
    const request = (text: string): RoutingRequest => ({ requestId: text, model: 'm', headers: {}, body: { messages: [{ role: 'user', content: text }] } });
    const a = learner.onDecision(route, candidate('b'), request('a'.repeat(8000)), { backend: candidate('b').backend, reason: 'test' });
    expect(a.ahead).toBe(0);
    expect(state.latency.of('b').backlogTokens).toBeCloseTo(a.prefillTokens, 6);
    expect(state.latency.of('b').prefilling).toBe(1);
    expect(a.prefillTokens).toBeGreaterThan(1900); // ~8000 bytes at 4 bytes per token
    // A second prompt lands behind the first one's prefill: one ahead of it.
    const b = learner.onDecision(route, candidate('b'), request('b'.repeat(4000)), { backend: candidate('b').backend, reason: 'test' });
    expect(b.ahead).toBe(1);
    learner.prefilled(a);
    learner.prefilled(a); // first token, then the end of the answer: released once
    expect(state.latency.of('b').backlogTokens).toBeCloseTo(b.prefillTokens, 6);
    expect(state.latency.of('b').prefilling).toBe(1);
    learner.onOutcome(b, { ttftMs: 100 });
    expect(state.latency.of('b').backlogTokens).toBe(0);
    expect(state.latency.of('b').prefilling).toBe(0);
  });
});

describe('routing learner: cached tokens as the engine means them', () => {
  const route = { model: 'm' } as Route;
  const request = (text: string): RoutingRequest => ({ requestId: text, model: 'm', headers: {}, body: { messages: [{ role: 'user', content: text }] } });
  const usage = (cached?: number) => ({ prompt_tokens: 2000, completion_tokens: 5, ...(cached === undefined ? {} : { prompt_tokens_details: { cached_tokens: cached } }) });

  it('never trains the TTFT model on a guessed hit: an absent count is unknown until the engine has reported a non-zero one', () => {
    const state = routingState();
    const learner = new RoutingLearner(state, new GatewayMetrics([]));
    const prompt = 'x'.repeat(8000);
    learner.onOutcome(learner.onDecision(route, candidate('b'), request(prompt), { backend: candidate('b').backend, reason: 'test' }), { usage: usage(), ttftMs: 400 });
    const fitted = () => state.latency.of('b').coefficients().ttft.samples;
    // The first request had nothing in the index: no hit guessed, so it trains (uncached = the whole prompt).
    expect(fitted()).toBe(1);
    // The same prompt again: the index now expects a hit; the engine says nothing (vLLM omits a zero count,
    // and omits every count without --enable-prompt-tokens-details). Not trained.
    learner.onOutcome(learner.onDecision(route, candidate('b'), request(prompt), { backend: candidate('b').backend, reason: 'test' }), { usage: usage(), ttftMs: 390 });
    expect(fitted()).toBe(1);
    expect(learner.cachedTokenSource(candidate('b').backend).describe().source).toMatch(/^unknown/);
    // Once the engine reports a non-zero count, its absence means zero: trained on both.
    learner.onOutcome(learner.onDecision(route, candidate('b'), request(prompt), { backend: candidate('b').backend, reason: 'test' }), { usage: usage(1984), ttftMs: 40 });
    learner.onOutcome(learner.onDecision(route, candidate('b'), request(prompt), { backend: candidate('b').backend, reason: 'test' }), { usage: usage(), ttftMs: 395 });
    expect(fitted()).toBe(3);
    expect(learner.cachedTokenSource(candidate('b').backend).describe().source).toMatch(/^engine-reported/);
  });

  it('a backend configured `cached_tokens: reported` reads an absent count as 0 from the start; `unreported` never does', async () => {
    const { CachedTokenSource } = await import('../../../core/routing/cached-tokens.js');
    expect(new CachedTokenSource('reported').read(usage())).toBe(0);
    expect(new CachedTokenSource('unreported').read(usage())).toBeUndefined();
    expect(new CachedTokenSource('unreported').read(usage(12))).toBe(12);
    const learned = new CachedTokenSource();
    expect(learned.read(usage())).toBeUndefined();
    expect(learned.read(usage(0))).toBe(0); // an explicit zero is a report, but teaches nothing about absence
    expect(learned.read(usage())).toBeUndefined();
    expect(learned.read(usage(64))).toBe(64);
    expect(learned.read(usage())).toBe(0);
    expect(learned.read(undefined)).toBeUndefined(); // no usage at all: unknown
  });
});

describe('routing learner: routing precision', () => {
  it('compares the cached tokens predicted at decision time with those the engine reported', () => {
    const state = routingState();
    const metrics = new GatewayMetrics([]);
    const learner = new RoutingLearner(state, metrics);
    const route = { model: 'm' } as Route;
    const request = (text: string): RoutingRequest => ({ requestId: text, model: 'm', headers: {}, body: { messages: [{ role: 'user', content: text }] } });
    const prompt = 'y'.repeat(8192);
    const decide = () => learner.onDecision(route, candidate('b'), request(prompt), { backend: candidate('b').backend, reason: 'test' });
    const usage = (cached: number) => ({ prompt_tokens: 2048, completion_tokens: 1, prompt_tokens_details: { cached_tokens: cached } });
    learner.onOutcome(decide(), { usage: usage(0) }); // cold: predicted 0, reported 0
    const warm = decide();
    expect(warm.predictedCachedTokens).toBeGreaterThan(1500);
    learner.onOutcome(warm, { usage: usage(1024) }); // the engine held only half of what the index believed
    const p = learner.precisionOf('b').report();
    expect(p.answers).toBe(2);
    expect(p.recall).toBe(1);
    expect(p.precision).toBeCloseTo(1024 / warm.predictedCachedTokens, 6);
    // An answer without a reported count says nothing about precision.
    learner.onOutcome(decide(), { usage: { prompt_tokens: 2048, completion_tokens: 1 } });
    expect(learner.precisionOf('b').report().answers).toBe(3); // learned: absent means 0 after a non-zero report
  });
});

describe('routing learner: bytes per token learned from the engine', () => {
  it('turns matched chunks into tokens at the backend\'s own ratio once it has answers, not at the configured 4', () => {
    const state = routingState();
    const learner = new RoutingLearner(state, new GatewayMetrics([]));
    const route = { model: 'm' } as Route;
    // A prompt of 8192 bytes the engine counts as 1500 tokens (≈5.5 bytes per token, as Qwen's English).
    const request = (text: string): RoutingRequest => ({ requestId: text, model: 'm', headers: {}, body: { messages: [{ role: 'user', content: text }] } });
    const prompt = 'z'.repeat(8192);
    const decide = () => learner.onDecision(route, candidate('b'), request(prompt), { backend: candidate('b').backend, reason: 'test' });
    const usage = (cached: number) => ({ prompt_tokens: 1500, completion_tokens: 1, prompt_tokens_details: { cached_tokens: cached } });
    // Both indexes sized from the engines' KV at the configured 4, as the gateway does at start.
    sizePrefixIndex(state, 'b', 100_000, 4);
    sizePrefixIndex(state, 'c', 100_000, 4);
    learner.onOutcome(decide(), { usage: usage(0) });
    const early = decide();
    expect(early.predictedCachedTokens).toBeGreaterThan(2000); // the configured 4 bytes per token: an over-prediction
    learner.onOutcome(early, { usage: usage(1488) });
    for (let i = 0; i < 8; i++) learner.onOutcome(decide(), { usage: usage(1488) });
    const late = decide();
    const ratio = state.bytesPerToken.of('b').learned()!;
    // An answer whose prompt held an image (its data URL keyed as JSON: megabytes for 600 tokens) teaches nothing.
    state.bytesPerToken.of('b').observe(2_000_000, 600);
    expect(state.bytesPerToken.of('b').learned()).toBe(ratio);
    expect(ratio).toBeGreaterThan(5.4);
    expect(late.predictedCachedTokens).toBeLessThanOrEqual(1500);
    expect(late.predictedCachedTokens).toBeGreaterThan(1400);
    expect(state.bytesPerToken.of('c').learned()).toBeUndefined();
    // Once learned, b's index holds the engine's KV in chunks at the learned ratio, sized again at
    // once (at 4, a quarter of what the engine holds went unindexed); c, with no answers, is as it was.
    expect(state.prefixes.of('b').capacity).toBe(Math.floor((100_000 * ratio) / state.chunkBytes));
    expect(state.prefixes.of('c').capacity).toBe(Math.floor((100_000 * 4) / state.chunkBytes));
  });
});
