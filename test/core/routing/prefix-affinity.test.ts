import { describe, expect, it } from 'vitest';
import { prefixAffinityFactory } from '../../../core/routing/policies/prefix-affinity.js';
import { prefixKeyOf, type RoutingRequest, type RoutingState } from '../../../core/routing/policy.js';
import { LatencyModels } from '../../../core/routing/latency-model.js';
import { candidate, runPolicyContract, routingState } from './policy-contract.js';

runPolicyContract(prefixAffinityFactory);

const system = 'You are a meticulous assistant. '.repeat(200); // ~6.4 KB shared system prompt
function req(system: string, question: string, id = 'r'): RoutingRequest {
  return { requestId: id, model: 'm', headers: {}, body: { messages: [{ role: 'system', content: system }, { role: 'user', content: question }] } };
}

/** The objective alone: a load bound no two-backend example here reaches (the bound has its own test). */
const UNBOUNDED = { load_bound: 100 };

/** Both backends learned: TTFT = 20 ms + 100 ms per 1k uncached tokens + 150 ms per request ahead. */
function teachBoth(state: RoutingState): void {
  for (const id of ['a', 'b']) {
    const m = state.latency.of(id);
    for (let i = 0; i < 40; i++) {
      const uncachedTokens = (i % 5) * 800;
      const ahead = i % 7;
      m.observeTtft({ uncachedTokens, ahead }, 20 + 0.1 * uncachedTokens + 150 * ahead);
    }
  }
}

describe('prefix-affinity', () => {
  it('sends a cold prompt where it is served soonest, not where the fewest requests wait behind a long prefill', () => {
    const state = routingState();
    const policy = prefixAffinityFactory.create(UNBOUNDED, { seed: 1, state });
    teachBoth(state);
    // a: one request, a 30k-token prompt still prefilling (predicted TTFT ≈ 3.7 s); b: eight
    // requests decoding, nothing to prefill (≈ 1.6 s). The 400 ms prefill is paid either way.
    state.latency.of('a').backlogTokens = 30_000;
    state.latency.of('a').prefilling = 1;
    const pool = [candidate('a', true, { inFlight: 1 }), candidate('b', true, { inFlight: 8 })];
    const d = policy.select(pool, req('You are a meticulous assistant. '.repeat(500), 'a cold question'))!;
    expect(d.backend.id).toBe('b');
    expect(d.predictedTtftMs).toBeLessThan(2000);
  });

  it('counts what is left of a long prefill, not its whole length: a nearly finished one beats one just begun', () => {
    let now = 0;
    const state: RoutingState = { ...routingState(), latency: new LatencyModels(() => now) };
    const policy = prefixAffinityFactory.create(UNBOUNDED, { seed: 1, state });
    teachBoth(state);
    // a: a 20k-token prompt sent 1.6 s ago (2 s of prefill, 0.4 s left); b: a 12k one sent 0.1 s
    // ago (1.1 s left). Whole, a's backlog would look the longer.
    state.latency.of('a').enqueued(20_000);
    now = 1_500;
    state.latency.of('b').enqueued(12_000);
    now = 1_600;
    const pool = [candidate('a', true, { inFlight: 1 }), candidate('b', true, { inFlight: 1 })];
    const d = policy.select(pool, req('You are a meticulous assistant. '.repeat(500), 'a cold question'))!;
    expect(d.backend.id).toBe('a');
  });

  it('follows a cached prefix (no latency model yet: threshold fallback)', () => {
    const state = routingState();
    const policy = prefixAffinityFactory.create({}, { seed: 1, state });
    const pool = ['a', 'b', 'c', 'd'].map((id) => candidate(id));
    const first = req(system, 'What is a KV cache?');
    state.prefixes.of('c').insert(prefixKeyOf(first, state.chunkBytes).hashes);
    const d = policy.select(pool, req(system, 'And what is paged attention?'));
    expect(d?.backend.id).toBe('c');
    expect(d?.reason).toMatch(/^prefix \d+\/\d+ blocks/);
  });

  it('sends a cold prefix to the same backend from independent replicas (rendezvous)', () => {
    const pool = ['a', 'b', 'c', 'd'].map((id) => candidate(id));
    const picks = [1, 2, 3].map((seed) => {
      const policy = prefixAffinityFactory.create({}, { seed, state: routingState() });
      return policy.select(pool, req(system, 'cold question'))!;
    });
    expect(new Set(picks.map((p) => p.backend.id)).size).toBe(1);
    expect(picks[0].reason).toMatch(/^cold: rendezvous/);
    // Different prefixes spread over the pool.
    const policy = prefixAffinityFactory.create({}, { seed: 1, state: routingState() });
    const spread = new Set(Array.from({ length: 40 }, (_, i) => policy.select(pool, req(`system prompt number ${i} `.repeat(40), 'q'))!.backend.id));
    expect(spread.size).toBe(4);
  });

  it('keeps a group on its prefix holder while the wait there costs less than the wait plus the cold prefill elsewhere', () => {
    const state = routingState();
    const policy = prefixAffinityFactory.create(UNBOUNDED, { seed: 1, state });
    teachBoth(state);
    const long = 'You are a meticulous assistant. '.repeat(500); // 16 KB ≈ 4,000 tokens: a 400 ms cold prefill
    const r = req(long, 'question');
    state.prefixes.of('a').insert(prefixKeyOf(r, state.chunkBytes).hashes);
    // Three ahead on the holder: its TTFT (~470 ms) is worse than the idle backend's (~420 ms), but
    // the idle one would also spend 400 ms of prefill the holder does not: the holder wins.
    const three = policy.select([candidate('a', true, { inFlight: 3 }), candidate('b', true, { inFlight: 0 })], req(long, 'question'));
    expect(three?.backend.id).toBe('a');
    expect(three?.kind).toBe('prefix');
    // Six ahead (~920 ms): waiting there now costs more than the cold prefill elsewhere.
    const six = policy.select([candidate('a', true, { inFlight: 6 }), candidate('b', true, { inFlight: 0 })], req(long, 'question'));
    expect(six?.backend.id).toBe('b');
    expect(six?.kind).toBe('spread');
  });

  it('leaves a saturated prefix holder when the latency model says waiting costs more than the cache saves', () => {
    const state = routingState();
    const policy = prefixAffinityFactory.create({}, { seed: 1, state });
    teachBoth(state);
    const r = req(system, 'question');
    state.prefixes.of('a').insert(prefixKeyOf(r, state.chunkBytes).hashes);
    const idleHolder = policy.select([candidate('a', true, { inFlight: 0 }), candidate('b', true, { inFlight: 0 })], req(system, 'question'));
    expect(idleHolder?.backend.id).toBe('a');
    expect(idleHolder?.reason).toMatch(/predicted ttft \d+ ms/);
    const busyHolder = policy.select([candidate('a', true, { inFlight: 12 }), candidate('b', true, { inFlight: 0 })], req(system, 'question'));
    expect(busyHolder?.backend.id).toBe('b');
    expect(busyHolder?.kind).toBe('spread');
  });

  it('counts a cold prefill once for the request and once for each request it holds up where it runs', () => {
    const state = routingState();
    const policy = prefixAffinityFactory.create(UNBOUNDED, { seed: 1, state });
    teachBoth(state);
    const long = 'You are a meticulous assistant. '.repeat(500); // ≈ 4,000 tokens: a 400 ms cold prefill
    const r = req(long, 'question');
    state.prefixes.of('a').insert(prefixKeyOf(r, state.chunkBytes).hashes);
    // Seven ahead on the holder (~1,070 ms). An idle backend serves it in ~420 ms plus its 400 ms
    // prefill (820): the request spreads.
    const idle = policy.select([candidate('a', true, { inFlight: 7 }), candidate('b', true, { inFlight: 0 })], r);
    expect(idle?.backend.id).toBe('b');
    expect(idle?.kind).toBe('spread');
    // One request there already: its TTFT is 570 ms, and the prefill delays that request too
    // (570 + 2 × 400 = 1,370): the holder keeps it. Counted once, the prefill (970) would have spread it.
    const busy = policy.select([candidate('a', true, { inFlight: 7 }), candidate('b', true, { inFlight: 1 })], r);
    expect(busy?.backend.id).toBe('a');
    expect(busy?.kind).toBe('prefix');
  });

  it('counts a request still waiting for its first token as load: arrivals that come together spread', () => {
    // Three clients whose answers ended together send their next prompts at once: with equal
    // in-flight counts everywhere, each lands where no prefill is pending yet.
    const state = routingState();
    const policy = prefixAffinityFactory.create({}, { seed: 1, state });
    const pool = ['a', 'b', 'c'].map((id) => candidate(id, true, { inFlight: 3 }));
    const picks = new Set<string>();
    for (let i = 0; i < 3; i++) {
      // One new prefix (rendezvous would send all three to one place), not in any index yet.
      const d = policy.select(pool, req(system, `question ${i}`))!;
      picks.add(d.backend.id);
      state.latency.of(d.backend.id).prefilling++; // the learner's count, until the first token
      pool.find((c) => c.backend.id === d.backend.id)!.signals.inFlight++;
    }
    expect(picks.size).toBe(3);
  });

  it('routes an 8k-token prompt with 100k blocks indexed (correctness; speed is bench/routing-decision)', () => {
    const state = routingState();
    const policy = prefixAffinityFactory.create({}, { seed: 1, state });
    for (let b = 0; b < 4; b++) {
      const index = state.prefixes.of(`b${b}`);
      index.capacity = 200_000;
      for (let k = 0; k < 25_000 / 128; k++) index.insert(Array.from({ length: 128 }, (_, i) => b * 1e9 + k * 1000 + i));
    }
    const long = req('tok '.repeat(8000), 'q');
    state.prefixes.of('b2').insert(prefixKeyOf(long, state.chunkBytes).hashes);
    expect(policy.select(['b0', 'b1', 'b2', 'b3'].map((id) => candidate(id)), req('tok '.repeat(8000), 'q'))?.backend.id).toBe('b2');
  });
  it('bounds loads: a holder past 1.5× its capacity-weighted share takes no more, however cheap it looks', () => {
    const state = routingState();
    const policy = prefixAffinityFactory.create({}, { seed: 1, state });
    teachBoth(state);
    const r = req(system, 'question');
    state.prefixes.of('a').insert(prefixKeyOf(r, state.chunkBytes).hashes);
    // 20 in flight against 16 elsewhere: 37 counting this one and one more per backend, a fair
    // share is 19.5 and the bound ceil(1.5 × 19.5) = 30 — the holder keeps it.
    const within = policy.select([candidate('a', true, { inFlight: 20 }, 100_000), candidate('b', true, { inFlight: 16 }, 100_000)], r);
    expect(within?.backend.id).toBe('a');
    // 30 against 6: the bound is 30 and 31 passes it: the other backend serves.
    const past = policy.select([candidate('a', true, { inFlight: 30 }, 100_000), candidate('b', true, { inFlight: 6 }, 100_000)], r);
    expect(past?.backend.id).toBe('b');
    expect(past?.reason).toMatch(/load bound/);
    // Held to its capacity: with a third of b's KV, a's share of 39 is 9.75 and its bound 15.
    const small = policy.select([candidate('a', true, { inFlight: 16 }, 50_000), candidate('b', true, { inFlight: 20 }, 150_000)], r);
    expect(small?.backend.id).toBe('b');
  });

  it('bounds only a sustained excess: a holder a burst made busy keeps its prefix, one that takes more than its share sheds', () => {
    const state = routingState();
    const policy = prefixAffinityFactory.create({}, { seed: 1, state });
    // Prefill dear, batching cheap: TTFT = 20 ms + 1 ms per uncached token + 5 ms per request
    // ahead, so the holder stays the cheaper choice at any load here and only the bound moves a request.
    for (const id of ['a', 'b']) {
      for (let i = 0; i < 40; i++) state.latency.of(id).observeTtft({ uncachedTokens: (i % 5) * 800, ahead: i % 7 }, 20 + (i % 5) * 800 + 5 * (i % 7));
    }
    const r = req(system, 'question');
    const other = req('An entirely different system prompt. '.repeat(40), 'question');
    state.prefixes.of('a').insert(prefixKeyOf(r, state.chunkBytes).hashes);
    state.prefixes.of('b').insert(prefixKeyOf(other, state.chunkBytes).hashes);
    const even = () => [candidate('a', true, { inFlight: 8 }, 100_000), candidate('b', true, { inFlight: 8 }, 100_000)];
    // 256 requests, half each way: a has taken its share.
    for (let i = 0; i < 128; i++) {
      expect(policy.select(even(), r)?.backend.id).toBe('a');
      expect(policy.select(even(), other)?.backend.id).toBe('b');
    }
    // A burst: 30 in flight against 6, past the bound of 30, yet a has not taken more than its share.
    const burst = policy.select([candidate('a', true, { inFlight: 30 }, 100_000), candidate('b', true, { inFlight: 6 }, 100_000)], r);
    expect(burst?.backend.id).toBe('a');
    expect(burst?.reason).not.toMatch(/load bound/);
    // Its prefix grows hot: a takes 200 requests in a row (within the bound each time).
    for (let i = 0; i < 200; i++) expect(policy.select(even(), r)?.backend.id).toBe('a');
    const sustained = policy.select([candidate('a', true, { inFlight: 30 }, 100_000), candidate('b', true, { inFlight: 6 }, 100_000)], r);
    expect(sustained?.backend.id).toBe('b');
    expect(sustained?.reason).toMatch(/load bound/);
  });
});
