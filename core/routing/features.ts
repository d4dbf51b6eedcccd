/**
 * The selection pipeline's first stage: what the router knows about each candidate for one
 * request — how much of the prompt it probably holds, how many requests are ahead there, and,
 * once its latency model is fitted, the TTFT and TPOT the request would see there. Computed once
 * per candidate per request; the filters, objectives and pickers of every profile read them, and
 * the learner reads the chosen candidate's at dispatch — one computation, one formula for
 * "requests ahead".
 */
import { prefixKeyOf, type Candidate, type RoutingRequest, type RoutingState } from './policy.js';
import { exactMatch } from './exact-prefix.js';
import { bytesPerTokenOf } from './bytes-per-token.js';

export interface Features {
  c: Candidate;
  /** In-flight requests (this gateway's and other replicas') plus the engine's own waiting queue. */
  load: number;
  /**
   * Requests ahead of this one there: `load`, plus the gateway's own requests that have no first
   * token yet counted a second time (their prefill is ahead of this one's).
   */
  ahead: number;
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
  /** Exact only: leading blocks the engine's events confirm (the rest of a placement is speculation). */
  confirmedBlocks?: number;
  /** Undefined while the backend's model has too few samples. */
  ttftMs?: number;
  /** The prefill work this request would cost that backend (ms of its time, queue excluded). */
  prefillMs?: number;
  tpotMs?: number;
}

/** The request-wide facts every candidate's features are computed from. */
export interface RequestShape {
  /** Prompt tokens: exact on tokenized routes, estimated from the canonical prompt's bytes otherwise. */
  promptTokens: number;
  /** Bytes of the prompt's key (the canonical prompt, or the rendered template). */
  bytes: number;
  /** The prompt's prefix-key chunks (approximate matching), and the first one's hash. */
  chunks: readonly number[];
  firstHash?: number;
}

export function requestShape(request: RoutingRequest, state: RoutingState, bytesPerToken: number): RequestShape {
  const key = prefixKeyOf(request, state.chunkBytes);
  const promptTokens = request.tokens?.length ?? key.bytes / bytesPerToken;
  return { promptTokens, bytes: key.bytes, chunks: key.hashes, firstHash: key.hashes[0] };
}

/**
 * The prompt's tokens as a backend counts them: exact on tokenized routes, else the key's bytes at
 * that backend's bytes per token (its engine's tokenizer, learned from its answers: bytes-per-token.ts).
 */
export function promptTokensOn(request: RoutingRequest, shape: RequestShape, backendBytesPerToken: number): number {
  return request.tokens ? shape.promptTokens : shape.bytes / backendBytesPerToken;
}

/** One candidate's features (the learner calls this for the chosen candidate of a profile that computed none). */
export function featuresOf(c: Candidate, request: RoutingRequest, shape: RequestShape, state: RoutingState, bytesPerToken: number): Features {
  // With the backend: its model is shared with alike backends (latency-model.ts, likenessOf).
  const model = state.latency.of(c.backend.id, c.backend);
  const f = loadFeaturesOf(c, state);
  const bpt = bytesPerTokenOf(c.backend.id, state, bytesPerToken);
  const promptTokens = promptTokensOn(request, shape, bpt);
  const exact = exactMatch(c.backend.kvCache, state.speculation.of(c.backend.id), request.tokens);
  if (exact) {
    Object.assign(f, { match: exact.blocks, units: exact.totalBlocks, matchTokens: exact.tokens, exact: true, confirmedBlocks: exact.confirmedBlocks });
  } else if (shape.chunks.length > 0) {
    const chunks = state.prefixes.of(c.backend.id).match(shape.chunks);
    Object.assign(f, { match: chunks, units: shape.chunks.length, matchTokens: Math.min(promptTokens, (chunks * state.chunkBytes) / bpt) });
  }
  const uncachedTokens = Math.max(0, promptTokens - f.matchTokens);
  if (model.fitted) {
    f.ttftMs = model.predictTtft({ uncachedTokens, ahead: f.ahead, backlogTokens: model.backlogAhead(c.signals.kvUsage) });
    f.prefillMs = model.predictPrefill(uncachedTokens);
  }
  if (model.tpotFitted) f.tpotMs = model.predictTpot((c.signals.running ?? c.signals.inFlight) + 1);
  return f;
}

/** Load only: what round-robin and least-load need, without touching prefix state; the start of every candidate's features. */
export function loadFeaturesOf(c: Candidate, state: RoutingState): Features {
  const load = c.signals.inFlight + (c.signals.waiting ?? 0);
  return { c, load, ahead: load + state.latency.of(c.backend.id).prefilling, match: 0, units: 0, matchTokens: 0, exact: false };
}

/** `prefix 31/32 blocks (kv events)`: how much a candidate holds, and how the router knows. */
export function matchNote(f: Features): string {
  return `prefix ${f.match}/${f.units} blocks${f.exact ? ' (kv events)' : ''}`;
}
