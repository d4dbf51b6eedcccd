/**
 * Prefix affinity: send a request where its prompt prefix is already cached, unless waiting
 * there costs more than the cache saves — decided in predicted milliseconds of TTFT from each
 * backend's online latency model (latency-model.ts), not by weights.
 *
 * - Warm (some backend holds a prefix): predicted TTFT = f(uncached tokens there, requests ahead
 *   there) for every candidate; the minimum wins. A saturated holder loses to an idle one, and the
 *   prefix then spreads to a second backend (the learner records it there too).
 * - Cold (no backend holds any of it): rendezvous hashing of the first chunk among the least
 *   loaded candidates, so gateway replicas that never talk still send a new prefix to the same
 *   place.
 * - Before a backend's model has enough samples: SGLang's thresholds as a fallback (balance when
 *   max−min load > abs and max > rel·min; else follow the longest match above a match rate).
 */
import { hashString } from '../prefix-key.js';
import type { Candidate, Decision, PolicyContext, PolicyFactory, RoutingPolicy, RoutingRequest, RoutingState } from '../policy.js';
import { kvFullNote, matchNote, predict, withinLoadBound, withKvRoom, type Prediction } from '../predict.js';

export interface PrefixAffinityOptions {
  bytesPerToken: number;
  balanceAbs: number;
  balanceRel: number;
  matchThreshold: number;
}

const DEFAULTS: PrefixAffinityOptions = { bytesPerToken: 4, balanceAbs: 32, balanceRel: 1.5, matchThreshold: 0.3 };

type Scored = Prediction;

const backendHashes = new Map<string, number>();
function backendHash(id: string): number {
  let h = backendHashes.get(id);
  if (h === undefined) {
    h = hashString(id);
    backendHashes.set(id, h);
  }
  return h;
}

/** Rendezvous (highest random weight) score of a backend for a prefix: a 32-bit mix of both. */
function rendezvous(prefixHash: number, id: string): number {
  let x = (prefixHash % 0x7fffffff) ^ (backendHash(id) % 0x7fffffff);
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return (x ^ (x >>> 16)) >>> 0;
}

export class PrefixAffinityPolicy implements RoutingPolicy {
  readonly type = 'prefix-affinity';

  constructor(private readonly state: RoutingState, private readonly opts: PrefixAffinityOptions) {}

  select(candidates: readonly Candidate[], request: RoutingRequest): Decision | null {
    const healthy = candidates.filter((c) => c.healthy);
    if (healthy.length === 0) return null;
    const { firstHash, predictions } = predict(healthy, request, this.state, this.opts.bytesPerToken);
    const { room: scored, full } = withKvRoom(predictions);
    const best = Math.max(...scored.map((s) => s.matchTokens));
    const decision = best === 0
      ? coldDecision(scored, firstHash ?? shortPromptHash(request))
      : scored.every((s) => s.ttftMs !== undefined) ? this.byPrediction(scored) : this.byThresholds(scored, firstHash);
    return full > 0 ? { ...decision, reason: `${decision.reason}; ${kvFullNote(full)}` } : decision;
  }

  private byPrediction(all: Scored[]): Decision {
    const scored = withinLoadBound(all);
    let pick = scored[0];
    for (const s of scored) {
      if (s.ttftMs! < pick.ttftMs! || (s.ttftMs === pick.ttftMs && s.matchTokens > pick.matchTokens)) pick = s;
    }
    const ttft = `predicted ttft ${Math.round(pick.ttftMs!)} ms`;
    if (pick.match > 0) return { backend: pick.c.backend, reason: `${matchNote(pick)}, ${ttft}`, kind: 'prefix', predictedTtftMs: pick.ttftMs };
    return { backend: pick.c.backend, reason: `spread: ${ttft} beats the prefix holders`, kind: 'spread', predictedTtftMs: pick.ttftMs };
  }

  private byThresholds(scored: Scored[], firstHash: number | undefined): Decision {
    const loads = scored.map((s) => s.ahead);
    const max = Math.max(...loads);
    const min = Math.min(...loads);
    if (max - min > this.opts.balanceAbs && max > this.opts.balanceRel * min) {
      const pick = scored.find((s) => s.ahead === min)!;
      return { backend: pick.c.backend, reason: `load: imbalance ${max} vs ${min} (no latency model yet)`, kind: 'load' };
    }
    // The match rate of the best holder (exact and approximate candidates alike, as a share of the prompt).
    const rate = (s: Scored) => (s.units > 0 ? s.match / s.units : 0);
    const bestRate = Math.max(...scored.map(rate));
    if (bestRate > this.opts.matchThreshold) {
      const holders = scored.filter((s) => rate(s) === bestRate);
      const pick = holders.reduce((a, b) => (b.ahead < a.ahead ? b : a));
      return { backend: pick.c.backend, reason: `${matchNote(pick)} (no latency model yet)`, kind: 'prefix' };
    }
    return coldDecision(scored, firstHash ?? 0);
  }
}

/** A prompt shorter than one chunk shares nothing; its own hash still spreads such prompts evenly and the same way on every replica. */
export function shortPromptHash(request: RoutingRequest): number {
  return hashString(JSON.stringify(request.body.messages ?? request.body.prompt ?? ''));
}

/** Rendezvous hashing of the prefix's first chunk among the least loaded candidates. */
export function coldDecision(scored: readonly Scored[], firstHash: number): Decision {
  const least = Math.min(...scored.map((s) => s.ahead));
  const pool = scored.filter((s) => s.ahead <= least + 1);
  let pick = pool[0];
  let top = -1;
  for (const s of pool) {
    const score = rendezvous(firstHash, s.c.backend.id);
    if (score > top) {
      top = score;
      pick = s;
    }
  }
  return { backend: pick.c.backend, reason: `cold: rendezvous among ${pool.length}`, kind: 'cold' };
}

const NUMERIC: Record<string, keyof PrefixAffinityOptions> = {
  bytes_per_token: 'bytesPerToken', balance_abs_threshold: 'balanceAbs', balance_rel_threshold: 'balanceRel', match_threshold: 'matchThreshold',
};

export const prefixAffinityFactory: PolicyFactory = {
  type: 'prefix-affinity',
  validate: (options) => Object.entries(options).flatMap(([k, v]) => {
    if (!(k in NUMERIC)) return [`${k}: not an option of prefix-affinity (known: ${Object.keys(NUMERIC).join(', ')})`];
    return typeof v === 'number' && v > 0 ? [] : [`${k}: expected a positive number, got ${JSON.stringify(v)}`];
  }),
  create: (options, ctx: PolicyContext) => {
    const opts = { ...DEFAULTS };
    for (const [k, v] of Object.entries(options)) if (k in NUMERIC && typeof v === 'number') opts[NUMERIC[k]] = v;
    return new PrefixAffinityPolicy(ctx.state, opts);
  },
};
