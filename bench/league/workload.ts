/**
 * What a league workload is: a fleet, SLOs, and requests made of token ids, with their text.
 *
 * A prompt is built from segments — a group's system prompt, a question, a Mooncake hash block —
 * each a run of seeded token ids whose text is made once: one word of 3-6 letters and a space per
 * token (5.5 bytes a token on average, as Qwen's and Llama 3's tokenizers read English prose — not
 * the routers' default 4, which a router must not depend on), so equal token prefixes give equal
 * text prefixes. Exact profiles match the ids (through the engines' KV events); approximate profiles
 * hash the text, as they would a real prompt.
 */
import { seededRandom } from '../../core/routing/policy.js';

export interface ReplicaSpec {
  id: string;
  /** A profile of native/profiles.yaml. */
  profile: string;
  /** KV capacity override, in blocks (a scaled-down cache, or a realistic one). */
  numBlocks?: number;
  maxModelLen?: number;
}

export interface Slo {
  ttftMs: number;
  tpotMs: number;
}

/** One piece of prompt shared by requests: token ids and their text. */
export class Segment {
  private cached?: string;

  constructor(readonly ids: Int32Array) {}

  get text(): string {
    this.cached ??= textOf(this.ids);
    return this.cached;
  }

  /** The first `n` tokens (a trace's partial last block). */
  head(n: number): Segment {
    const s = new Segment(this.ids.subarray(0, n));
    if (this.cached !== undefined) s.cached = this.cached.slice(0, 4 * n);
    return s;
  }
}

export interface LeagueMessage {
  role: 'system' | 'user' | 'assistant';
  segments: readonly Segment[];
}

export interface LeagueRequest {
  index: number;
  /** The prefix group (or user) it belongs to: for per-group statistics. */
  group: number;
  messages: readonly LeagueMessage[];
  /** The whole prompt's ids: the messages' segments in order. */
  ids: Int32Array;
  maxTokens: number;
  /** The answer the engine gives (multi-turn: the next turn's history holds it). */
  answer?: Int32Array;
  /** Sessions: this request is sent `thinkMs` after request `index`'s answer ends. */
  after?: { index: number; thinkMs: number };
  /** Traces: arrival at the trace's own rate (ms). */
  traceMs?: number;
}

export type Arrivals = 'poisson' | 'trace' | 'sessions';

export interface Workload {
  name: string;
  title: string;
  /** How it was built and scaled, for the report. */
  notes: string;
  fleet: readonly ReplicaSpec[];
  slo: Slo;
  arrivals: Arrivals;
  /** Requests in arrival order; sessions: later turns carry `after` and wait for it. */
  requests: readonly LeagueRequest[];
  /** Request rates (req/s) of the sweep. */
  rates: readonly number[];
  /** Traces: the trace's own request rate. */
  nativeRate?: number;
}

// ---- text ------------------------------------------------------------------------------------

const WORDS: string[] = [];

/** The word of a token id: three letters of its own, 0-3 more (1.5 on average) and a space. */
export function wordOf(id: number): string {
  const i = ((id % 17576) + 17576) % 17576;
  if (WORDS.length === 0) {
    const a = 'abcdefghijklmnopqrstuvwxyz';
    for (let x = 0; x < 26; x++) {
      for (let y = 0; y < 26; y++) {
        for (let z = 0; z < 26; z++) WORDS.push(`${a[x]}${a[y]}${a[z]}${'eta'.slice(0, (x + 3 * y + 7 * z) % 4)} `);
      }
    }
  }
  // Neighbouring ids get unrelated words, so runs of ids do not read as runs of letters.
  return WORDS[(i * 7919) % 17576];
}

export function textOf(ids: ArrayLike<number>): string {
  const parts = new Array<string>(ids.length);
  for (let i = 0; i < ids.length; i++) parts[i] = wordOf(ids[i]);
  return parts.join('');
}

/** The OpenAI body of a request (made per dispatch: the texts of long prompts are not kept). */
export function bodyOf(req: LeagueRequest): Record<string, unknown> {
  return {
    messages: req.messages.map((m) => ({ role: m.role, content: m.segments.map((s) => s.text).join('') })),
    max_tokens: req.maxTokens,
  };
}

export function concatIds(segments: readonly Segment[]): Int32Array {
  const out = new Int32Array(segments.reduce((n, s) => n + s.ids.length, 0));
  let at = 0;
  for (const s of segments) {
    out.set(s.ids, at);
    at += s.ids.length;
  }
  return out;
}

// ---- randomness ------------------------------------------------------------------------------

export type Random = () => number;

export function rng(seed: number): Random {
  return seededRandom(seed);
}

/** Token ids drawn from a vocabulary of 100k, clear of the low ids engines reserve. */
export function randomIds(random: Random, n: number): Int32Array {
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = 1000 + Math.floor(random() * 99_000);
  return ids;
}

export function exponential(random: Random, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

export function normal(random: Random): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Log-normal with the given median and σ of its log, clipped to [min, max]. */
export function logNormal(random: Random, median: number, sigma: number, min: number, max: number): number {
  return Math.round(Math.min(max, Math.max(min, median * Math.exp(sigma * normal(random)))));
}

/** A sampler of ranks 0..n−1 with P(k) ∝ 1/(k+1)^s. */
export function zipf(n: number, s: number): (random: Random) => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) cdf[k] = total += 1 / (k + 1) ** s;
  return (random) => {
    const u = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export function shuffle<T>(random: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * Arrival times (ms) of a workload's requests at `rate` requests/s: Poisson gaps; sessions start
 * as a Poisson process at `rate` × (first turns ÷ all turns), so that turns arrive at about `rate`
 * (a later turn's time is NaN: it is sent when the turn before it is answered); a trace's
 * timestamps are scaled.
 */
export function arrivalTimes(w: Workload, rate: number, seed: number): Float64Array {
  const n = w.requests.length;
  const out = new Float64Array(n).fill(NaN);
  if (w.arrivals === 'trace') {
    const scale = (w.nativeRate ?? rate) / rate;
    for (let i = 0; i < n; i++) out[i] = (w.requests[i].traceMs ?? 0) * scale;
    return out;
  }
  const random = rng(seed * 7919 + 17);
  const firsts = w.requests.filter((r) => !r.after).length;
  const meanGapMs = (1000 * n) / (rate * Math.max(1, firsts));
  let t = 0;
  for (let i = 0; i < n; i++) {
    if (w.requests[i].after) continue;
    out[i] = t;
    t += exponential(random, meanGapMs);
  }
  return out;
}
