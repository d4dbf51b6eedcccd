/**
 * SLO placement: prefix-affinity that knows the request's targets. Among the candidates predicted
 * to meet them (TTFT from the queue and the uncached prefill, TPOT at the batch it would join —
 * latency-model.ts, per backend, so mixed hardware and engines work), the least predicted TTFT
 * plus the prefill work it adds there. When none can, the same choice among all, and the decision
 * says so (`meetsSlo: false`): the route's admission queues or sheds it. Nothing is judged until
 * every candidate's model is fitted. (An earlier version steered misses by TTFT alone and explored
 * unfitted backends first; in the league both fed an overload: W2 goodput 67.7 → 114.3 req/s.)
 */
import type { PolicyFactory } from '../policy.js';
import { pipelinePolicy } from '../pipeline.js';
import { argmin, cacheAware, loadBound, meetsSlo, ttftPlusWork } from '../stages.js';
import { FALLBACK, LOAD_BOUND } from './prefix-affinity.js';

export const sloFactory: PolicyFactory = {
  type: 'slo',
  judgesSlo: true,
  validate: (options) => Object.entries(options).flatMap(([k, v]) => {
    if (k === 'bytes_per_token' || k === 'load_bound') return typeof v === 'number' && v > 0 ? [] : [`${k}: expected a positive number, got ${JSON.stringify(v)}`];
    if (k === 'headroom') return typeof v === 'number' && v > 0 && v <= 1 ? [] : [`${k}: expected a fraction in (0, 1], got ${JSON.stringify(v)}`];
    return [`${k}: not an option of slo (known: bytes_per_token, headroom, load_bound; targets go in the route's slo:)`];
  }),
  create: (options, ctx) => pipelinePolicy({
    type: 'slo', features: 'full',
    bytesPerToken: typeof options.bytes_per_token === 'number' ? options.bytes_per_token : 4,
    // A prediction is a mean; `headroom` keeps the spread of real latencies around it inside the target.
    filters: [loadBound(typeof options.load_bound === 'number' ? options.load_bound : LOAD_BOUND), meetsSlo(typeof options.headroom === 'number' ? options.headroom : 0.8)],
    objective: ttftPlusWork,
    // Until every latency model is fitted: prefix-affinity's cache-aware thresholds, and no SLO is judged.
    picker: argmin(cacheAware({ ...FALLBACK, onMiss: 'rendezvous' })),
  }, ctx),
};
