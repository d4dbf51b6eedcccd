import { describe, expect, it } from 'vitest';
import { routingText, sglangCacheAwareFactory } from '../../../../bench/league/peers/sglang-cache-aware.js';
import type { RoutingPolicy, RoutingRequest } from '../../../../core/routing/policy.js';
import { candidate, policyContext } from '../../../core/routing/policy-contract.js';

const system = 'You are a meticulous assistant who answers in full sentences. '.repeat(40); // ~2.5 K characters
function req(content: string, question = 'What is a KV cache?', model = 'm'): RoutingRequest {
  return { requestId: 'r', model, headers: {}, body: { messages: [{ role: 'system', content }, { role: 'user', content: question }] } };
}
function pool(loads: Record<string, number>) {
  return Object.entries(loads).map(([id, inFlight]) => candidate(id, true, { inFlight }));
}
/** A policy whose tree holds `system` under `holder` (placed as a miss to the only idle worker). */
function withHolder(holder: string, opts: Record<string, unknown> = {}): RoutingPolicy {
  const policy = sglangCacheAwareFactory.create(opts, policyContext(1));
  const first = policy.select(pool({ a: 5, b: 5, c: 5, [holder]: 0 }), req(system));
  expect(first?.backend.id).toBe(holder);
  expect(first?.kind).toBe('cold');
  return policy;
}

describe('sglang-cache-aware', () => {
  it('routes on the message contents joined with a space, as SGLang extracts them', () => {
    const body = { messages: [
      { role: 'system', content: 'sys' },
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'x' } }, { type: 'text', text: 'here' }] },
      { role: 'assistant', content: 'ok', reasoning_content: 'hmm' },
      { role: 'assistant', content: null },
      { role: 'tool', content: 'result' },
    ] };
    expect(routingText(body)).toBe('sys look here ok hmm result');
    expect(routingText({ prompt: ['a', 'b'] })).toBe('a b');
  });

  it('follows a match above 30% of the text to the worker that holds it', () => {
    const policy = withHolder('b');
    const d = policy.select(pool({ a: 0, b: 20, c: 0 }), req(system, 'And paged attention?'));
    expect(d?.backend.id).toBe('b');
    expect(d?.kind).toBe('prefix');
    expect(d?.reason).toMatch(/^prefix \d+\/\d+ chars \(match rate 0\.9\d\)/);
  });

  it('sends a match of 30% or less to the least-loaded worker', () => {
    const policy = withHolder('b');
    // The shared text is under 30% of this request's.
    const d = policy.select(pool({ a: 3, b: 0, c: 1 }), req(system.slice(0, 600), 'x'.repeat(2000)));
    expect(d?.backend.id).toBe('b'); // least loaded happens to be the holder
    const e = policy.select(pool({ a: 3, b: 4, c: 1 }), req(system.slice(0, 600), 'y'.repeat(2000)));
    expect(e?.backend.id).toBe('c');
    expect(e?.kind).toBe('cold');
    expect(e?.reason).toMatch(/^miss: match rate 0\.2\d, least loaded \(1 in flight\)/);
  });

  it('balances to the least loaded once max − min > 64 and max > 1.5 · min', () => {
    const policy = withHolder('a');
    const d = policy.select(pool({ a: 100, b: 30, c: 40 }), req(system));
    expect(d?.backend.id).toBe('b');
    expect(d?.kind).toBe('load');
    expect(d?.reason).toBe('load: imbalance 100 vs 30 in flight');
  });

  it('keeps following the match while either balance threshold holds', () => {
    const policy = withHolder('a');
    // max − min = 64: not above the absolute threshold.
    expect(policy.select(pool({ a: 94, b: 30 }), req(system))?.backend.id).toBe('a');
    // max − min = 90 > 64, but 300 ≤ 1.5 · 210.
    expect(policy.select(pool({ a: 300, b: 210 }), req(system))?.backend.id).toBe('a');
  });

  it('counts the requests it has in flight, not the engine\'s queue', () => {
    const policy = sglangCacheAwareFactory.create({}, policyContext(1));
    const d = policy.select([candidate('a', true, { inFlight: 2, waiting: 0 }), candidate('b', true, { inFlight: 1, waiting: 500 })], req(system));
    expect(d?.backend.id).toBe('b');
  });

  it('inserts the text under the chosen worker in every branch, balance included', () => {
    const policy = withHolder('a');
    expect(policy.select(pool({ a: 100, b: 0 }), req(system, 'Q1'))?.kind).toBe('load');
    // Both now hold the system prompt; b's match of "Q1" is the longer.
    const d = policy.select(pool({ a: 0, b: 0 }), req(system, 'Q1'));
    expect(d?.backend.id).toBe('b');
  });

  it('keeps one tree per model', () => {
    const policy = withHolder('a');
    const d = policy.select(pool({ a: 1, b: 0 }), req(system, 'What is a KV cache?', 'other-model'));
    expect(d?.backend.id).toBe('b');
    expect(d?.kind).toBe('cold');
  });

  it('evicts past max_tree_size: an evicted prefix is a miss again', () => {
    const policy = withHolder('a', { max_tree_size: 3000, eviction_interval_secs: 0 });
    for (let i = 0; i < 3; i++) policy.select(pool({ a: 0, b: 1 }), req(`${i} other system prompt `.repeat(100)));
    const d = policy.select(pool({ a: 1, b: 0 }), req(system));
    expect(d?.backend.id).toBe('b');
    expect(d?.kind).toBe('cold');
  });

  it('with static loads, the default follows similar short prompts to one worker (as the original does)', () => {
    const policy = sglangCacheAwareFactory.create({}, policyContext(3));
    const p = pool({ a: 0, b: 0, c: 0, d: 0 });
    const seen = new Set(Array.from({ length: 50 }, (_, i) => policy.select(p, req('', `question ${i}`))!.backend.id));
    expect(seen.size).toBe(1);
  });
});
