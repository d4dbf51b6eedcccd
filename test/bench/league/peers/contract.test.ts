import { runPolicyContract } from '../../../core/routing/policy-contract.js';
import { peerFactories } from '../../../../bench/league/peers/index.js';

for (const factory of peerFactories()) {
  // The contract's idle pool never changes its in-flight counts, and its prompts ("question 0",
  // "question 1", …) share 90% of their text: SGLang, as the original would, follows that match to
  // one worker until the loads drift apart by 64 — which static loads never do. With the match
  // threshold out of reach every request is a miss, and the contract checks how misses spread
  // (sglang-cache-aware.test.ts checks the default's following).
  runPolicyContract(factory, factory.type === 'sglang-cache-aware' ? { cache_threshold: 1 } : {});
}
