import { describe, expect, it } from 'vitest';
import { ActiveBlocks } from '../../../../bench/league/peers/active-blocks.js';
import { DYNAMO_OPTIONS, dynamoKvFactory, dynamoProfile, type DynamoOptions } from '../../../../bench/league/peers/dynamo-kv.js';
import { numericOptions } from '../../../../bench/league/peers/options.js';
import { pipelinePolicy } from '../../../../core/routing/pipeline.js';
import { prefixKeyOf, type RoutingRequest } from '../../../../core/routing/policy.js';
import { candidate, routingState } from '../../../core/routing/policy-contract.js';
import { exactCandidate, tokenRequest } from './exact-fixtures.js';

const defaults = (o: Record<string, unknown> = {}): DynamoOptions => numericOptions(DYNAMO_OPTIONS, o);
/** `blocks` blocks no other request shares. */
const unique = (blocks: number) => ({ keys: [], blocksPerKey: 1, tailBlocks: blocks });

function policyWith(active: ActiveBlocks, opts = defaults(), seed = 1) {
  const state = routingState();
  return { state, policy: pipelinePolicy(dynamoProfile(opts, active, state, seed), { seed, state }) };
}

describe('dynamo-kv', () => {
  it("picks the least logit: Dynamo's example, logits 18, 10, 11 → the middle worker", () => {
    const active = new ActiveBlocks();
    active.place('w1', unique(10));
    active.place('w2', unique(5));
    active.place('w3', unique(9));
    const { policy } = policyWith(active);
    const r = tokenRequest(10); // ISL 160 tokens, 10 blocks of 16
    // prefill blocks (160 − cached)/16: 8, 5, 2; decode blocks 10, 5, 9 (one request in flight each).
    const pool = [exactCandidate('w1', r, 2, { inFlight: 1 }), exactCandidate('w2', r, 5, { inFlight: 1 }), exactCandidate('w3', r, 8, { inFlight: 1 })];
    const d = policy.select(pool, r);
    expect(d?.backend.id).toBe('w2');
    expect(d?.kind).toBe('prefix');
    expect(d?.reason).toBe('logit 10.0 = 1·5.0 prefill + 5.0 decode blocks, prefix 5/10 blocks (kv events)');
  });

  it('weighs prefill by overlap_score_weight', () => {
    const active = new ActiveBlocks();
    active.place('w1', unique(10));
    active.place('w3', unique(9));
    // Weight 0: load only; w3's 9 decode blocks beat w1's 10 whatever the cache.
    const r = tokenRequest(10);
    const { policy } = policyWith(active, defaults({ overlap_score_weight: 0 }));
    expect(policy.select([exactCandidate('w1', r, 9, { inFlight: 1 }), exactCandidate('w3', r, 0, { inFlight: 1 })], r)?.backend.id).toBe('w3');
  });

  it('breaks a tie toward the smaller tree', () => {
    const r = tokenRequest(10);
    for (let seed = 1; seed <= 5; seed++) {
      const { policy } = policyWith(new ActiveBlocks(), defaults(), seed);
      const d = policy.select([exactCandidate('big', r, 0, {}, 5000), exactCandidate('small', r, 0, {}, 10)], r);
      expect(d?.backend.id).toBe('small');
      expect(d?.kind).toBe('cold');
    }
  });

  it('counts the decode blocks of its own placements while they are in flight', () => {
    const { policy } = policyWith(new ActiveBlocks());
    const r = tokenRequest(10);
    const first = policy.select([exactCandidate('a', r, 0), exactCandidate('b', r, 0)], r)!.backend.id;
    const other = first === 'a' ? 'b' : 'a';
    // The first request is still running there: 10 decode blocks against none.
    const busy = (id: string) => exactCandidate(id, r, 0, { inFlight: id === first ? 1 : 0 });
    expect(policy.select([busy('a'), busy('b')], r)?.backend.id).toBe(other);
  });

  it('uses the approximate overlap where no KV events are live', () => {
    const { state, policy } = policyWith(new ActiveBlocks());
    const r: RoutingRequest = { requestId: 'r', model: 'm', headers: {}, body: { messages: [{ role: 'user', content: 'a long shared document. '.repeat(200) }] } };
    state.prefixes.of('holder').insert(prefixKeyOf(r, state.chunkBytes).hashes);
    const d = policy.select([candidate('other'), candidate('holder')], r);
    expect(d?.backend.id).toBe('holder');
    expect(d?.reason).toMatch(/^logit \d+\.\d = 1·\d+\.\d prefill \+ 0\.0 decode blocks, prefix 18\/18 blocks$/);
  });

  it('samples by exp(−(l − l_min)/((l_max − l_min)·T)) when the temperature is above 0', () => {
    const active = new ActiveBlocks();
    active.place('w1', unique(10));
    active.place('w2', unique(5));
    active.place('w3', unique(9));
    const { policy } = policyWith(active, defaults({ router_temperature: 1 }), 7);
    const r = tokenRequest(10);
    const pool = () => [exactCandidate('w1', r, 2, { inFlight: 1 }), exactCandidate('w2', r, 5, { inFlight: 1 }), exactCandidate('w3', r, 8, { inFlight: 1 })];
    const counts: Record<string, number> = { w1: 0, w2: 0, w3: 0 };
    for (let i = 0; i < 600; i++) counts[policy.select(pool(), r)!.backend.id]++;
    // Logits 18, 10, 11 at first; once a worker's last placement (its one in flight) is this
    // 10-block request they settle at 18, 15, 12: weights e^−1, e^−½, 1 — every worker is picked,
    // the costlier less often.
    expect(counts.w3).toBeGreaterThan(counts.w2);
    expect(counts.w2).toBeGreaterThan(counts.w1);
    expect(counts.w1).toBeGreaterThan(0);
  });

  it('validates its options by name', () => {
    expect(dynamoKvFactory.validate({ overlap_score_weight: 2, router_temperature: 0.5, block_size: 32 })).toEqual([]);
    expect(dynamoKvFactory.validate({ router_temperature: -1 })[0]).toMatch(/^router_temperature: expected a number ≥ 0/);
  });
});

describe('active blocks', () => {
  it('counts the distinct blocks of the last inFlight placements', () => {
    const active = new ActiveBlocks();
    active.place('a', { keys: [1, 2, 3], blocksPerKey: 1, tailBlocks: 1 });
    active.place('a', { keys: [1, 2, 4], blocksPerKey: 1, tailBlocks: 1 });
    active.place('a', { keys: [9], blocksPerKey: 4, tailBlocks: 0 });
    expect(active.active('a', 0)).toBe(0);
    expect(active.active('a', 1)).toBe(4);
    expect(active.active('a', 2)).toBe(4 + 3 + 1);
    expect(active.active('a', 3)).toBe(4 + 4 + 2); // keys 1, 2, 3, 4 once each
    expect(active.active('a', 1)).toBe(4); // the window slides back
    // Two more in flight than recorded: each counts as the mean recorded footprint, (4 + 4 + 4)/3.
    expect(active.active('a', 5)).toBe(10 + 2 * 4);
    expect(active.active('b', 3)).toBe(0);
  });

  it('forgets the oldest placements past its bound', () => {
    const active = new ActiveBlocks(2);
    for (let i = 0; i < 5; i++) active.place('a', unique(i + 1));
    expect(active.active('a', 2)).toBe(4 + 5);
    expect(active.active('a', 3)).toBe(4 + 5 + 4.5);
  });
});
