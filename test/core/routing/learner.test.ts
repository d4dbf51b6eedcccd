import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../../core/metrics/gateway-metrics.js';
import { RoutingLearner } from '../../../core/routing/learner.js';
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
