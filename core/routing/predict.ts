/**
 * Per-candidate predictions shared by the prefix-affinity and SLO policies: how much of the
 * prompt each backend probably holds, how many requests are ahead there, and — once that
 * backend's latency model is fitted — the TTFT and TPOT a request would see there.
 */
import { prefixKeyOf, type Candidate, type RoutingRequest, type RoutingState } from './policy.js';

export interface Prediction {
  c: Candidate;
  /** Leading prefix chunks the backend holds. */
  match: number;
  ahead: number;
  /** Undefined while the backend's model has too few samples. */
  ttftMs?: number;
  /** The prefill work this request would cost that backend (ms of its time, queue excluded). */
  prefillMs?: number;
  tpotMs?: number;
}

export function predict(candidates: readonly Candidate[], request: RoutingRequest, state: RoutingState, bytesPerToken: number): { chunks: number; firstHash?: number; predictions: Prediction[] } {
  const key = prefixKeyOf(request, state.chunkBytes);
  const n = key.hashes.length;
  const promptTokens = key.bytes / bytesPerToken;
  const chunkTokens = state.chunkBytes / bytesPerToken;
  const predictions = candidates.map((c): Prediction => {
    const match = n === 0 ? 0 : state.prefixes.of(c.backend.id).match(key.hashes);
    const ahead = c.signals.inFlight + (c.signals.waiting ?? 0);
    const model = state.latency.of(c.backend.id);
    const p: Prediction = { c, match, ahead };
    const uncachedTokens = Math.max(0, promptTokens - match * chunkTokens);
    if (model.fitted) {
      p.ttftMs = model.predictTtft({ uncachedTokens, ahead });
      p.prefillMs = model.predictPrefill(uncachedTokens);
    }
    if (model.tpotFitted) p.tpotMs = model.predictTpot((c.signals.running ?? c.signals.inFlight) + 1);
    return p;
  });
  return { chunks: n, firstHash: key.hashes[0], predictions };
}

/**
 * Bounded load: the candidates whose load — requests ahead, scaled by the backend's own per-token
 * time so a faster GPU may carry more — is within 1.5× (+2 requests) of the lightest. A linear
 * TTFT model has no knee: it cannot see the moment a backend's batch or KV cache fills and its
 * queue starts to grow, so without this bound every request herds onto the backend it rates best.
 */
export function withinLoadBound(predictions: readonly Prediction[]): Prediction[] {
  const weight = (p: Prediction) => (p.tpotMs !== undefined && p.tpotMs > 0 ? p.tpotMs : 1);
  const scaled = predictions.map((p) => p.ahead * weight(p));
  const least = Math.min(...scaled);
  const slack = 2 * Math.min(...predictions.map(weight));
  return predictions.filter((_, i) => scaled[i] <= least * 1.5 + slack);
}
