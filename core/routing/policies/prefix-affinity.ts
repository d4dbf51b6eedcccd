/**
 * Prefix affinity: send a request where its prompt prefix is already cached, unless waiting
 * there costs more than the cache saves — decided in predicted milliseconds of TTFT from each
 * backend's online latency model (latency-model.ts), not by weights.
 *
 * - Warm (some backend holds a prefix): among the backends with KV room, the least predicted TTFT
 *   plus the prefill work the request adds there wins (stages.ts, ttftPlusWork). A saturated
 *   holder loses to an idle one, and the prefix then spreads to a second backend (the learner
 *   records it there too).
 * - Cold (no backend holds any of it): rendezvous hashing among the backends that would serve it
 *   alike, so gateway replicas that never talk still send a new prefix to the same place.
 * - Before a backend's model has enough samples: SGLang's cache-aware thresholds (balance when
 *   max−min load > abs and max > rel·min; else follow the longest match above a match rate).
 */
import type { PolicyFactory } from '../policy.js';
import { pipelinePolicy } from '../pipeline.js';
import { argmin, cacheAware, kvRoom, ttftPlusWork } from '../stages.js';

// The fallback's thresholds: SGLang's rel 1.5 and match 0.3 (REFERENCE §2.1, CLI defaults), but
// balance past 8 requests apart, not SGLang's 64: the fallback decides a fresh gateway's first
// requests, and at a high rate a hot group's burst piled 64 deep on its holder before any latency
// model existed (league W2z, 140 req/s: 94 of 1,024 requests missed the SLO at 32 apart, 37 at 8).
const NUMERIC = { bytes_per_token: 4, balance_abs_threshold: 8, balance_rel_threshold: 1.5, match_threshold: 0.3 };
type Option = keyof typeof NUMERIC;

export const prefixAffinityFactory: PolicyFactory = {
  type: 'prefix-affinity',
  validate: (options) => Object.entries(options).flatMap(([k, v]) => {
    if (!(k in NUMERIC)) return [`${k}: not an option of prefix-affinity (known: ${Object.keys(NUMERIC).join(', ')})`];
    return typeof v === 'number' && v > 0 ? [] : [`${k}: expected a positive number, got ${JSON.stringify(v)}`];
  }),
  create: (options, ctx) => {
    const opt = (k: Option) => (typeof options[k] === 'number' ? (options[k] as number) : NUMERIC[k]);
    const thresholds = cacheAware({
      balanceAbs: opt('balance_abs_threshold'), balanceRel: opt('balance_rel_threshold'), matchThreshold: opt('match_threshold'), onMiss: 'rendezvous',
    });
    return pipelinePolicy({
      type: 'prefix-affinity', features: 'full', bytesPerToken: opt('bytes_per_token'),
      filters: [kvRoom], objective: ttftPlusWork, picker: argmin(thresholds),
    }, ctx);
  },
};
