/**
 * One league point — a workload, a routing profile, a rate, a seed — run in virtual time: a
 * discrete-event loop over the replicas' engine models (manual clocks) and Switchyard's real
 * routing code (the profile's policy, built by its factory, the learner that fits the latency
 * models, the route's candidate list). No HTTP and no real time: a run's result depends on its
 * inputs only, and a point costs what its engine iterations cost.
 *
 * The next event is the earliest of the next arrival and each busy replica's step end. A step is
 * run when it starts (the engine computes it at once) and its responses and KV events are
 * delivered at its end, so the router never sees the future: a request arriving mid-step waits for
 * the next iteration, as in a real engine. Load signals are read at arrival (the engine's gauges
 * may already include the step under way: a gateway's scrape is never fresher than that).
 */
import type { GatewayMetrics } from '../../core/metrics/gateway-metrics.js';
import { Breakers } from '../../core/routing/breaker.js';
import { RequestTokens, Speculation, SPECULATION_TTL_MS, type Speculations } from '../../core/routing/exact-prefix.js';
import { BytesPerToken, sizePrefixIndex } from '../../core/routing/bytes-per-token.js';
import { LatencyModels } from '../../core/routing/latency-model.js';
import { RoutingLearner, type DispatchRecord } from '../../core/routing/learner.js';
import { PerBackend } from '../../core/routing/per-backend.js';
import { PrefixIndexes } from '../../core/routing/prefix-index.js';
import type { PrefixKey } from '../../core/routing/prefix-key.js';
import type { RoutingPolicy, RoutingRequest, RoutingState } from '../../core/routing/policy.js';
import { RemoteLoad } from '../../core/routing/remote-load.js';
import type { PrefixObservation } from '../../core/state/types.js';
import { Route } from '../../core/routing/route-table.js';
import type { RouteSpec } from '../../core/config/types.js';
import { DEFAULT_DEADLINES } from '../../core/server/deadlines.js';
import type { EngineResponse } from '../../native/types.js';
import type { LeagueProfile } from './profiles.js';
import { LEAGUE_MODEL, Replica } from './replica.js';
import { arrivalTimes, bodyOf, type LeagueRequest, type Workload } from './workload.js';

const CHUNK_BYTES = 256;
const BYTES_PER_TOKEN = 4;

/** Per-request facts of one run, in model ms (NaN where it never happened). */
export interface RunRecords {
  arrival: Float64Array;
  firstToken: Float64Array;
  finish: Float64Array;
  promptTokens: Float64Array;
  cachedTokens: Float64Array;
  completionTokens: Float64Array;
  replica: Int16Array;
  /** Cached prompt tokens the router predicted at its decisions, the engines reported, and both (min of the two), over every answer. */
  prediction: { predicted: number; reported: number; matched: number };
}

export interface RunInput {
  workload: Workload;
  profile: LeagueProfile;
  rate: number;
  seed: number;
  metrics: GatewayMetrics;
  /** Gateway processes sharing a store (default 1). */
  gateways?: number;
}

/** What requests keep between runs: their prefix keys and block keys cost the same every time. */
const prefixKeys = new WeakMap<LeagueRequest, PrefixKey>();
const requestTokens = new WeakMap<LeagueRequest, RequestTokens>();

function tokensOf(req: LeagueRequest): RequestTokens {
  let t = requestTokens.get(req);
  if (!t) {
    t = new RequestTokens(req.ids);
    requestTokens.set(req, t);
  }
  return t;
}

/**
 * One gateway process: its own routing state (prefix index, latency models, speculation), policy,
 * route and learner, as each replica of a deployment has. With several, each sees its own
 * requests in flight and the others' through the shared store's load observations (published
 * every 100 ms, as core/server/gateway.ts does), and learns the others' placements through their
 * prefix observations (delivered at the store's next flush, 50 ms: core/state/redis-store.ts).
 */
interface Gateway {
  state: RoutingState;
  route: Route;
  policy: RoutingPolicy;
  learner: RoutingLearner;
  remote: RemoteLoad;
  /** Requests in flight per replica, sent by this gateway. */
  inFlight: Int32Array;
}

/** How often gateways publish their in-flight counts, and how long an observation takes to reach the others (model ms). */
const LOAD_PUBLISH_MS = 100;
const STORE_FLUSH_MS = 50;
/** The gateway sizes its prefix indexes every 5 s (core/server/gateway.ts). */
const INDEX_SIZING_MS = 5000;

export function runPoint(input: RunInput): RunRecords {
  const { workload: w, profile, seed } = input;
  const n = w.requests.length;
  let now = 0;
  const replicas = w.fleet.map((spec) => new Replica(spec, profile.exact));
  const backendsById = new Map(replicas.map((r) => [r.spec.id, r.backend]));
  const routeSpec: RouteSpec = {
    model: LEAGUE_MODEL, aliases: [], backends: replicas.map((r) => r.spec.id), arms: [], policy: { type: profile.name, options: {} },
    retries: 0, timeouts: DEFAULT_DEADLINES,
  };
  const shared: Array<{ at: number; from: number; obs: PrefixObservation }> = [];
  const gateways: Gateway[] = Array.from({ length: input.gateways ?? 1 }, (_, g) => {
    // Speculative placements lapse, and prefill backlogs drain, in model time, not in the harness's wall time.
    const speculation = new PerBackend(() => new Speculation(SPECULATION_TTL_MS, 200_000, () => now)) as Speculations;
    const state: RoutingState = { prefixes: new PrefixIndexes(), latency: new LatencyModels(() => now), speculation, chunkBytes: CHUNK_BYTES, bytesPerToken: BytesPerToken.perBackend() };
    for (const r of replicas) sizePrefixIndex(state, r.spec.id, r.backend.capabilities.kvCapacityTokens!, BYTES_PER_TOKEN);
    const policy = profile.factory.create(profile.options, { seed: seed + 7919 * g, state });
    const remote = new RemoteLoad(3000, () => now);
    const route = new Route({ ...routeSpec, policy: { type: profile.name, options: profile.options } }, {
      backends: backendsById, breakers: new Breakers(), state, seed, remote, policy,
    });
    const store = { publishPrefix: (obs: PrefixObservation) => shared.push({ at: Math.ceil((now + 1e-9) / STORE_FLUSH_MS) * STORE_FLUSH_MS, from: g, obs }) };
    const learner = new RoutingLearner(state, input.metrics, (input.gateways ?? 1) > 1 ? store : undefined, BYTES_PER_TOKEN);
    return { state, route, policy, learner, remote, inFlight: new Int32Array(replicas.length) };
  });
  let nextLoadPublish = 0;
  let nextIndexSizing = INDEX_SIZING_MS;
  /** What the store has delivered by `now`: prefix observations past their flush, load every 100 ms. */
  const deliver = () => {
    if (gateways.length === 1) return;
    while (shared.length > 0 && shared[0].at <= now) {
      const { from, obs } = shared.shift()!;
      gateways.forEach((gw, g) => { if (g !== from) gw.state.prefixes.of(obs.backendId).insert(obs.hashes); });
    }
    if (now < nextLoadPublish) return;
    const at = Math.floor(now / LOAD_PUBLISH_MS) * LOAD_PUBLISH_MS;
    nextLoadPublish = at + LOAD_PUBLISH_MS;
    gateways.forEach((from, g) => replicas.forEach((r, k) => {
      const obs = { gatewayId: `g${g}`, backendId: r.spec.id, inFlight: from.inFlight[k], at };
      gateways.forEach((gw, h) => { if (h !== g) gw.remote.apply(obs); });
    }));
  };

  const rec: RunRecords = {
    arrival: arrivalTimes(w, input.rate, seed), firstToken: new Float64Array(n).fill(NaN), finish: new Float64Array(n).fill(NaN),
    promptTokens: new Float64Array(n), cachedTokens: new Float64Array(n), completionTokens: new Float64Array(n), replica: new Int16Array(n).fill(-1),
    prediction: { predicted: 0, reported: 0, matched: 0 },
  };
  const records: Array<DispatchRecord | undefined> = new Array(n);
  const sentBy = new Int16Array(n);
  const follower = new Int32Array(n).fill(-1);
  w.requests.forEach((r) => { if (r.after) follower[r.after.index] = r.index; });
  const arrivals = new ArrivalQueue();
  for (let i = 0; i < n; i++) if (!Number.isNaN(rec.arrival[i])) arrivals.push(rec.arrival[i], i);

  const arrive = (i: number) => {
    const req = w.requests[i];
    // Clients reach the gateways round-robin (a load balancer in front of them).
    const g = i % gateways.length;
    const gw = gateways[g];
    deliver();
    if (now >= nextIndexSizing) {
      // As the gateway does every 5 s: each index sized at the bytes per token learned so far.
      nextIndexSizing = now + INDEX_SIZING_MS;
      for (const { state } of gateways) for (const r of replicas) sizePrefixIndex(state, r.spec.id, r.backend.capabilities.kvCapacityTokens!, BYTES_PER_TOKEN);
    }
    for (const [k, r] of replicas.entries()) r.refreshSignals(now, gw.inFlight[k]);
    const rr: RoutingRequest = {
      requestId: `q${i}`, model: LEAGUE_MODEL, body: bodyOf(req), headers: {}, slo: w.slo,
      prefix: prefixKeys.get(req), tokens: profile.exact ? tokensOf(req) : undefined,
    };
    const candidates = gw.route.candidates();
    const decision = gw.policy.select(candidates, rr);
    if (!decision) throw new Error(`league: ${profile.name} chose no replica`);
    const k = replicas.findIndex((r) => r.backend === decision.backend);
    const chosen = candidates[k];
    records[i] = gw.learner.onDecision(gw.route, chosen, rr, decision);
    sentBy[i] = g;
    gw.inFlight[k]++;
    if (rr.prefix) prefixKeys.set(req, rr.prefix);
    const replica = replicas[k];
    if (!replica.pending && replica.engine.nowMs() < now) replica.engine.advanceTo(now);
    const id = replica.engine.enqueue({ inputTokenIds: req.ids, maxTokens: req.maxTokens, streaming: true, ignoreEos: true, endId: -1, scriptedOutput: req.answer });
    replica.byEngineId.set(id, i);
    replica.inFlight++;
    replica.sent++;
    rec.replica[i] = k;
    rec.promptTokens[i] = req.ids.length;
    if (!replica.pending) replica.startStep();
  };

  const respond = (replica: Replica, r: EngineResponse) => {
    const i = replica.byEngineId.get(r.requestId);
    if (i === undefined) return;
    if (r.tokens.length > 0) {
      if (Number.isNaN(rec.firstToken[i])) {
        rec.firstToken[i] = r.timeMs;
        rec.cachedTokens[i] = r.cachedTokens ?? 0;
        gateways[sentBy[i]].learner.prefilled(records[i]!, true);
      }
      rec.completionTokens[i] += r.tokens.length;
    }
    if (!r.isFinal) return;
    replica.byEngineId.delete(r.requestId);
    replica.inFlight--;
    gateways[sentBy[i]].inFlight[rec.replica[i]]--;
    if (r.timings) rec.cachedTokens[i] = r.timings.cachedTokens;
    const done = r.finishReason === 'length' || r.finishReason === 'end-id';
    if (!done) {
      gateways[sentBy[i]].learner.prefilled(records[i]!);
      return;
    }
    rec.finish[i] = r.timeMs;
    const out = rec.completionTokens[i];
    const ttftMs = rec.firstToken[i] - rec.arrival[i];
    gateways[sentBy[i]].learner.onOutcome(records[i]!, {
      usage: { prompt_tokens: rec.promptTokens[i], completion_tokens: out, prompt_tokens_details: { cached_tokens: rec.cachedTokens[i] } },
      ttftMs, tpotMs: out > 1 ? (rec.finish[i] - rec.firstToken[i]) / (out - 1) : undefined,
    });
    const next = follower[i];
    if (next >= 0) {
      rec.arrival[next] = r.timeMs + w.requests[next].after!.thinkMs;
      arrivals.push(rec.arrival[next], next);
    }
  };

  let stalled = 0;
  try {
    for (;;) {
      let step: Replica | undefined;
      for (const r of replicas) if (r.pending && (!step || r.pending.at < step.pending!.at)) step = r;
      const nextArrival = arrivals.peekAt();
      if (!step && nextArrival === undefined) break;
      if (nextArrival !== undefined && (!step || nextArrival <= step.pending!.at)) {
        now = nextArrival;
        arrive(arrivals.pop());
        continue;
      }
      const { at, responses, events } = step!.pending!;
      stalled = responses.length === 0 && at <= now ? stalled + 1 : 0;
      if (stalled > 10_000) throw new Error(`league: replica ${step!.spec.id} makes no progress (${step!.inFlight} in flight)`);
      now = at;
      step!.pending = undefined;
      step!.applyEvents(events);
      for (const r of responses) respond(step!, r);
      if (step!.inFlight > 0) step!.startStep();
    }
  } finally {
    for (const r of replicas) r.close();
  }
  // Routing precision and recall, as /admin/routing reports them, summed over gateways and replicas.
  for (const gw of gateways) {
    for (const r of replicas) {
      const p = gw.learner.precisionOf(r.spec.id);
      rec.prediction.predicted += p.predicted;
      rec.prediction.reported += p.reported;
      rec.prediction.matched += p.matched;
    }
  }
  return rec;
}

/** Arrivals by time (then by index): a binary min-heap. */
class ArrivalQueue {
  private readonly at: number[] = [];
  private readonly idx: number[] = [];

  push(at: number, i: number): void {
    let k = this.at.length;
    this.at.push(at);
    this.idx.push(i);
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (this.less(p, at, i)) break;
      this.at[k] = this.at[p];
      this.idx[k] = this.idx[p];
      k = p;
    }
    this.at[k] = at;
    this.idx[k] = i;
  }

  peekAt(): number | undefined {
    return this.at.length > 0 ? this.at[0] : undefined;
  }

  pop(): number {
    const top = this.idx[0];
    const at = this.at.pop()!;
    const i = this.idx.pop()!;
    const n = this.at.length;
    if (n > 0) {
      let k = 0;
      for (;;) {
        const l = 2 * k + 1;
        if (l >= n) break;
        const c = l + 1 < n && this.less(l + 1, this.at[l], this.idx[l]) ? l + 1 : l;
        if (this.less(c, at, i) === false) break;
        this.at[k] = this.at[c];
        this.idx[k] = this.idx[c];
        k = c;
      }
      this.at[k] = at;
      this.idx[k] = i;
    }
    return top;
  }

  /** Whether entry `k` comes before (at, i). */
  private less(k: number, at: number, i: number): boolean {
    return this.at[k] < at || (this.at[k] === at && this.idx[k] < i);
  }
}
