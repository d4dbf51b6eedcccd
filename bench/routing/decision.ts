/**
 * Micro-benchmark: one prefix-affinity routing decision for an 8k-token prompt with 100k blocks
 * indexed across 4 backends, including the prompt's prefix key (computed once per request).
 * Prints the median and p99 per decision and the ratio to a round-robin decision measured in the
 * same run.   node --import tsx bench/routing/decision.ts [--iterations 20000]
 */
import { Speculations } from '../../core/routing/exact-prefix.js';
import { BytesPerToken } from '../../core/routing/bytes-per-token.js';
import { parseArgs } from 'node:util';
import type { Backend } from '../../core/plugin/types.js';
import { LatencyModels } from '../../core/routing/latency-model.js';
import { prefixAffinityFactory } from '../../core/routing/policies/prefix-affinity.js';
import { roundRobinFactory } from '../../core/routing/policies/round-robin.js';
import { PrefixIndexes } from '../../core/routing/prefix-index.js';
import { prefixKeyOf, type Candidate, type RoutingRequest, type RoutingState } from '../../core/routing/policy.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' } } });
const iterations = Number(values.iterations);

function backend(id: string): Backend {
  const never = () => { throw new Error('not dispatched'); };
  return {
    id, type: 'bench', engine: 'bench', simulated: true, labels: {}, capabilities: { embeddings: false, kvEvents: false },
    models: () => ['m'], start: async () => {}, dispatch: never, parseError: () => ({ message: '' }),
    signals: () => ({ inFlight: 0, updatedAt: 0 }), health: () => ({ status: 'healthy', since: 0 }), close: async () => {},
  };
}

const state: RoutingState = { prefixes: new PrefixIndexes(200_000), latency: new LatencyModels(), speculation: new Speculations(), chunkBytes: 256, bytesPerToken: BytesPerToken.perBackend() };
const ids = ['b0', 'b1', 'b2', 'b3'];
// 100k blocks indexed: 25k chunk hashes per backend, in chains of 128.
for (const [b, id] of ids.entries()) {
  for (let k = 0; k < 25_000 / 128; k++) state.prefixes.of(id).insert(Array.from({ length: 128 }, (_, i) => (b + 1) * 1e12 + k * 1000 + i));
}
// Latency models fitted, so the decision takes the full predicted-TTFT path.
for (const id of ids) for (let i = 0; i < 32; i++) state.latency.of(id).observeTtft({ uncachedTokens: (i % 8) * 1000, ahead: i % 5 }, 30 + 0.2 * (i % 8) * 1000 + 40 * (i % 5));
const candidates: Candidate[] = ids.map((id, i) => ({ backend: backend(id), healthy: true, signals: { inFlight: i, waiting: 0, updatedAt: 0 } }));

// An 8k-token prompt (~32 KB): a shared 6k-token system prompt held by b2, and a 2k-token question.
const words = 'cache token block prefix engine batch queue model latency river market harbour '.split(' ');
const text = (n: number, seed: number) => Array.from({ length: n }, (_, i) => words[(i * 7 + seed) % words.length]).join(' ');
const systemPrompt = text(4500, 1);
const makeRequest = (i: number): RoutingRequest => ({
  requestId: `r${i}`, model: 'm', headers: {},
  body: { messages: [{ role: 'system', content: systemPrompt }, { role: 'user', content: `${i} ${text(1500, i)}` }] },
});
state.prefixes.of('b2').insert(prefixKeyOf(makeRequest(0), 256).hashes);

function measure(name: string, policy: { select(c: readonly Candidate[], r: RoutingRequest): unknown }): number[] {
  const requests = Array.from({ length: 64 }, (_, i) => makeRequest(i + 1));
  for (let i = 0; i < 2000; i++) policy.select(candidates, { ...requests[i % 64] }); // warm-up (JIT)
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const r = { ...requests[i % 64] };
    delete r.prefix; // a fresh request: its key is computed inside the decision
    const t = process.hrtime.bigint();
    policy.select(candidates, r);
    times.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  times.sort((a, b) => a - b);
  const p = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  process.stdout.write(`${name.padEnd(34)} median ${p(0.5).toFixed(1)} µs   p99 ${p(0.99).toFixed(1)} µs\n`);
  return [p(0.5), p(0.99)];
}

process.stdout.write(`routing decision, 8k-token prompt (${Buffer.byteLength(JSON.stringify(makeRequest(1).body))} bytes), ` +
  `${ids.reduce((s, id) => s + state.prefixes.of(id).size, 0)} blocks indexed over ${ids.length} backends, ${iterations} decisions\n`);
const [rr] = measure('round-robin (baseline)', roundRobinFactory.create({}, { seed: 1, state }));
const [pa] = measure('prefix-affinity (key + match + model)', prefixAffinityFactory.create({}, { seed: 1, state }));
process.stdout.write(`prefix-affinity / round-robin: ${(pa / rr).toFixed(1)}×; target ≤ 50 µs median: ${pa <= 50 ? 'met' : 'NOT met'}\n`);
