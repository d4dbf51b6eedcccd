/**
 * The peers' routers, re-implemented from their published algorithms and default parameters
 * (../shared/REFERENCE.md §2; facts, not their code) as profiles of Switchyard's selection
 * pipeline, for the league benchmark only — they are not in the product's policy list.
 *
 * - `sglang-cache-aware`: SGLang's approximate radix tree over the request text, 0.3 / 64 / 1.5
 * - `llmd-approximate`: the Gateway API Inference Extension's default, prefix 3 / queue 2 / kv 2
 * - `llmd-precise`: llm-d's precise preset over KV events, precise-prefix 2 / kv 1 / queue 1
 * - `dynamo-kv`: Dynamo's KV router, overlap weight × prefill blocks + decode blocks, temperature 0
 */
import type { PolicyFactory } from '../../../core/routing/policy.js';
import { dynamoKvFactory } from './dynamo-kv.js';
import { llmdApproximateFactory, llmdPreciseFactory } from './llmd.js';
import { sglangCacheAwareFactory } from './sglang-cache-aware.js';

export function peerFactories(): PolicyFactory[] {
  return [sglangCacheAwareFactory, llmdApproximateFactory, llmdPreciseFactory, dynamoKvFactory];
}
