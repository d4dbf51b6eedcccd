/**
 * The contract every routing policy passes (run by one test file per policy): it never picks an
 * unhealthy backend, handles an empty pool, spreads over healthy backends, and is deterministic
 * under a fixed seed.
 */
import { Speculations } from '../../../core/routing/exact-prefix.js';
import { BytesPerToken } from '../../../core/routing/bytes-per-token.js';
import { describe, expect, it } from 'vitest';
import type { Backend, LoadSignals } from '../../../core/plugin/types.js';
import { LatencyModels } from '../../../core/routing/latency-model.js';
import { PrefixIndexes } from '../../../core/routing/prefix-index.js';
import type { Candidate, PolicyContext, PolicyFactory, RoutingRequest, RoutingState } from '../../../core/routing/policy.js';

export function routingState(chunkBytes = 256): RoutingState {
  return { prefixes: new PrefixIndexes(), latency: new LatencyModels(), speculation: new Speculations(), chunkBytes, bytesPerToken: BytesPerToken.perBackend() };
}

export function policyContext(seed: number): PolicyContext {
  return { seed, state: routingState() };
}

/** A backend for routing tests: it is never dispatched to, only chosen. */
export function fakeBackend(id: string): Backend {
  const unused = () => { throw new Error('not dispatched in routing tests'); };
  return {
    id, type: 'test', engine: 'test', simulated: true, labels: {}, capabilities: { embeddings: false, kvEvents: false },
    models: () => ['m'], start: async () => {}, dispatch: unused, parseError: () => ({ message: '' }),
    signals: () => ({ inFlight: 0, updatedAt: 0 }), health: () => ({ status: 'healthy', since: 0 }),
    close: async () => {},
  };
}

export function candidate(id: string, healthy = true, signals: Partial<LoadSignals> = {}, kvCapacityTokens?: number): Candidate {
  const backend = fakeBackend(id);
  if (kvCapacityTokens !== undefined) backend.capabilities.kvCapacityTokens = kvCapacityTokens;
  return { backend, healthy, signals: { inFlight: 0, updatedAt: 0, ...signals } };
}

export const request: RoutingRequest = { requestId: 'r', model: 'm', body: { messages: [{ role: 'user', content: 'hi' }] }, headers: {} };

export function runPolicyContract(factory: PolicyFactory, options: Record<string, unknown> = {}): void {
  describe(`policy contract: ${factory.type}`, () => {
    it('accepts its own default options', () => {
      expect(factory.validate(options)).toEqual([]);
      expect(factory.create(options, policyContext(1)).type).toBe(factory.type);
    });

    it('returns null for an empty pool and for an all-unhealthy pool', () => {
      const policy = factory.create(options, policyContext(1));
      expect(policy.select([], request)).toBeNull();
      expect(policy.select([candidate('a', false), candidate('b', false)], request)).toBeNull();
    });

    it('never picks an unhealthy backend', () => {
      const policy = factory.create(options, policyContext(7));
      const pool = [candidate('sick-1', false), candidate('ok', true, { inFlight: 50, waiting: 50 }), candidate('sick-2', false)];
      for (let i = 0; i < 200; i++) expect(policy.select(pool, request)?.backend.id).toBe('ok');
    });

    it('uses every healthy backend of an idle, equal pool', () => {
      const policy = factory.create(options, policyContext(3));
      const pool = ['a', 'b', 'c', 'd'].map((id) => candidate(id));
      const seen = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const req = { ...request, requestId: `r${i}`, body: { messages: [{ role: 'user', content: `question ${i}` }] } };
        seen.add(policy.select(pool, req)!.backend.id);
      }
      expect([...seen].sort()).toEqual(['a', 'b', 'c', 'd']);
    });

    it('is deterministic under a fixed seed', () => {
      const run = () => {
        const policy = factory.create(options, policyContext(42));
        const pool = ['a', 'b', 'c'].map((id, i) => candidate(id, true, { inFlight: i, waiting: 2 - i }));
        return Array.from({ length: 50 }, (_, i) => policy.select(pool, { ...request, requestId: `r${i}` })!.backend.id);
      };
      expect(run()).toEqual(run());
    });

    it('gives a reason with every decision', () => {
      const policy = factory.create(options, policyContext(1));
      const decision = policy.select([candidate('a'), candidate('b')], request);
      expect(decision?.reason.length).toBeGreaterThan(0);
    });

    it('rejects unknown options with a message naming the key', () => {
      const problems = factory.validate({ ...options, no_such_option: 1 });
      expect(problems.join(' ')).toContain('no_such_option');
    });
  });
}
