/**
 * The "learn" step of every request, whatever the route's policy: a dispatched request leaves its
 * prompt prefix in the chosen backend's cache (prefix index), and its outcome — TTFT against the
 * uncached tokens and the queue it met, TPOT against the batch beside it — refits that backend's
 * latency model. Observations go to other gateway replicas through the state store.
 */
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { Usage } from '../server/sse-relay.js';
import type { StateStore } from '../state/types.js';
import { prefixKeyOf, type Candidate, type Decision, type RoutingRequest, type RoutingState } from './policy.js';
import type { Route } from './route-table.js';
import { CachedTokenSource } from './cached-tokens.js';
import { featuresOf, promptTokensOn, requestShape } from './features.js';
import { bytesPerTokenOf, resizeIfMoved } from './bytes-per-token.js';
import { TokenizerChecks } from './tokenizer-check.js';
import { PerBackend } from './per-backend.js';
import { RecencyList } from './recency-list.js';
import type { Backend, KvCacheView } from '../plugin/types.js';

/** Block removals remembered per backend, to tell a prediction the engine evicted after its decision. */
const REMOVALS_KEPT = 100_000;

/** What was known when a request left, kept until its outcome. */
export interface DispatchRecord {
  backendId: string;
  model: string;
  reason: string;
  /** Requests ahead of it on that backend (gateway in-flight + engine waiting). */
  ahead: number;
  /** Uncached prompt tokens of this gateway's requests there still awaiting a first token, less what was probably prefilled of them, when it left. */
  backlogTokens: number;
  running: number;
  promptBytes: number;
  /** This request's uncached prompt tokens (its share of the backend's prefill backlog). */
  prefillTokens: number;
  /** Set once the request's prefill left the backlog (first token, failure or end). */
  prefilled: boolean;
  /** How the chosen backend's answers report cached tokens. */
  cachedTokens: CachedTokenSource;
  /** Cached prompt tokens the router predicted at decision time. */
  predictedCachedTokens: number;
  /** Exact routes: the request's block keys at the chosen engine's block size. */
  placedKeys?: readonly number[];
  /** …and the engine's cache they were placed on (its block size counts the evicted predicted tokens). */
  placedOn?: KvCacheView;
  /** Exact routes with a predicted hit: the request's block keys, the leading ones predicted cached, and when (performance.now()). */
  blockKeys?: readonly number[];
  predictedBlocks?: number;
  decidedAt?: number;
  /** Predicted tokens whose blocks the engine's events removed between the decision and the first token. */
  evictedTokens?: number;
}

/** Predicted against engine-reported cached tokens, per backend: the routing precision. */
export class RoutingPrecision {
  predicted = 0;
  reported = 0;
  matched = 0;
  answers = 0;
  /** Of the predicted tokens, those the engine evicted after the decision (churn no index can foresee). */
  evicted = 0;

  observe(predicted: number, reported: number, evicted = 0): void {
    this.predicted += predicted;
    this.reported += reported;
    this.matched += Math.min(predicted, reported);
    this.evicted += Math.min(predicted, evicted);
    this.answers++;
  }

  /** Undefined until there is something to divide by. */
  report(): { precision?: number; recall?: number; answers: number; predicted_tokens: number; reported_tokens: number; evicted_after_decision_tokens: number } {
    return {
      precision: this.predicted > 0 ? this.matched / this.predicted : undefined,
      recall: this.reported > 0 ? this.matched / this.reported : undefined,
      answers: this.answers,
      predicted_tokens: Math.round(this.predicted),
      reported_tokens: Math.round(this.reported),
      evicted_after_decision_tokens: Math.round(this.evicted),
    };
  }
}

export class RoutingLearner {
  /** Made with the backend's own reporting mode, on its first decision (cachedTokenSource). */
  private readonly cachedTokenSources = new Map<string, CachedTokenSource>();
  private readonly precisions = new PerBackend(() => new RoutingPrecision());
  /** The gateway's exact-routing tokens checked against the engines' own (where they tokenize). */
  readonly tokenizerChecks = new TokenizerChecks();
  /** Engine caches whose removals this learner hears (once each: a reload brings new ones). */
  private readonly followed = new WeakSet<KvCacheView>();
  /** When the engine's events last removed each block, per backend (the most recent REMOVALS_KEPT). */
  private readonly removedAt = new PerBackend(() => new RecencyList(REMOVALS_KEPT));

  constructor(
    private readonly state: RoutingState,
    private readonly metrics: GatewayMetrics,
    private readonly store?: Pick<StateStore, 'publishPrefix'>,
    private readonly bytesPerToken = 4,
  ) {}

  /** Drops what was learned about a backend's answers (the backend left the gateway). */
  forget(backendId: string): void {
    this.cachedTokenSources.delete(backendId);
    this.precisions.forget(backendId);
    this.removedAt.forget(backendId);
    this.tokenizerChecks.forget(backendId);
    this.state.bytesPerToken.forget(backendId);
  }

  onDecision(route: Route, chosen: Candidate, request: RoutingRequest, decision: Decision): DispatchRecord {
    const shape = requestShape(request, this.state, this.bytesPerToken);
    // The features the policy computed for this candidate, or the same computation now (profiles
    // that read load only): one formula for the match and for "requests ahead".
    const f = decision.features ?? featuresOf(chosen, request, shape, this.state, this.bytesPerToken);
    const key = prefixKeyOf(request, this.state.chunkBytes);
    // Exact decisions feed the approximate index too: it is what the backend is matched by should
    // its events stop.
    if (key.hashes.length > 0) {
      // Other replicas only need news: a prefix this backend already held in full is not sent again.
      const heldAll = !f.exact && f.match >= key.hashes.length;
      this.state.prefixes.of(chosen.backend.id).insert(key.hashes);
      if (!heldAll) this.store?.publishPrefix({ backendId: chosen.backend.id, hashes: key.hashes, at: Date.now() });
    }
    // Exact where the backend's KV events are flowing: the placement counts as held from dispatch
    // (events come only after the engine computed the blocks), so the group's next request follows
    // it instead of being sent elsewhere as cold. The speculation is renewed at the first token,
    // so it lasts until the `stored` event confirms it. Blocks the events already confirm need no
    // speculation (a long shared prefix is most of a prompt: only its new tail is recorded).
    const blockSize = chosen.backend.kvCache?.blockSize;
    const blockKeys = request.tokens && blockSize !== undefined ? request.tokens.keys(blockSize) : undefined;
    const placedKeys = blockKeys?.slice(f.confirmedBlocks ?? 0);
    const placedOn = placedKeys ? chosen.backend.kvCache : undefined;
    const predictedBlocks = blockKeys && blockSize && f.exact ? Math.floor(f.matchTokens / blockSize) : 0;
    if (placedKeys && placedOn) {
      this.state.speculation.of(chosen.backend.id).record(placedKeys);
      this.followRemovals(chosen.backend.id, placedOn);
    }
    if (request.tokens && this.tokenizerChecks.due(chosen.backend)) {
      this.tokenizerChecks.maybeCheck(chosen.backend, { ...request.body, model: route.engineModel(chosen.backend) }, request.tokens.ids);
    }
    const predictedTokens = f.matchTokens;
    if (predictedTokens > 0) this.metrics.predictedCached.inc({ model: route.model, backend: chosen.backend.id }, predictedTokens);
    const latency = this.state.latency.of(chosen.backend.id, chosen.backend);
    const promptTokens = promptTokensOn(request, shape, bytesPerTokenOf(chosen.backend.id, this.state, this.bytesPerToken));
    const prefillTokens = Math.max(0, promptTokens - predictedTokens);
    const ahead = f.ahead;
    const backlogTokens = latency.backlogAhead(chosen.signals.kvUsage);
    latency.enqueued(prefillTokens);
    return {
      backendId: chosen.backend.id,
      model: route.model,
      reason: decision.reason,
      ahead,
      backlogTokens,
      running: chosen.signals.running ?? chosen.signals.inFlight,
      promptBytes: key.bytes,
      prefillTokens,
      prefilled: false,
      cachedTokens: this.cachedTokenSource(chosen.backend),
      predictedCachedTokens: predictedTokens,
      placedKeys,
      placedOn,
      ...(predictedBlocks > 0 ? { blockKeys, predictedBlocks, decidedAt: performance.now() } : {}),
    };
  }

  /**
   * A block the engine's events have removed is not held, whatever the gateway placed there: its
   * speculation goes with it. Else a placement the events confirmed and then evicted would still
   * be predicted for the rest of its TTL (at a cache that turns over in seconds, most of them).
   */
  private followRemovals(backendId: string, view: KvCacheView): void {
    if (this.followed.has(view) || !view.onRemoved) return;
    this.followed.add(view);
    view.onRemoved((keys) => {
      this.state.speculation.of(backendId).drop(keys);
      const log = this.removedAt.of(backendId);
      const t = performance.now();
      for (const k of keys) log.touch(k, t);
    });
  }

  /** Predicted tokens of the record whose blocks were removed after its decision. */
  private evictedSinceDecision(record: DispatchRecord): number {
    const { blockKeys, predictedBlocks, decidedAt } = record;
    const blockSize = record.placedOn?.blockSize;
    if (!blockKeys || !predictedBlocks || decidedAt === undefined || !blockSize) return 0;
    const log = this.removedAt.of(record.backendId);
    if (log.size === 0) return 0;
    let evicted = 0;
    for (let b = 0; b < predictedBlocks; b++) {
      const t = log.get(blockKeys[b]);
      if (t !== undefined && t >= decidedAt) evicted++;
    }
    return evicted * blockSize;
  }

  /** How right the router's cached-token predictions were for a backend. */
  precisionOf(backendId: string): RoutingPrecision {
    return this.precisions.of(backendId);
  }

  /** Where a backend's cached-token figures come from (engine-reported, or unknown). */
  cachedTokenSource(backend: Backend): CachedTokenSource {
    let source = this.cachedTokenSources.get(backend.id);
    if (!source) {
      source = new CachedTokenSource(backend.capabilities.cachedTokens);
      this.cachedTokenSources.set(backend.id, source);
    }
    return source;
  }

  /**
   * The request's prefill is over (its first token came, or it failed or ended): off the backlog.
   * With `cached` (a first token, or an answer), its blocks are now in the engine's cache: their
   * speculation is renewed until the engine's events confirm them. Idempotent.
   */
  prefilled(record: DispatchRecord, cached = false): void {
    if (record.prefilled) return;
    record.prefilled = true;
    record.evictedTokens = this.evictedSinceDecision(record);
    // Only what is still speculated is extended: blocks the events removed meanwhile (an eviction
    // can come before the first token reaches the gateway) were dropped and are not brought back,
    // and a confirmed block extended here is dropped all the same when the events remove it.
    if (cached && record.placedKeys) this.state.speculation.of(record.backendId).renew(record.placedKeys);
    this.state.latency.of(record.backendId).dequeued(record.prefillTokens);
  }

  onOutcome(record: DispatchRecord, outcome: { usage?: Usage; ttftMs?: number; tpotMs?: number }): void {
    this.prefilled(record, true);
    const model = this.state.latency.of(record.backendId);
    const promptTokens = outcome.usage?.prompt_tokens ?? record.promptBytes / bytesPerTokenOf(record.backendId, this.state, this.bytesPerToken);
    // The engine counted the prompt whose key had promptBytes: this backend's bytes per token.
    if (outcome.usage?.prompt_tokens) {
      this.state.bytesPerToken.of(record.backendId).observe(record.promptBytes, outcome.usage.prompt_tokens);
      resizeIfMoved(this.state, record.backendId);
    }
    // The engine's own count of cached tokens. When it is unknown, the model learns only from
    // requests the index expected no hit for: it never trains on a guessed hit (a hit the index
    // believed in that never happened would teach it that prefill is nearly free).
    const reported = record.cachedTokens.read(outcome.usage);
    if (reported !== undefined) {
      const predicted = Math.min(promptTokens, record.predictedCachedTokens);
      this.precisionOf(record.backendId).observe(predicted, reported, record.evictedTokens);
      const labels = { backend: record.backendId };
      this.metrics.precisionPredicted.inc(labels, predicted);
      this.metrics.precisionReported.inc(labels, reported);
      this.metrics.precisionMatched.inc(labels, Math.min(predicted, reported));
      if (record.evictedTokens) this.metrics.precisionEvicted.inc(labels, Math.min(predicted, record.evictedTokens));
    }
    const cached = reported ?? (record.predictedCachedTokens === 0 ? 0 : undefined);
    if (outcome.ttftMs !== undefined && cached !== undefined) {
      model.observeTtft({ uncachedTokens: Math.max(0, promptTokens - cached), ahead: record.ahead, backlogTokens: record.backlogTokens }, outcome.ttftMs);
    }
    if (outcome.tpotMs !== undefined) model.observeTpot(record.running, outcome.tpotMs);
  }
}
