import { describe, expect, it } from 'vitest';
import { llmdApproximateFactory, llmdPreciseFactory } from '../../../../bench/league/peers/llmd.js';
import { llmdBlockHashes, PodBlockIndex } from '../../../../bench/league/peers/llmd-prefix.js';
import { kvCacheScorer, queueScorer } from '../../../../bench/league/peers/scoring.js';
import type { Features } from '../../../../core/routing/features.js';
import type { Selection } from '../../../../core/routing/pipeline.js';
import type { Candidate, RoutingRequest } from '../../../../core/routing/policy.js';
import { candidate, policyContext, request } from '../../../core/routing/policy-contract.js';
import { exactCandidate, tokenRequest } from './exact-fixtures.js';

const system = 'You are a meticulous assistant. '.repeat(64); // 2,048 characters: 32 blocks of 64
function req(content: string, question = 'q', extra: Record<string, unknown> = {}): RoutingRequest {
  return { requestId: 'r', model: 'm', headers: {}, body: { messages: [{ role: 'system', content }, { role: 'user', content: question }], ...extra } };
}
const sel = { request, notes: [] } as Selection;
const features = (cs: Candidate[]) => cs.map((c) => ({ c }) as Features);

describe('llm-d prefix blocks', () => {
  it('hashes the JSON of the messages in 64-character blocks, at most 256, chained from the model and cache salt', () => {
    const r = req(system);
    const json = JSON.stringify(r.body.messages);
    expect(llmdBlockHashes(r, 64, 256)).toHaveLength(Math.floor(json.length / 64));
    expect(llmdBlockHashes(req(system.repeat(20)), 64, 256)).toHaveLength(256);
    const a = llmdBlockHashes(r, 64, 256);
    const b = llmdBlockHashes(req(system, 'another question'), 64, 256);
    expect(b.slice(0, 30)).toEqual(a.slice(0, 30));
    expect(llmdBlockHashes({ ...r, model: 'other' }, 64, 256)[0]).not.toBe(a[0]);
    expect(llmdBlockHashes(req(system, 'q', { cache_salt: 's' }), 64, 256)[0]).not.toBe(a[0]);
  });

  it('keeps a per-pod LRU of block hashes', () => {
    const index = new PodBlockIndex(3);
    index.add('p', [1, 2, 3]);
    index.add('p', [4]);
    expect(index.match('p', [1, 2, 3])).toBe(0); // 1 was the oldest
    expect(index.match('p', [2, 3, 4])).toBe(3);
    expect(index.match('q', [2])).toBe(0);
  });
});

describe('llm-d scorers', () => {
  it('queue: (maxQ − q)/(maxQ − minQ), 1 for all when equal, 0 for an engine that has not reported', () => {
    const cs = [candidate('a', true, { waiting: 0 }), candidate('b', true, { waiting: 5 }), candidate('c', true, { waiting: 10 }), candidate('d')];
    expect(queueScorer.score(features(cs), sel)).toEqual([1, 0.5, 0, 0]);
    expect(queueScorer.score(features([candidate('a', true, { waiting: 3 }), candidate('b', true, { waiting: 3 })]), sel)).toEqual([1, 1]);
  });

  it('kv-cache utilization: 1 − usage', () => {
    expect(kvCacheScorer.score(features([candidate('a', true, { kvUsage: 0.25 }), candidate('b')]), sel)).toEqual([0.75, 1]);
  });
});

describe('llmd-approximate', () => {
  /** A policy that has sent `system` to `a` (the only healthy pod then). */
  function warmed() {
    const policy = llmdApproximateFactory.create({}, policyContext(1));
    expect(policy.select([candidate('a'), candidate('b', false)], req(system))?.backend.id).toBe('a');
    return policy;
  }

  it('weighs prefix 3, queue 2, kv-cache 2, and the highest score wins', () => {
    const policy = warmed();
    // a: 3·1 + 2·0 + 2·0.5 = 4.0; b: 3·0 + 2·1 + 2·0.9 = 3.8
    const d = policy.select([candidate('a', true, { waiting: 4, kvUsage: 0.5 }), candidate('b', true, { waiting: 0, kvUsage: 0.1 })], req(system));
    expect(d?.backend.id).toBe('a');
    expect(d?.kind).toBe('prefix');
    expect(d?.reason).toBe('max score: score 4.00 (prefix 1.00, queue 0.00, kv-cache 0.50)');
    // a: 3 + 0 + 2·0.2 = 3.4 < b's 3.8
    const e = policy.select([candidate('a', true, { waiting: 4, kvUsage: 0.8 }), candidate('b', true, { waiting: 0, kvUsage: 0.1 })], req(system));
    expect(e?.backend.id).toBe('b');
    expect(e?.reason).toBe('max score: score 3.80 (prefix 0.00, queue 1.00, kv-cache 0.90)');
  });

  it('scores consecutive leading blocks held ÷ the request\'s blocks', () => {
    const policy = warmed();
    const longer = req(system, 'x'.repeat(2100)); // ~32 shared blocks of ~66
    const d = policy.select([candidate('a', true, { waiting: 0 }), candidate('b', true, { waiting: 0 })], longer);
    const prefix = Number(/prefix (\d\.\d+)/.exec(d!.reason)![1]);
    const total = llmdBlockHashes(longer, 64, 256).length;
    expect(prefix).toBeCloseTo(Math.floor(JSON.stringify([{ role: 'system', content: system }]).length / 64) / total, 1);
    expect(prefix).toBeGreaterThan(0.4);
    expect(prefix).toBeLessThan(0.6);
  });

  it('writes the blocks under the chosen pod after the pick', () => {
    const policy = llmdApproximateFactory.create({}, policyContext(1));
    const equal = () => [candidate('a', true, { waiting: 0 }), candidate('b', true, { waiting: 0 })];
    const first = policy.select(equal(), req(system))!.backend.id;
    for (let i = 0; i < 10; i++) expect(policy.select(equal(), req(system, `q${i}`))?.backend.id).toBe(first);
  });
});

describe('llmd-precise', () => {
  it('weighs the KV-event prefix 2, kv-cache 1, queue 1', () => {
    const policy = llmdPreciseFactory.create({}, policyContext(1));
    const r = tokenRequest(10);
    // a holds 8 of 10 blocks: 2·0.8 + 1·0.5 + 1·1 = 3.1; b: 0 + 1·0.5 + 1·1 = 1.5
    const d = policy.select([exactCandidate('a', r, 8, { waiting: 0, kvUsage: 0.5 }), exactCandidate('b', r, 0, { waiting: 0, kvUsage: 0.5 })], r);
    expect(d?.backend.id).toBe('a');
    expect(d?.reason).toBe('max score: score 3.10 (precise-prefix 0.80, kv-cache 0.50, queue 1.00)');
    // a: 1.6 + 0.1 + 0 = 1.7; b: 0 + 1 + 1 = 2
    const e = policy.select([exactCandidate('a', r, 8, { waiting: 9, kvUsage: 0.9 }), exactCandidate('b', r, 0, { waiting: 1, kvUsage: 0 })], r);
    expect(e?.backend.id).toBe('b');
  });

  it('scores 0 where no KV events are live', () => {
    const policy = llmdPreciseFactory.create({}, policyContext(1));
    const r = tokenRequest(10);
    const held = exactCandidate('a', r, 10, { waiting: 0 });
    const a = { ...held, backend: { ...held.backend, kvCache: { ...held.backend.kvCache!, live: () => false } } };
    const d = policy.select([a, candidate('b', true, { waiting: 0, kvUsage: 0.5 })], r);
    expect(d?.reason).toMatch(/precise-prefix 0\.00/);
    expect(d?.backend.id).toBe('a'); // kv-cache 1 vs 0.5
  });
});
