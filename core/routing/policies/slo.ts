/**
 * SLO placement: among the candidates predicted to meet the request's targets (TTFT from queue
 * wait + uncached prefill, TPOT at the batch it would join — latency-model.ts, per backend, so
 * mixed hardware and engines work), the one with the best predicted TTFT. When none can, the
 * decision says so (`meetsSlo: false`) and the route's admission queues or sheds it. Backends
 * whose model is not fitted yet are explored (least ahead) so every model gets samples. Without
 * targets it behaves as prefix affinity by prediction.
 */
import type { Candidate, Decision, PolicyContext, PolicyFactory, RoutingPolicy, RoutingRequest, RoutingState } from '../policy.js';
import { predict, withinLoadBound } from '../predict.js';
import { coldDecision, shortPromptHash } from './prefix-affinity.js';

export class SloPolicy implements RoutingPolicy {
  readonly type = 'slo';

  constructor(private readonly state: RoutingState, private readonly bytesPerToken: number) {}

  select(candidates: readonly Candidate[], request: RoutingRequest): Decision | null {
    const healthy = candidates.filter((c) => c.healthy);
    if (healthy.length === 0) return null;
    const { chunks, firstHash, predictions } = predict(healthy, request, this.state, this.bytesPerToken);
    const unfitted = predictions.filter((p) => p.ttftMs === undefined);
    if (unfitted.length > 0) {
      // Learn every backend before trusting comparisons: the best-known prefix holder among the
      // unfitted, else rendezvous among the least loaded.
      const best = Math.max(...unfitted.map((p) => p.match));
      if (best > 0) {
        const pick = unfitted.filter((p) => p.match === best).reduce((a, b) => (b.ahead < a.ahead ? b : a));
        return { backend: pick.c.backend, reason: `slo: learning; prefix ${best}/${chunks} blocks`, kind: 'learning' };
      }
      const cold = coldDecision(unfitted, firstHash ?? shortPromptHash(request));
      return { ...cold, reason: `slo: learning; ${cold.reason}`, kind: 'learning' };
    }
    const ttftTarget = request.slo?.ttftMs;
    const tpotTarget = request.slo?.tpotMs;
    const bounded = withinLoadBound(predictions);
    const meets = bounded.filter((p) =>
      (ttftTarget === undefined || p.ttftMs! <= ttftTarget) && (tpotTarget === undefined || p.tpotMs === undefined || p.tpotMs <= tpotTarget));
    const pool = meets.length > 0 ? meets : bounded;
    const pick = pool.reduce((a, b) => (b.ttftMs! < a.ttftMs! || (b.ttftMs === a.ttftMs && b.match > a.match) ? b : a));
    const detail = `predicted ttft ${Math.round(pick.ttftMs!)} ms${pick.tpotMs !== undefined ? `, tpot ${Math.round(pick.tpotMs)} ms` : ''}`;
    if (meets.length === 0 && (ttftTarget !== undefined || tpotTarget !== undefined)) {
      return { backend: pick.c.backend, reason: `slo: none meets the target; best ${detail}`, kind: 'slo-miss', predictedTtftMs: pick.ttftMs, meetsSlo: false };
    }
    return { backend: pick.c.backend, reason: `slo: ${detail}`, kind: 'slo', predictedTtftMs: pick.ttftMs, meetsSlo: true };
  }
}

export const sloFactory: PolicyFactory = {
  type: 'slo',
  validate: (options) => Object.entries(options).flatMap(([k, v]) => {
    if (k !== 'bytes_per_token') return [`${k}: not an option of slo (known: bytes_per_token; targets go in the route's slo:)`];
    return typeof v === 'number' && v > 0 ? [] : [`${k}: expected a positive number, got ${JSON.stringify(v)}`];
  }),
  create: (options, ctx: PolicyContext) =>
    new SloPolicy(ctx.state, typeof options.bytes_per_token === 'number' ? options.bytes_per_token : 4),
};
