/**
 * SLO placement: among the candidates predicted to meet the request's targets (TTFT from queue
 * wait + uncached prefill, TPOT at the batch it would join — latency-model.ts, per backend, so
 * mixed hardware and engines work), the one of least predicted TTFT plus the prefill work it adds
 * there. When none can, the
 * decision says so (`meetsSlo: false`) and the route's admission queues or sheds it. Backends
 * whose model is not fitted yet are explored (least ahead) so every model gets samples. Without
 * targets it places as prefix-affinity does.
 */
import type { PolicyFactory } from '../policy.js';
import { pipelinePolicy } from '../pipeline.js';
import { argmin, cacheAware, exploreUnfitted, kvRoom, meetsSlo, sloCost, whileExploring } from '../stages.js';

// While exploring: the longest match among the backends being learned, else rendezvous.
const explore = cacheAware({ balanceAbs: Infinity, balanceRel: 1, matchThreshold: 0, onMiss: 'rendezvous' });

export const sloFactory: PolicyFactory = {
  type: 'slo',
  judgesSlo: true,
  validate: (options) => Object.entries(options).flatMap(([k, v]) => {
    if (k === 'bytes_per_token') return typeof v === 'number' && v > 0 ? [] : [`${k}: expected a positive number, got ${JSON.stringify(v)}`];
    if (k === 'headroom') return typeof v === 'number' && v > 0 && v <= 1 ? [] : [`${k}: expected a fraction in (0, 1], got ${JSON.stringify(v)}`];
    return [`${k}: not an option of slo (known: bytes_per_token, headroom; targets go in the route's slo:)`];
  }),
  create: (options, ctx) => pipelinePolicy({
    type: 'slo', features: 'full',
    bytesPerToken: typeof options.bytes_per_token === 'number' ? options.bytes_per_token : 4,
    // A prediction is a mean; `headroom` keeps the spread of real latencies around it inside the target.
    filters: [kvRoom, exploreUnfitted, meetsSlo(typeof options.headroom === 'number' ? options.headroom : 0.8)],
    objective: sloCost,
    picker: whileExploring(explore, argmin(explore)),
  }, ctx),
};
