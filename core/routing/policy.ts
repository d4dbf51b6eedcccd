/**
 * The routing-policy seam: one decision method, optional hooks, built by a factory keyed on
 * `policy: { type }`. Core hands a policy the route's candidates and never asks which policy it
 * holds. Every policy passes the shared contract suite (test/core/routing/policy-contract.ts).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Backend, LoadSignals } from '../plugin/types.js';

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
}

export interface Decision {
  backend: Backend;
  /** Why, for `x-switchyard-route-reason` and the decision counter: "round-robin", "least-load 2 vs 5". */
  reason: string;
}

export interface RoutingPolicy {
  readonly type: string;
  /** Picks a healthy candidate, or null when none is healthy. Must not throw on an empty list. */
  select(candidates: readonly Candidate[], request: RoutingRequest): Decision | null;
  onOutcome?(backend: Backend, request: RoutingRequest, outcome: { ok: boolean; ttftMs?: number }): void;
}

export interface PolicyContext {
  /** Seed for any randomness, so a fixed seed gives a fixed sequence of decisions. */
  seed: number;
}

export interface PolicyFactory {
  readonly type: string;
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
