import { describe, expect, it } from 'vitest';
import { leastLoadFactory } from '../../../core/routing/policies/least-load.js';
import { candidate, policyContext, request, runPolicyContract } from './policy-contract.js';

runPolicyContract(leastLoadFactory);

describe('least-load', () => {
  it('picks the less loaded of the two it samples (gateway in-flight + engine waiting)', () => {
    const policy = leastLoadFactory.create({}, policyContext(5));
    const pool = [candidate('busy', true, { inFlight: 10, waiting: 30 }), candidate('idle', true, { inFlight: 1, waiting: 0 })];
    for (let i = 0; i < 50; i++) expect(policy.select(pool, request)!.backend.id).toBe('idle');
  });

  it('never sends to the most loaded of three', () => {
    const policy = leastLoadFactory.create({}, policyContext(9));
    const pool = [candidate('a', true, { inFlight: 1 }), candidate('b', true, { inFlight: 2 }), candidate('c', true, { inFlight: 9, waiting: 9 })];
    const picks = Array.from({ length: 300 }, () => policy.select(pool, request)!.backend.id);
    expect(picks).not.toContain('c');
    expect(picks).toContain('a');
  });
});
