import { describe, expect, it } from 'vitest';
import { roundRobinFactory } from '../../../core/routing/policies/round-robin.js';
import { candidate, policyContext, request, runPolicyContract } from './policy-contract.js';

runPolicyContract(roundRobinFactory);

describe('round-robin', () => {
  it('takes healthy backends in turn, skipping unhealthy ones', () => {
    const policy = roundRobinFactory.create({}, policyContext(1));
    const pool = [candidate('a'), candidate('b', false), candidate('c')];
    expect(Array.from({ length: 4 }, () => policy.select(pool, request)!.backend.id)).toEqual(['a', 'c', 'a', 'c']);
  });
});
