/**
 * Per-candidate predictions shared by the prefix-affinity and SLO policies: how much of the
 * prompt each backend probably holds, how many requests are ahead there, and — once that
 * backend's latency model is fitted — the TTFT and TPOT a request would see there.
 */
import { prefixKeyOf, type Candidate, type RoutingRequest, type RoutingState } from './policy.js';
import { exactMatch } from './exact-prefix.js';

export interface Prediction {
  c: Candidate;
  /**
   * Leading prefix units the backend holds: engine blocks where its KV-cache events say so
   * (`exact`), else the router's byte chunks (approximate, learned from its own placements).
   */
  match: number;
  /** Units in the whole prompt, in the same unit as `match`. */
  units: number;
  /** Prompt tokens the backend holds (estimated from bytes when approximate). */
  matchTokens: number;
  /** The match comes from the engine's KV-cache events (plus unconfirmed placements of ours). */
  exact: boolean;
  ahead: number;
  /** Undefined while the backend's model has too few samples. */
  ttftMs?: number;
  /** The prefill work this request would cost that backend (ms of its time, queue excluded). */
  prefillMs?: number;
  tpotMs?: number;
  /**
   * False when one more request like this one would not fit the backend's KV cache beside the
   * requests already there (the engine would queue it until a running one finishes); undefined
   * when the engine does not report its capacity.
   */
  kvRoom?: boolean;
}

export function predict(candidates: readonly Candidate[], request: RoutingRequest, state: RoutingState, bytesPerToken: number): { chunks: number; firstHash?: number; predictions: Prediction[] } {
  const key = prefixKeyOf(request, state.chunkBytes);
  const n = key.hashes.length;
  // Exact routes know the prompt's length in the engine's own tokens.
  const promptTokens = request.tokens?.ids.length ?? key.bytes / bytesPerToken;
  const chunkTokens = state.chunkBytes / bytesPerToken;
  // The KV this request will hold at its end: its prompt and every token it may generate.
  const maxTokens = request.body.max_tokens ?? request.body.max_completion_tokens;
  const footprint = promptTokens + (typeof maxTokens === 'number' && maxTokens > 0 ? maxTokens : 0);
  const predictions = candidates.map((c): Prediction => {
    const exact = exactMatch(c.backend.kvCache, state.speculation.of(c.backend.id), request.tokens);
    const chunks = exact || n === 0 ? 0 : state.prefixes.of(c.backend.id).match(key.hashes);
    const matchTokens = exact ? exact.tokens : Math.min(promptTokens, chunks * chunkTokens);
    const model = state.latency.of(c.backend.id);
    // A request still waiting for its first token counts twice: it is in flight, and its prefill
    // is ahead of this one's.
    const ahead = c.signals.inFlight + (c.signals.waiting ?? 0) + model.prefilling;
    const p: Prediction = exact
      ? { c, match: exact.blocks, units: exact.totalBlocks, matchTokens, exact: true, ahead }
      : { c, match: chunks, units: n, matchTokens, exact: false, ahead };
    const capacity = c.backend.capabilities.kvCapacityTokens;
    // Requests there are taken to be about this one's size: the gateway knows its own in flight,
    // not what each holds. (A shared prefix is held once, so this errs toward "full".)
    if (capacity) p.kvRoom = (c.signals.inFlight + 1) * footprint <= capacity;
    const uncachedTokens = Math.max(0, promptTokens - matchTokens);
    if (model.fitted) {
      p.ttftMs = model.predictTtft({ uncachedTokens, ahead });
      p.prefillMs = model.predictPrefill(uncachedTokens);
    }
    if (model.tpotFitted) p.tpotMs = model.predictTpot((c.signals.running ?? c.signals.inFlight) + 1);
    return p;
  });
  return { chunks: n, firstHash: key.hashes[0], predictions };
}

/** `prefix 31/32 blocks (kv events)`: how much a candidate holds, and how the router knows. */
export function matchNote(p: Prediction): string {
  return `prefix ${p.match}/${p.units} blocks${p.exact ? ' (kv events)' : ''}`;
}

/**
 * The candidates with KV room for this request, or all of them when none has: a linear TTFT
 * model cannot see that a backend whose KV cache is full will queue the request however short
 * its prefill — the knee that makes piling a group's requests onto its prefix holder cost more
 * than the cache saves when caches are small.
 */
export function withKvRoom(predictions: readonly Prediction[]): { room: Prediction[]; full: number } {
  const room = predictions.filter((p) => p.kvRoom !== false);
  return room.length === 0 ? { room: [...predictions], full: 0 } : { room, full: predictions.length - room.length };
}

/** Why a candidate was passed over, for the decision's reason: `1 backend's KV cache full`. */
export function kvFullNote(full: number): string {
  return `${full} backend${full > 1 ? "s'" : "'s"} KV cache full`;
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
