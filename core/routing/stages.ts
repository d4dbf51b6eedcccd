/**
 * The stages profiles are built from: filters, objectives (predicted milliseconds) and pickers.
 * Each is small and knows nothing of the profile it sits in.
 */
import { hashString } from './prefix-key.js';
import { seededRandom, type RoutingRequest } from './policy.js';
import { matchNote, type Features } from './features.js';
import type { Filter, Objective, Picker, Selection } from './pipeline.js';

// ---- filters -------------------------------------------------------------------------------

/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, SODA 2018; HAProxy's
 * `hash-balance-factor`): a backend takes one more request only while its load stays within
 * `c` × its fair share of the set's load, counting the request — the share weighted by reported
 * KV capacity, so an A10 beside an H100 is held to its own. A group that has grown hot spreads to
 * a second holder before its first is buried, however well the latency model likes the holder:
 * one Zipf-hot group sent 37% of all requests to its holder at a load where every SLO was still
 * met (league W2z, 74 req/s, requests per replica max/mean 1.50 → 1.08–1.25 at c = 1.5).
 *
 * Only a sustained excess is bounded. A backend over the bound right now is passed over only
 * while it has also taken more than `sustained` × its share of the last ~`window` requests this
 * filter saw placed: a holder that a burst of arrivals made busy for a moment keeps its prefix's
 * requests, since each one moved pays a cold prefill and stores the prefix a second time. Bounded
 * on the moment alone, a uniform workload's holders passed 16 of 1,024 requests to a cold backend
 * at 40% of capacity, and those misses set the p90 TTFT (league W2, seed 1: p90 103 → 63 ms). With
 * both (3 seeds, every workload): W2 p90 97 → 56 ms, hit 98.6 → 99.4% of MIN; W2z requests per
 * replica max/mean 1.14 → 1.09; W1 hit 87.7 → 88.5% of MIN; goodput unchanged on W1–W4, W5's
 * median 70.4 → 68.2 req/s within its seeds' spread (67.4–79.2). Until the window has seen half its
 * length of requests there is no trend to tell from a burst, and the moment alone decides.
 */
export function loadBound(c: number, window = LOAD_BOUND_WINDOW, sustained = LOAD_BOUND_SUSTAINED): Filter {
  // Each backend's exponentially decayed count of placements. Rather than decaying every count at
  // each placement, each new placement weighs 1/decay times the last (`weight`): the counts keep
  // their ratios, and `seen / (weight · window)` is the decayed total (≤ 1), rescaled before the
  // weights overflow.
  const recent = new Map<string, number>();
  let seen = 0;
  let weight = 1;
  const growth = 1 / (1 - 1 / window);
  return {
    name: 'load-bound',
    picked(f) {
      weight *= growth;
      if (weight > 1e100) {
        for (const [id, w] of recent) recent.set(id, w / weight);
        seen /= weight;
        weight = 1;
      }
      const id = f.c.backend.id;
      recent.set(id, (recent.get(id) ?? 0) + weight);
      seen += weight;
    },
    apply(set, sel) {
      const total = set.reduce((a, f) => a + f.load, 0);
      const share = capacityShares(set);
      let setRecent = 0;
      for (const f of set) setRecent += recent.get(f.c.backend.id) ?? 0;
      const trending = seen / (weight * window) >= 0.5 && setRecent > 0;
      // One request more per backend in the total: at a handful of requests in flight the bound
      // must not part a prefix from its holder for one request there (a batch takes many).
      const ok = set.filter((f, i) => f.load + 1 <= Math.ceil(c * share[i] * (total + 1 + set.length))
        || (trending && (recent.get(f.c.backend.id) ?? 0) <= sustained * share[i] * setRecent));
      if (ok.length === 0 || ok.length === set.length) return set;
      sel.notes.push('load bound');
      return ok;
    },
  };
}

/** The requests the load bound's recent shares cover (decisions, so the window's length in time follows the rate). */
export const LOAD_BOUND_WINDOW = 128;
/**
 * How far past its share of recent requests a backend over the bound must be for the bound to
 * hold. League, 3 seeds, with a 128-request window: see loadBound; a 256-request window did as
 * well but for W2's p90 (62 ms).
 */
export const LOAD_BOUND_SUSTAINED = 1.15;

/** Each candidate's share of the set's reported KV capacity; equal shares unless every one reports it. */
function capacityShares(set: readonly Features[]): number[] {
  const caps = set.map((f) => f.c.backend.capabilities.kvCapacityTokens ?? 0);
  if (caps.some((cap) => !(cap > 0))) return set.map(() => 1 / set.length);
  const sum = caps.reduce((a, b) => a + b, 0);
  return caps.map((cap) => cap / sum);
}

/**
 * The candidates predicted to meet the request's TTFT and TPOT targets, with `headroom` (a
 * prediction is a mean; real latencies spread around it). When none is, the set is kept and the
 * decision says so: the route's admission queues or sheds it.
 */
export function meetsSlo(headroom: number): Filter {
  return {
    name: 'meets-slo',
    apply(set, sel) {
      const ttft = sel.request.slo?.ttftMs;
      const tpot = sel.request.slo?.tpotMs;
      // Nothing is judged before every candidate's latency model is fitted: a request must not be
      // shed or queued on a guess.
      if ((ttft === undefined && tpot === undefined) || set.some((f) => f.ttftMs === undefined)) return set;
      sel.sloJudged = true;
      const meets = set.filter((f) =>
        (ttft === undefined || (f.ttftMs !== undefined && f.ttftMs <= headroom * ttft)) &&
        (tpot === undefined || f.tpotMs === undefined || f.tpotMs <= headroom * tpot));
      if (meets.length > 0) return meets;
      sel.sloMiss = true;
      return set;
    },
  };
}

// ---- objectives (predicted ms; lower wins) -----------------------------------------------------

/**
 * The delay the request adds, in predicted milliseconds: its own TTFT there, plus the prefill work
 * it costs that backend once for itself and once for every request there it holds up (queued
 * prefills wait for it; running decodes share their steps with its prefill chunks). TTFT alone is
 * myopic — an idle backend that must prefill the whole prompt looks as good as a prefix holder
 * with a short queue, and every such choice stores the prefix twice and spends a cold prefill the
 * fleet pays for at the next peak (league W1, 1 seed: goodput 45 → 50 req/s, hit rate 47 → 59%);
 * counting the work once understated it where the holder was busy and the spread backend was too
 * (W1, 3 seeds: median 50.6 → 52.8 req/s once the KV-room filter, which it made redundant, went).
 *
 * A cold prompt (no candidate holds any of it) is charged only the work beyond the least any
 * candidate would spend: the rest is paid wherever it goes, and charged × (1 + load) it sent the
 * prompt to the backend with the fewest requests however long the prefills they were — predicted
 * TTFTs of 3–4.4 s taken over 0.4–1.5 s elsewhere, most of the Mooncake trace's avoidable SLO
 * misses once its latency models were fitted early (league W4, 4 × H100, 16.1 req/s, seed 1: 27
 * of 48). With latency models shared by alike backends (latency-model.ts), league, 3 seeds: W4
 * goodput median 18.30 → 19.58 req/s, p90 TTFT ÷ least-load 0.40 → 0.37 (6 seeds: 17.60 → 18.65,
 * every seed up; 0.46 → 0.40). A prompt some backend holds keeps the whole work × load: there it
 * is what moves a busy holder's group to a second backend (charged only the excess there too,
 * W5's busier H100 took 1.16–1.22× its capacity share over 3 seeds; as is 1.12–1.19, before
 * 1.13–1.15).
 */
export const ttftPlusWork: Objective = {
  name: 'predicted ttft + prefill work × (1 + load)',
  prepare(set, sel) {
    let least = Infinity;
    if (!sel.held) for (const f of set) if (f.prefillMs !== undefined && f.prefillMs < least) least = f.prefillMs;
    sel.leastPrefillMs = Number.isFinite(least) ? least : 0;
  },
  cost: (f, sel) => (f.ttftMs === undefined || f.prefillMs === undefined ? undefined : f.ttftMs + Math.max(0, f.prefillMs - (sel.leastPrefillMs ?? 0)) * (1 + f.load)),
};

/** In-flight plus waiting requests (not milliseconds: round-robin and least-load compare counts). */
export const load: Objective = { name: 'load', cost: (f) => f.load };

// ---- pickers -------------------------------------------------------------------------------

/** Each candidate in turn. */
export function roundRobin(label = 'round-robin'): Picker {
  let next = 0;
  return {
    pick(set) {
      const f = set[next % set.length];
      next = (next + 1) % 1_000_000_007;
      return { f, reason: label, kind: label };
    },
  };
}

/**
 * Power of two choices: two candidates sampled, the cheaper taken. Sampling two instead of
 * scanning for the global minimum keeps several gateway processes (whose in-flight counts are
 * each their own) from all herding onto the same momentarily idlest backend.
 */
export function powerOfTwo(seed: number, label: string): Picker {
  const random = seededRandom(seed);
  return {
    pick(set, objective, sel) {
      if (set.length === 1) return { f: set[0], reason: `${label}: only candidate`, kind: label };
      const i = Math.floor(random() * set.length);
      let j = Math.floor(random() * (set.length - 1));
      if (j >= i) j++;
      const cost = (f: Features) => objective?.cost(f, sel) ?? f.load;
      const [a, b] = cost(set[i]) <= cost(set[j]) ? [set[i], set[j]] : [set[j], set[i]];
      return { f: a, reason: `${label} ${cost(a)} vs ${cost(b)}`, kind: label };
    },
  };
}

/**
 * The candidate of least cost (ties: the better predicted TTFT, then the longer match). When it
 * holds none of the prompt, a cold prefix: the candidates that would cost about the same
 * (within 10% — each backend's model is fitted on its own, so two replicas of one GPU never agree
 * exactly, while an A10 and an H100 differ by 2× or more) and hold none of it are ranked by
 * rendezvous hashing, so the group's next requests — from any gateway replica — find it in one
 * place, not wherever a prediction's noise put it. While costs cannot be predicted, `fallback` picks.
 */
export function argmin(fallback: Picker): Picker {
  return {
    pick(set, objective, sel) {
      if (!objective) return fallback.pick(set, objective, sel);
      const costs: number[] = [];
      for (const f of set) {
        const c = objective.cost(f, sel);
        if (c === undefined) return fallback.pick(set, objective, sel);
        costs.push(c);
      }
      let best = 0;
      for (let i = 1; i < set.length; i++) {
        const d = costs[i] - costs[best];
        if (d < -1e-9 || (Math.abs(d) <= 1e-9 && tieBreak(set[i], set[best]) < 0)) best = i;
      }
      const pick = set[best];
      const detail = costNote(pick);
      if (pick.match > 0) {
        return { f: pick, reason: `${matchNote(pick)}, ${detail}`, kind: 'prefix' };
      }
      // Holders passed over (busy) make this a spread, not a cold prefix.
      const spread = sel.held === true;
      const alike = set.filter((f, i) => f.match === 0 && Math.abs(costs[i] - costs[best]) <= 0.1 * Math.max(1, costs[best]));
      const f = alike.length > 1 ? rendezvousPick(alike, coldHash(sel)) : pick;
      const how = alike.length > 1 ? `rendezvous among ${alike.length}, ${costNote(f)}` : detail;
      return spread
        ? { f, reason: `spread: ${how} beats the prefix holders`, kind: 'spread' }
        : { f, reason: alike.length > 1 ? `cold: ${how}` : detail, kind: 'cold' };
    },
  };
}

function tieBreak(a: Features, b: Features): number {
  const t = (a.ttftMs ?? 0) - (b.ttftMs ?? 0);
  if (Math.abs(t) > 1e-9) return t;
  return b.matchTokens - a.matchTokens;
}

function costNote(f: Features): string {
  if (f.ttftMs === undefined) return `${f.ahead} ahead`;
  return `predicted ttft ${Math.round(f.ttftMs)} ms${f.tpotMs !== undefined ? `, tpot ${Math.round(f.tpotMs)} ms` : ''}`;
}

export interface CacheAwareOptions {
  /** Balance mode when max − min load > `balanceAbs` and max > `balanceRel` · min. */
  balanceAbs: number;
  balanceRel: number;
  /** Follow the longest match when it covers more than this share of the prompt. */
  matchThreshold: number;
  /** On a miss: rendezvous among the least loaded (one place for a new prefix, from every replica), or simply the least loaded. */
  onMiss: 'rendezvous' | 'least-load';
}

/**
 * SGLang's cache-aware rule (used by the product's profiles while latency models are unfitted):
 * balance when the load is skewed, else follow the longest match above a match rate, else place
 * the prefix as a miss.
 */
export function cacheAware(opts: CacheAwareOptions): Picker {
  return {
    pick(set, _objective, sel) {
      const load = capacityWeighted(set);
      const loads = set.map(load);
      const max = Math.max(...loads);
      const min = Math.min(...loads);
      const least = () => set.reduce((a, b) => (load(b) < load(a) ? b : a));
      if (max - min > opts.balanceAbs && max > opts.balanceRel * min) {
        return { f: least(), reason: `load: imbalance ${Math.round(max)} vs ${Math.round(min)}`, kind: 'load' };
      }
      const rate = (f: Features) => (f.units > 0 ? f.match / f.units : 0);
      const bestRate = Math.max(...set.map(rate));
      if (bestRate > opts.matchThreshold) {
        const f = set.filter((x) => rate(x) === bestRate).reduce((a, b) => (load(b) < load(a) ? b : a));
        return { f, reason: matchNote(f), kind: 'prefix' };
      }
      if (opts.onMiss === 'least-load') return { f: least(), reason: `miss: least loaded (${min} ahead)`, kind: 'cold' };
      const pool = set.filter((f) => load(f) <= min + 1);
      // Rendezvous among one is that one: the prompt is not hashed for it.
      return { f: pool.length === 1 ? pool[0]! : rendezvousPick(pool, coldHash(sel)), reason: `cold: rendezvous among ${pool.length}`, kind: 'cold' };
    },
  };
}

/**
 * Requests ahead, scaled by the backend's share of the set's KV capacity where every candidate
 * reports one: before latency can be predicted, the capacity an engine reports is the only sign
 * that an A10 beside an H100 serves a fraction of its requests (scaled to the set's mean, so a
 * homogeneous fleet compares plain counts).
 */
function capacityWeighted(set: readonly Features[]): (f: Features) => number {
  const share = new Map(capacityShares(set).map((x, i) => [set[i], x * set.length]));
  return (f) => f.ahead / share.get(f)!;
}

// ---- rendezvous hashing ------------------------------------------------------------------------

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

function rendezvousPick(set: readonly Features[], prefixHash: number): Features {
  let pick = set[0];
  let top = -1;
  for (const f of set) {
    const score = rendezvous(prefixHash, f.c.backend.id);
    if (score > top) {
      top = score;
      pick = f;
    }
  }
  return pick;
}

/** The prefix's first chunk; a prompt shorter than one chunk shares nothing, and its own hash still spreads such prompts evenly and the same way on every replica. */
function coldHash(sel: Selection): number {
  return sel.shape?.firstHash ?? shortPromptHash(sel.request);
}

function shortPromptHash(request: RoutingRequest): number {
  return hashString(JSON.stringify(request.body.messages ?? request.body.prompt ?? ''));
}
