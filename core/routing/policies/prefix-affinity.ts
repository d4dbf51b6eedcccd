/**
 * Prefix affinity: send a request where its prompt prefix is already cached, unless waiting
 * there costs more than the cache saves — decided in predicted milliseconds of TTFT from each
 * backend's online latency model (latency-model.ts), not by weights.
 *
 * - Warm (some backend holds a prefix): the least predicted TTFT plus the prefill work the
 *   request adds there, counted for itself and for each request it holds up there, wins
 *   (stages.ts, ttftPlusWork). A saturated holder loses to an idle one, and the prefix then
 *   spreads to a second backend (the learner records it there too).
 * - Bounded loads: a backend past 1.5× its capacity-weighted share of the load takes no more
 *   while it has also taken more than its share of recent requests (stages.ts, loadBound), so a
 *   hot group gets a second holder before it buries its first, and a burst moves no prefix.
 * - Cold (no backend holds any of it): rendezvous hashing among the backends that would serve it
 *   alike, so gateway replicas that never talk still send a new prefix to the same place.
 * - Before a backend's model has enough samples (its kind's, where alike backends share one:
 *   latency-model.ts): SGLang's cache-aware thresholds (balance when
 *   max−min load > abs and max > rel·min; else follow the longest match above a match rate), with
 *   loads scaled by each backend's reported KV capacity.
 */
import type { PolicyFactory } from '../policy.js';
import { pipelinePolicy } from '../pipeline.js';
import { argmin, cacheAware, loadBound, ttftPlusWork } from '../stages.js';

/**
 * The fallback's thresholds, SGLang's defaults (REFERENCE §2.1, its CLI): balance past 64 apart
 * and 1.5×, follow a match over 0.3. Balancing sooner (past 8, as an earlier version did) moved a
 * fresh gateway's requests off their prefix holders while every backend was still prefilling its
 * first prompts, and paid a cold prefill for each (league, 3 seeds: W2 median 120.0 → 133.0 req/s,
 * W2z 155.9 → 183.5); what it guarded against — a mixed fleet's slow replicas piling up — is
 * now the capacity scaling's job (W5 38.3 → 70.2 req/s).
 */
export const FALLBACK = { balanceAbs: 64, balanceRel: 1.5, matchThreshold: 0.3 } as const;

/**
 * The load bound's factor: a backend takes a request while its load stays within 1.5× its share
 * (stages.ts, loadBound; HAProxy's hash-balance-factor 150). 1.25 balanced as well but cost W4 5%
 * and W2z 10% of goodput (league, 3 seeds); 1.5 costs W2z 10% and nothing elsewhere.
 */
export const LOAD_BOUND = 1.5;

const NUMERIC = {
  bytes_per_token: 4, load_bound: LOAD_BOUND, balance_abs_threshold: FALLBACK.balanceAbs, balance_rel_threshold: FALLBACK.balanceRel, match_threshold: FALLBACK.matchThreshold,
};
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
      filters: [loadBound(opt('load_bound'))], objective: ttftPlusWork, picker: argmin(thresholds),
    }, ctx);
  },
};
