/**
 * SLO placement: among the candidates predicted to meet the request's targets (TTFT from queue
 * wait + uncached prefill, TPOT at the batch it would join — latency-model.ts, per backend, so
 * mixed hardware and engines work), the one it costs the least prefill time. When none can, the
 * decision says so (`meetsSlo: false`) and the route's admission queues or sheds it. Backends
 * whose model is not fitted yet are explored (least ahead) so every model gets samples. Without
 * targets it behaves as prefix affinity by prediction.
 */
import type { Candidate, Decision, PolicyContext, PolicyFactory, RoutingPolicy, RoutingRequest, RoutingState } from '../policy.js';
import { kvFullNote, matchNote, predict, withinLoadBound, withKvRoom, type Prediction } from '../predict.js';
import { coldDecision, shortPromptHash } from './prefix-affinity.js';

export class SloPolicy implements RoutingPolicy {
  readonly type = 'slo';

  constructor(private readonly state: RoutingState, private readonly bytesPerToken: number, private readonly headroom = 0.8) {}

  select(candidates: readonly Candidate[], request: RoutingRequest): Decision | null {
    const healthy = candidates.filter((c) => c.healthy);
    if (healthy.length === 0) return null;
    const { firstHash, predictions: all } = predict(healthy, request, this.state, this.bytesPerToken);
    // A backend whose KV cache would not hold this request queues it: its prediction would lie.
    const { room: predictions, full } = withKvRoom(all);
    const decision = this.choose(predictions, request, firstHash);
    return full > 0 ? { ...decision, reason: `${decision.reason}; ${kvFullNote(full)}` } : decision;
  }

  private choose(predictions: Prediction[], request: RoutingRequest, firstHash: number | undefined): Decision {
    const unfitted = predictions.filter((p) => p.ttftMs === undefined);
    if (unfitted.length > 0) {
      // Learn every backend before trusting comparisons — but only while it is among the least
      // loaded: its first samples come slowly (a TTFT is learned when its answer ends), and a slow
      // backend sent everything meanwhile would be buried before its model exists. (When none of
      // them is, the least loaded backend is a fitted one and the predictions below decide.)
      const least = Math.min(...predictions.map((p) => p.ahead));
      const explore = unfitted.filter((p) => p.ahead <= least + 1);
      if (explore.length > 0) {
        const best = Math.max(...explore.map((p) => p.matchTokens));
        if (best > 0) {
          const pick = explore.filter((p) => p.matchTokens === best).reduce((a, b) => (b.ahead < a.ahead ? b : a));
          return { backend: pick.c.backend, reason: `slo: learning; ${matchNote(pick)}`, kind: 'learning' };
        }
        const cold = coldDecision(explore, firstHash ?? shortPromptHash(request));
        return { ...cold, reason: `slo: learning; ${cold.reason}`, kind: 'learning' };
      }
    }
    const fitted = predictions.filter((p) => p.ttftMs !== undefined);
    const ttftTarget = request.slo?.ttftMs;
    const tpotTarget = request.slo?.tpotMs;
    const bounded = withinLoadBound(fitted);
    // A prediction is a mean; `headroom` keeps the spread of real latencies around it inside the target.
    const h = this.headroom;
    const meets = bounded.filter((p) =>
      (ttftTarget === undefined || p.ttftMs! <= h * ttftTarget) && (tpotTarget === undefined || p.tpotMs === undefined || p.tpotMs <= h * tpotTarget));
    // Among those that meet the targets, the one this request costs least (the cheapest prefill:
    // a cached prefix, or a faster GPU) — meeting the SLO is the goal, and spending less on each
    // request is what keeps the next ones meeting it. When none meets them, the best TTFT.
    const pool = meets.length > 0 ? meets : bounded;
    let pick = meets.length > 0
      ? meets.reduce((a, b) => (b.prefillMs! < a.prefillMs! - 1e-9 || (Math.abs(b.prefillMs! - a.prefillMs!) <= 1e-9 && b.ttftMs! < a.ttftMs!) ? b : a))
      : bounded.reduce((a, b) => (b.ttftMs! < a.ttftMs! || (b.ttftMs === a.ttftMs && b.matchTokens > a.matchTokens) ? b : a));
    // A prefix nobody holds, and several backends that would prefill it alike: rendezvous among
    // the least loaded of them, as prefix affinity does, so the group's next requests (from any
    // gateway replica) find it in one place — not wherever a prediction's noise put it.
    let cold = '';
    if (pick.match === 0) {
      // Alike: prefill estimates within 10% (each backend's model is fitted on its own, so two
      // replicas of one GPU never agree exactly; an A10 and an H100 differ by 2× or more).
      const alike = pool.filter((p) => p.match === 0 && Math.abs(p.prefillMs! - pick.prefillMs!) <= 0.1 * Math.max(1, pick.prefillMs!));
      if (alike.length > 1) {
        const d = coldDecision(alike, firstHash ?? shortPromptHash(request));
        pick = alike.find((p) => p.c.backend === d.backend)!;
        cold = `; ${d.reason}`;
      }
    }
    const detail = `predicted ttft ${Math.round(pick.ttftMs!)} ms${pick.tpotMs !== undefined ? `, tpot ${Math.round(pick.tpotMs)} ms` : ''}${cold}`;
    if (meets.length === 0 && (ttftTarget !== undefined || tpotTarget !== undefined)) {
      return { backend: pick.c.backend, reason: `slo: none meets the target; best ${detail}`, kind: 'slo-miss', predictedTtftMs: pick.ttftMs, meetsSlo: false };
    }
    return { backend: pick.c.backend, reason: `slo: ${detail}`, kind: 'slo', predictedTtftMs: pick.ttftMs, meetsSlo: true };
  }
}

export const sloFactory: PolicyFactory = {
  type: 'slo',
  validate: (options) => Object.entries(options).flatMap(([k, v]) => {
    if (k === 'bytes_per_token') return typeof v === 'number' && v > 0 ? [] : [`${k}: expected a positive number, got ${JSON.stringify(v)}`];
    if (k === 'headroom') return typeof v === 'number' && v > 0 && v <= 1 ? [] : [`${k}: expected a fraction in (0, 1], got ${JSON.stringify(v)}`];
    return [`${k}: not an option of slo (known: bytes_per_token, headroom; targets go in the route's slo:)`];
  }),
  create: (options, ctx: PolicyContext) => new SloPolicy(
    ctx.state,
    typeof options.bytes_per_token === 'number' ? options.bytes_per_token : 4,
    typeof options.headroom === 'number' ? options.headroom : 0.8,
  ),
};
