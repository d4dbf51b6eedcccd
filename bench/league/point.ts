/**
 * One league point looked into: a workload, a profile, a rate and a seed run once (harness.ts),
 * and what its routing did — decisions by kind (and how many the load bound touched), TTFT by
 * kind and by hit or miss, requests and distinct groups per replica, and its placements replayed
 * through per-replica LRU caches of the replicas' size (what the same placement hits on engines
 * that evict least-recently-used blocks first, as vLLM does), beside the engines' own hit rate.
 *
 *   node --import tsx bench/league/point.ts --workload W2 --profile prefix-affinity --rate 40 [--seed 1]
 */
import { parseArgs } from 'node:util';
import { GatewayMetrics } from '../../core/metrics/gateway-metrics.js';
import type { PolicyFactory } from '../../core/routing/policy.js';
import { fmt, table } from '../scenarios/common.js';
import { lruHits } from './bound.js';
import { runPoint } from './harness.js';
import { resolveProfile } from './profiles.js';
import { engineProfileOf } from './replica.js';
import { percentile, requestBlockKeys } from './stats.js';
import { buildWorkload, WORKLOADS, type WorkloadName } from './workloads.js';

const { values } = parseArgs({
  options: { workload: { type: 'string' }, profile: { type: 'string', default: 'prefix-affinity' }, rate: { type: 'string' }, seed: { type: 'string', default: '1' } },
});
if (!values.workload || !(WORKLOADS as readonly string[]).includes(values.workload) || !(Number(values.rate) > 0)) {
  process.stderr.write(`usage: node --import tsx bench/league/point.ts --workload ${WORKLOADS.join('|')} --rate R [--profile NAME] [--seed S]\n`);
  process.exit(2);
}
const seed = Number(values.seed);
const w = buildWorkload(values.workload as WorkloadName, { quick: false, seed });
const base = resolveProfile(values.profile!);

// The profile's policy, with each decision's kind kept (and whether the load bound touched it).
const kinds: string[] = [];
const factory: PolicyFactory = {
  ...base.factory,
  create: (options, ctx) => {
    const policy = base.factory.create(options, ctx);
    return {
      type: policy.type,
      select: (candidates, request) => {
        const d = policy.select(candidates, request);
        if (d) kinds.push(`${d.kind ?? '?'}${d.reason.includes('load bound') ? ' (load bound)' : ''}`);
        return d;
      },
    };
  },
};
const rec = runPoint({ workload: w, profile: { ...base, factory }, rate: Number(values.rate), seed, metrics: new GatewayMetrics([]) });
const n = rec.arrival.length;
const ttft = (i: number) => rec.firstToken[i] - rec.arrival[i];

const byKind = new Map<string, number[]>();
for (let i = 0; i < n; i++) {
  const k = `${kinds[i]}, ${rec.cachedTokens[i] > 0 ? 'hit' : 'miss'}`;
  (byKind.get(k) ?? byKind.set(k, []).get(k)!).push(ttft(i));
}
const all = Array.from({ length: n }, (_, i) => ttft(i)).sort((a, b) => a - b);
process.stdout.write(`${w.name} ${base.name} at ${values.rate} req/s, seed ${seed}: ${n} requests; TTFT p50 ${fmt(percentile(all, 50), 0)}, p90 ${fmt(percentile(all, 90), 0)}, p99 ${fmt(percentile(all, 99), 0)} ms (model time)\n\n`);
process.stdout.write(`${table(['decision, outcome', 'requests', 'TTFT p50 ms', 'TTFT p90 ms'], [...byKind.entries()].sort((a, b) => b[1].length - a[1].length).map(([k, v]) => {
  v.sort((a, b) => a - b);
  return [k, v.length, fmt(percentile(v, 50), 0), fmt(percentile(v, 90), 0)];
}))}\n\n`);

// Per replica: requests, distinct groups, the engine's hit rate; then the placements through LRU caches.
const profiles = w.fleet.map(engineProfileOf);
const blockSize = profiles[0].blockSize;
const order = Array.from(rec.arrival.keys()).sort((a, b) => rec.arrival[a] - rec.arrival[b] || a - b);
const keys: number[][] = w.fleet.map(() => []);
const counted: number[][] = w.fleet.map(() => []);
const groups = w.fleet.map(() => new Set<number>());
const requests = w.fleet.map(() => 0);
const cached = w.fleet.map(() => 0);
const prompt = w.fleet.map(() => 0);
for (const i of order) {
  const k = rec.replica[i];
  const r = w.requests[i];
  groups[k].add(r.group);
  requests[k]++;
  cached[k] += rec.cachedTokens[i];
  prompt[k] += r.ids.length;
  const { own, answer } = requestBlockKeys(r, blockSize);
  for (const x of own) { keys[k].push(x); counted[k].push(1); }
  for (const x of answer) { keys[k].push(x); counted[k].push(0); }
}
const lru = w.fleet.map((_, k) => lruHits(keys[k], profiles[k].numBlocks, counted[k]).hits * blockSize);
const sum = (a: number[]) => a.reduce((s, x) => s + x, 0);
process.stdout.write(`${table(['replica', 'requests', 'groups', 'engine hit %', 'LRU replay hit %'], w.fleet.map((s, k) => [
  s.id, requests[k], groups[k].size, fmt((100 * cached[k]) / prompt[k], 1), fmt((100 * lru[k]) / prompt[k], 1),
]))}\n`);
process.stdout.write(`all: engine hit ${fmt((100 * sum(cached)) / sum(prompt), 1)}%, these placements through per-replica LRU ${fmt((100 * sum(lru)) / sum(prompt), 1)}%; `
  + `${new Set(order.map((i) => w.requests[i].group)).size} groups on ${sum(groups.map((g) => g.size))} (replica, group) pairs (more pairs than groups: a group sent to several replicas)\n`);
