/**
 * The routing-policy seam: one decision method, built by a factory keyed on `policy: { type }`.
 * Core hands a policy the route's candidates and never asks which policy it holds. The built-in
 * policies are profiles of one selection pipeline (pipeline.ts). Every policy passes the shared
 * contract suite (test/core/routing/policy-contract.ts).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Backend, LoadSignals } from '../plugin/types.js';
import type { Features } from './features.js';
import type { LatencyModels } from './latency-model.js';
import { prefixKey, type PrefixKey } from './prefix-key.js';
import type { PrefixIndexes } from './prefix-index.js';
import type { ChatTemplate } from '../tokenizer/tokenizer.js';
import type { RequestTokens, Speculations } from './exact-prefix.js';
import type { PerBackend } from './per-backend.js';
import type { BytesPerToken } from './bytes-per-token.js';

export interface Candidate {
  backend: Backend;
  signals: LoadSignals;
  healthy: boolean;
}

export interface RoutingRequest {
  requestId: string;
  /** The public model name the client asked for. */
  model: string;
  body: Readonly<Record<string, unknown>>;
  headers: IncomingHttpHeaders;
  /** Computed at most once per request, on first use (see prefixKeyOf). */
  prefix?: PrefixKey;
  /** The route's chat template, when its prefix keys are computed over the rendered prompt. */
  template?: ChatTemplate;
  /** Latency targets: the route's, overridden by x-slo-ttft-ms / x-slo-tpot-ms. */
  slo?: { ttftMs?: number; tpotMs?: number };
  /**
   * The prompt's token ids as the engine will see them (the route's chat template and tokenizer),
   * on routes whose backends publish KV-cache events: exact prefix matching.
   */
  tokens?: RequestTokens;
}

/** The request's prefix key, computed on first use and kept on the request. */
export function prefixKeyOf(request: RoutingRequest, chunkBytes: number): PrefixKey {
  request.prefix ??= prefixKey(request.body, chunkBytes, request.template);
  return request.prefix;
}

export interface Decision {
  backend: Backend;
  /** Why, for `x-switchyard-route-reason`: "round-robin", "prefix 31/32 blocks", "cold: rendezvous". */
  reason: string;
  /** A low-cardinality label for the decision counter: "prefix", "cold", "load", "slo", … */
  kind?: string;
  /** Predicted TTFT (ms) of the chosen backend, where the policy predicted one. */
  predictedTtftMs?: number;
  /** False when the policy predicts the request's SLO cannot be met anywhere (admission decides). */
  meetsSlo?: boolean;
  /** The chosen candidate's features, where the policy computed them (the learner reuses them). */
  features?: Features;
}

export interface RoutingPolicy {
  readonly type: string;
  /** Picks a healthy candidate, or null when none is healthy. Must not throw on an empty list. */
  select(candidates: readonly Candidate[], request: RoutingRequest): Decision | null;
}

/** What policies share: prefix indexes and latency models of every backend. */
export interface RoutingState {
  prefixes: PrefixIndexes;
  latency: LatencyModels;
  /** Chunk size of prefix keys, bytes of canonical prompt. */
  chunkBytes: number;
  /** The gateway's own placements not yet confirmed by KV events (exact matching). */
  speculation: Speculations;
  /**
   * Bytes of prompt key per token, learned from each backend's answers (bytes-per-token.ts): once
   * learned, it replaces the configured bytes_per_token in turning matched chunks into tokens.
   */
  bytesPerToken: PerBackend<BytesPerToken>;
}

export interface PolicyContext {
  /** Seed for any randomness, so a fixed seed gives a fixed sequence of decisions. */
  seed: number;
  state: RoutingState;
}

export interface PolicyFactory {
  readonly type: string;
  /** Its decisions judge the request's SLO (`meetsSlo`): a route's `admission:` needs such a policy. */
  readonly judgesSlo?: boolean;
  /** Errors naming the option key; empty when valid. */
  validate(options: Record<string, unknown>): string[];
  create(options: Record<string, unknown>, ctx: PolicyContext): RoutingPolicy;
}

/** A small, fast, seedable PRNG (mulberry32) for policies that sample. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
