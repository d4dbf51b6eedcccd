/**
 * Gateway CPU per request in exact prefix mode, tokenization included: the request path's own
 * work on an exact route — the chat template rendered and the prompt tokenized in the tokenizer
 * worker (Qwen3's real tokenizer), the request's block keys, the match against 4 backends' KV
 * trackers (100k engine blocks held in all), the prefix-affinity decision and the learner's
 * record, and the engine's `stored` event for what it prefilled — for 2k, 8k and 32k-token
 * prompts, cold (a prompt never seen) and with a cached prefix (all but the last ~2k tokens seen
 * before, and held by an engine that said so in its events). CPU is process CPU (main and worker threads)
 * per request (the median over a row's requests: a busy machine's bursts do not move it); the
 * event loop's lag is sampled per row while its requests run. As in the gateway, each request
 * starts in a turn of the event loop of its own, and its engine's event is applied in another
 * (they come from sockets): run back to back in one turn, the lag monitor would count two
 * requests' work as one stall. The cold 2k-token row is the baseline the others are printed against.
 *
 *   node --import tsx bench/routing/exact-cpu.ts [--requests 20]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Backend, KvCacheView } from '../../core/plugin/types.js';
import type { KvEvent } from '../../core/routing/kv-tracker.js';
import { GatewayMetrics } from '../../core/metrics/gateway-metrics.js';
import { Speculations } from '../../core/routing/exact-prefix.js';
import { BytesPerToken } from '../../core/routing/bytes-per-token.js';
import { KvTracker } from '../../core/routing/kv-tracker.js';
import { TrackedKvCache } from '../../core/routing/kv-cache-view.js';
import { LatencyModels } from '../../core/routing/latency-model.js';
import { RoutingLearner } from '../../core/routing/learner.js';
import { prefixAffinityFactory } from '../../core/routing/policies/prefix-affinity.js';
import type { Candidate, RoutingRequest, RoutingState } from '../../core/routing/policy.js';
import { PrefixIndexes } from '../../core/routing/prefix-index.js';
import type { Route } from '../../core/routing/route-table.js';
import { tokenizeForRouting } from '../../core/server/request-tokens.js';
import { TokenizerPool } from '../../core/tokenizer/pool.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '20' } } });
const perRow = Number(values.requests);
const BLOCK = 16;

function backend(id: string, kvCache: KvCacheView): Backend {
  const never = () => { throw new Error('not dispatched'); };
  return {
    id, type: 'bench', engine: 'bench', simulated: true, labels: {}, capabilities: { embeddings: false, kvEvents: true }, kvCache,
    models: () => ['m'], start: async () => {}, dispatch: never, parseError: () => ({ message: '' }),
    signals: () => ({ inFlight: 0, updatedAt: 0 }), health: () => ({ status: 'healthy', since: 0 }), close: async () => {},
  };
}

const state: RoutingState = { prefixes: new PrefixIndexes(200_000), latency: new LatencyModels(), speculation: new Speculations(), chunkBytes: 256, bytesPerToken: BytesPerToken.perBackend() };
const trackers = ['b0', 'b1', 'b2', 'b3'].map(() => new KvTracker({ blockSize: BLOCK }));
// 100k engine blocks held over the 4 backends, in chains of 128 blocks of foreign hashes.
for (const [b, tracker] of trackers.entries()) {
  for (let chain = 0; chain < 25_000 / 128; chain++) {
    const blocks = Array.from({ length: 128 }, (_, i) => ({ hash: BigInt(b * 1e9 + chain * 1000 + i), tokens: Array.from({ length: BLOCK }, (_, t) => (chain * 131 + i * 17 + t) % 150_000) }));
    tracker.apply([{ type: 'stored', parentHash: null, blocks }]);
  }
}
const candidates: Candidate[] = trackers.map((t, i) => ({ backend: backend(`b${i}`, new TrackedKvCache(t)), healthy: true, signals: { inFlight: i, waiting: 0, updatedAt: 0 } }));
for (const c of candidates) for (let i = 0; i < 32; i++) state.latency.of(c.backend.id).observeTtft({ uncachedTokens: (i % 8) * 1000, ahead: i % 5 }, 30 + 0.2 * (i % 8) * 1000 + 40 * (i % 5));
const policy = prefixAffinityFactory.create({}, { seed: 1, state });
const learner = new RoutingLearner(state, new GatewayMetrics([]));
const pool = new TokenizerPool({ threads: 1 });
await pool.ready();
// The route's exact tokenization: tokenizeForRouting reads only its pool.
const route = { model: 'm', tokenizer: pool } as Route;

// About one Qwen3 token per word of this text (the table prints the real counts).
const words = 'cache token block prefix engine batch queue model latency river market harbour sixteen Paris'.split(' ');
const text = (n: number, seed: number) => Array.from({ length: n }, (_, i) => `${words[(i * 7 + seed) % words.length]}${(i * seed) % 97 === 0 ? ` ${seed}.` : ''}`).join(' ');

/**
 * One request as the gateway's request path handles it (the body parsed, tokenizeForRouting, the
 * policy, the learner), then the engine's `stored` event applied to its tracker and the first
 * token's bookkeeping. The CPU figure leaves out the body's parse (every route pays it) and the
 * bench's own work of building the event from the ids.
 */
async function oneRequest(raw: Buffer): Promise<{ tokens: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  // The body as it arrives (bytes, off the heap) and is parsed for every request: its strings fresh.
  const body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  const cpuParse = process.cpuUsage(cpu0);
  const { tokens, prefix } = (await tokenizeForRouting(route, body, state.chunkBytes))!;
  const request: RoutingRequest = { requestId: 'r', model: 'm', headers: {}, body, tokens, prefix };
  const decision = policy.select(candidates, request)!;
  const chosen = candidates.findIndex((c) => c.backend === decision.backend);
  const record = learner.onDecision(route, candidates[chosen], request, decision);
  const cpu1 = process.cpuUsage(cpu0);
  // The engine's event and the first token come later, each from its own socket: a turn of the
  // event loop of their own, not the decision's (the event's decode stands where it is built here).
  await nextTurn();
  const stored = engineStored(chosen, tokens.ids, tokens.keys(BLOCK), decision.features?.confirmedBlocks ?? 0);
  const cpu2 = process.cpuUsage();
  if (stored) trackers[chosen].apply([stored]);
  // The first token came: the request's prefill is no longer ahead of anyone there.
  learner.prefilled(record, true);
  const cpu3 = process.cpuUsage(cpu2);
  const ms = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
  return { tokens: tokens.length, cpuMs: ms(cpu1) - ms(cpuParse) + ms(cpu3) };
}

/**
 * What the chosen engine publishes once it has prefilled the prompt: a `stored` event for the
 * blocks it did not hold, under hashes of its own (not Switchyard's keys), chained to the last
 * block it held (what its events had confirmed: the decision's own figure). The gateway applies it to its tracker (counted in the CPU figures; decoding
 * the event from the wire is not).
 */
function engineStored(backend: number, ids: Int32Array, keys: readonly number[], held: number): KvEvent | undefined {
  if (held >= keys.length) return undefined;
  const engineHash = (key: number) => BigInt(key) * 31n + BigInt(backend + 1);
  const blocks = [];
  for (let b = held; b < keys.length; b++) blocks.push({ hash: engineHash(keys[b]), tokens: ids.subarray(b * BLOCK, (b + 1) * BLOCK) });
  return { type: 'stored', parentHash: held > 0 ? engineHash(keys[held - 1]) : null, blocks };
}

/** The lag monitor's sampling period. */
const LAG_RESOLUTION_MS = 1;

/** A turn of the event loop: what lies between two requests, or a request and its engine's event, in the gateway. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Row { name: string; tokens: number; cpuMs: number; meanCpuMs: number; wallMs: number; lagP99Ms: number; lagMaxMs: number }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const rows: Row[] = [];
// Warm-up: JIT, the worker's tokenizer caches.
/** A chat body's bytes, built before the clock starts (building it is the client's work). */
const bodyOf = (system: string, question: string) => Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'system', content: system }, { role: 'user', content: question }] }));
for (let i = 0; i < 5; i++) await oneRequest(bodyOf(text(4000, 900 + i), text(2000, 950 + i)));
for (const totalWords of [2_000, 8_000, 32_000]) {
  const questionWords = 2_000; // ~2k tokens of new text per request
  const systemWords = totalWords - questionWords;
  for (const mode of ['cold', 'cached prefix'] as const) {
    const shared = text(Math.max(1, systemWords), 3);
    if (mode === 'cached prefix') await oneRequest(bodyOf(shared, 'warm-up')); // the prefix seen once before
    // The prompts are built before the clock starts: building them is the client's work.
    const prompts = Array.from({ length: perRow }, (_, i) => bodyOf(
      mode === 'cold' ? `${i} ${Date.now()} ${text(Math.max(1, systemWords), i + 11)}` : shared,
      // A question never seen before: only the system prompt may be cached.
      `${mode} ${totalWords} ${i} ${Date.now()}: ${text(questionWords, i + 101)}`,
    ));
    let tokens = 0;
    const cpuMs: number[] = [];
    const wallMs: number[] = [];
    const rowLag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    rowLag.enable();
    for (const p of prompts) {
      // Each request arrives from its socket in a turn of its own (back to back, the lag monitor
      // would see two requests' work as one).
      await nextTurn();
      const t0 = performance.now();
      const one = await oneRequest(p);
      wallMs.push(performance.now() - t0);
      cpuMs.push(one.cpuMs);
      tokens = one.tokens;
    }
    rowLag.disable();
    // The histogram records the whole interval between its timer's runs, the 1 ms period
    // included (an idle loop reads ~1.1 ms at p50 here): the lag is what lies beyond it.
    const lagMs = (ns: number) => Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS);
    rows.push({ name: `${mode}`, tokens, cpuMs: median(cpuMs), meanCpuMs: mean(cpuMs), wallMs: median(wallMs), lagP99Ms: lagMs(rowLag.percentile(99)), lagMaxMs: lagMs(rowLag.max) });
  }
}
// The target's own figure, paired: a cold 2k-token prompt and a 32k one with the cached 30k
// prefix, alternately, so that whatever the machine does meanwhile weighs on both; the
// median of the pairs' differences (the rows' medians, minutes apart, differ by a millisecond
// from run to run on this VM).
const cachedSystem = text(30_000, 3);
const pairs = Array.from({ length: perRow }, (_, i) => [
  bodyOf(`pair ${i} ${Date.now()} ${text(1, i + 500)}`, `cold 2000 pair ${i} ${Date.now()}: ${text(2_000, i + 701)}`),
  bodyOf(cachedSystem, `cached pair ${i} ${Date.now()}: ${text(2_000, i + 901)}`),
] as const);
const differences: number[] = [];
for (const [cold, cached] of pairs) {
  await nextTurn();
  const a = await oneRequest(cold);
  await nextTurn();
  const b = await oneRequest(cached);
  differences.push(b.cpuMs - a.cpuMs);
}
await pool.close();

const base = rows[0].cpuMs;
process.stdout.write(`exact-mode gateway CPU per request (tokenize in the worker + keys + match over 100k blocks + decision), ${perRow} requests per row\n`);
process.stdout.write('| prompt tokens | prefix | CPU ms / request (median) | mean | wall ms (median) | CPU × cold 2k | lag p99 / max ms (beyond the 1 ms sampling) |\n|--:|:--|--:|--:|--:|--:|--:|\n');
for (const r of rows) process.stdout.write(`| ${r.tokens} | ${r.name} | ${r.cpuMs.toFixed(2)} | ${r.meanCpuMs.toFixed(2)} | ${r.wallMs.toFixed(2)} | ${(r.cpuMs / base).toFixed(2)} | ${r.lagP99Ms.toFixed(1)} / ${r.lagMaxMs.toFixed(1)} |\n`);
const cold2k = rows[0].cpuMs;
const cached32k = rows[5].cpuMs;
const sorted = [...differences].sort((a, b) => a - b);
const q = (f: number) => sorted[Math.floor(f * (sorted.length - 1))];
process.stdout.write(`32k with a cached 30k prefix costs ${(cached32k - cold2k).toFixed(2)} ms of CPU beyond a cold 2k-token prompt, by the rows' medians; paired, ${q(0.5).toFixed(2)} ms (quartiles ${q(0.25).toFixed(2)} to ${q(0.75).toFixed(2)}, ${differences.length} pairs) (target ≤ 2 ms)\n`);
// Per row, while its requests run (a histogram across rows would also count the prompts built between them).
const worst = rows.reduce((a, r) => (r.lagP99Ms > a.lagP99Ms ? r : a));
process.stdout.write(`event-loop lag beyond its 1 ms sampling period, worst row: p99 ${worst.lagP99Ms.toFixed(2)} ms (${worst.tokens} tokens, ${worst.name}), max ${Math.max(...rows.map((r) => r.lagMaxMs)).toFixed(2)} ms (target p99 ≤ 5 ms)\n`);
