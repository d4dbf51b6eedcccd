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
import { LatencyModels } from '../../core/routing/latency-model.js';
import { RoutingLearner, type DispatchRecord } from '../../core/routing/learner.js';
import { PerBackend } from '../../core/routing/per-backend.js';
import { PrefixIndexes } from '../../core/routing/prefix-index.js';
import type { PrefixKey } from '../../core/routing/prefix-key.js';
import type { RoutingRequest, RoutingState } from '../../core/routing/policy.js';
import { NO_REMOTE_LOAD } from '../../core/routing/remote-load.js';
import { Route } from '../../core/routing/route-table.js';
import type { EngineResponse } from '../../core/engine/types.js';
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
}

export interface RunInput {
  workload: Workload;
  profile: LeagueProfile;
  rate: number;
  seed: number;
  metrics: GatewayMetrics;
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

export function runPoint(input: RunInput): RunRecords {
  const { workload: w, profile, seed } = input;
  const n = w.requests.length;
  let now = 0;
  const replicas = w.fleet.map((spec) => new Replica(spec, profile.exact));
  // Speculative placements lapse in model time, not in the harness's wall time.
  const speculation = new PerBackend(() => new Speculation(SPECULATION_TTL_MS, 200_000, () => now)) as Speculations;
  const state: RoutingState = { prefixes: new PrefixIndexes(), latency: new LatencyModels(), speculation, chunkBytes: CHUNK_BYTES };
  for (const r of replicas) state.prefixes.setCapacityTokens(r.spec.id, r.backend.capabilities.kvCapacityTokens!, CHUNK_BYTES, BYTES_PER_TOKEN);
  const policy = profile.factory.create(profile.options, { seed, state });
  const route = new Route(new Breakers(), NO_REMOTE_LOAD, LEAGUE_MODEL, [], replicas.map((r) => r.backend), policy, 0,
    undefined, undefined, [], undefined, undefined, seed);
  const learner = new RoutingLearner(state, input.metrics, undefined, BYTES_PER_TOKEN);

  const rec: RunRecords = {
    arrival: arrivalTimes(w, input.rate, seed), firstToken: new Float64Array(n).fill(NaN), finish: new Float64Array(n).fill(NaN),
    promptTokens: new Float64Array(n), cachedTokens: new Float64Array(n), completionTokens: new Float64Array(n), replica: new Int16Array(n).fill(-1),
  };
  const records: Array<DispatchRecord | undefined> = new Array(n);
  const follower = new Int32Array(n).fill(-1);
  w.requests.forEach((r) => { if (r.after) follower[r.after.index] = r.index; });
  const arrivals = new ArrivalQueue();
  for (let i = 0; i < n; i++) if (!Number.isNaN(rec.arrival[i])) arrivals.push(rec.arrival[i], i);

  const arrive = (i: number) => {
    const req = w.requests[i];
    for (const r of replicas) r.refreshSignals(now);
    const rr: RoutingRequest = {
      requestId: `q${i}`, model: LEAGUE_MODEL, body: bodyOf(req), headers: {}, slo: w.slo,
      prefix: prefixKeys.get(req), tokens: profile.exact ? tokensOf(req) : undefined,
    };
    const candidates = route.candidates();
    const decision = policy.select(candidates, rr);
    if (!decision) throw new Error(`league: ${profile.name} chose no replica`);
    const k = replicas.findIndex((r) => r.backend === decision.backend);
    const chosen = candidates[k];
    records[i] = learner.onDecision(route, chosen, rr, decision);
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
        learner.prefilled(records[i]!, true);
      }
      rec.completionTokens[i] += r.tokens.length;
    }
    if (!r.isFinal) return;
    replica.byEngineId.delete(r.requestId);
    replica.inFlight--;
    if (r.timings) rec.cachedTokens[i] = r.timings.cachedTokens;
    const done = r.finishReason === 'length' || r.finishReason === 'end-id';
    if (!done) {
      learner.prefilled(records[i]!);
      return;
    }
    rec.finish[i] = r.timeMs;
    const out = rec.completionTokens[i];
    const ttftMs = rec.firstToken[i] - rec.arrival[i];
    learner.onOutcome(records[i]!, {
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
