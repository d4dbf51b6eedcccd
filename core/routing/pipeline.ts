/**
 * One selection pipeline behind every routing profile:
 *
 *   features per candidate (features.ts, computed once)
 *     → filters (meets SLO — stages.ts)
 *     → one objective, in predicted milliseconds
 *     → a picker (argmin with rendezvous for a cold prefix, power of two choices, round-robin)
 *
 * round-robin, least-load, prefix-affinity and slo are short profiles of it (policies/); a
 * benchmark may register profiles of its own whose objective scores as the router it
 * re-implements does. The pipeline never asks which profile it runs.
 */
import type { Candidate, Decision, PolicyContext, RoutingPolicy, RoutingRequest, RoutingState } from './policy.js';
import { featuresOf, loadFeaturesOf, requestShape, type Features, type RequestShape } from './features.js';

/** One request's pass through the pipeline: what the stages tell each other and the reason. */
export interface Selection {
  readonly request: RoutingRequest;
  /** Set for profiles that compute full features. */
  readonly shape?: RequestShape;
  /** Clauses appended to the decision's reason ("1 backend's KV cache full"). */
  readonly notes: string[];
  /** Some healthy candidate holds part of the prompt (before any filter passed it over). */
  held?: boolean;
  /** Set by the meets-SLO filter when no candidate is predicted to meet the request's targets. */
  sloMiss?: boolean;
  /** The request's targets were given (route or headers) and a meets-SLO filter judged them. */
  sloJudged?: boolean;
  /** The least predicted prefill among the filtered candidates of a cold prompt, 0 otherwise (ttftPlusWork's prepare). */
  leastPrefillMs?: number;
}

export interface Filter {
  readonly name: string;
  /** The candidates that pass. Given a non-empty set, returns a non-empty one (a filter that would empty it keeps its input and says so in `sel`). */
  apply(set: readonly Features[], sel: Selection): readonly Features[];
  /** Told where the request went, for a filter that judges by what it has seen (the load bound's recent shares). */
  picked?(f: Features): void;
}

/** The cost of sending the request to a candidate — lower wins; undefined while it cannot be predicted. */
export interface Objective {
  readonly name: string;
  /** Called once with the filtered set before any cost: an objective that normalises across candidates (a benchmark's scorers) computes here. */
  prepare?(set: readonly Features[], sel: Selection): void;
  cost(f: Features, sel: Selection): number | undefined;
}

export interface Pick {
  f: Features;
  reason: string;
  /** Low-cardinality label for the decision counter: "prefix", "cold", "load", … */
  kind: string;
}

export interface Picker {
  pick(set: readonly Features[], objective: Objective | undefined, sel: Selection): Pick;
}

export interface Profile {
  readonly type: string;
  /** `load`: load signals only (no prefix or latency state is read); `full`: every feature. */
  readonly features: 'load' | 'full';
  readonly filters: readonly Filter[];
  readonly objective?: Objective;
  readonly picker: Picker;
  /** Prompt bytes per token, where the prompt's length is estimated from its bytes. */
  readonly bytesPerToken?: number;
}

export class PipelinePolicy implements RoutingPolicy {
  readonly type: string;

  constructor(private readonly profile: Profile, private readonly state: RoutingState) {
    this.type = profile.type;
  }

  select(candidates: readonly Candidate[], request: RoutingRequest): Decision | null {
    const healthy = candidates.filter((c) => c.healthy);
    if (healthy.length === 0) return null;
    const { profile, state } = this;
    const bytesPerToken = profile.bytesPerToken ?? 4;
    const shape = profile.features === 'full' ? requestShape(request, state, bytesPerToken) : undefined;
    const sel: Selection = { request, shape, notes: [] };
    let set: readonly Features[] = shape
      ? healthy.map((c) => featuresOf(c, request, shape, state, bytesPerToken))
      : healthy.map((c) => loadFeaturesOf(c, state));
    sel.held = set.some((f) => f.match > 0);
    for (const filter of profile.filters) set = filter.apply(set, sel);
    profile.objective?.prepare?.(set, sel);
    const pick = profile.picker.pick(set, profile.objective, sel);
    let reason = sel.notes.length > 0 ? `${pick.reason}; ${sel.notes.join('; ')}` : pick.reason;
    let kind = pick.kind;
    if (sel.sloJudged) {
      reason = `slo: ${sel.sloMiss ? `none meets the target; best ${reason}` : reason}`;
      kind = sel.sloMiss ? 'slo-miss' : 'slo';
    }
    for (const filter of profile.filters) filter.picked?.(pick.f);
    const decision: Decision = { backend: pick.f.c.backend, reason, kind };
    if (pick.f.ttftMs !== undefined) decision.predictedTtftMs = pick.f.ttftMs;
    if (sel.sloJudged) decision.meetsSlo = !sel.sloMiss;
    if (shape) decision.features = pick.f;
    return decision;
  }
}

/** A policy factory's `create` for a profile. */
export function pipelinePolicy(profile: Profile, ctx: PolicyContext): PipelinePolicy {
  return new PipelinePolicy(profile, ctx.state);
}
