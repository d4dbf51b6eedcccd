/**
 * Many slow streams through one gateway process: N streaming chats held open at once, each
 * getting about one token a second, through the in-process engine model (`--via in-process`, one
 * socket per stream) or through a proxy plugin to an emulated vLLM replica (`--via proxy`: each
 * stream holds two sockets, client and upstream). The engines are SIMULATED, sized so that every
 * stream is in the batch at once (no queueing) and a step takes about a second.
 *
 * The gateway is the compiled one (dist/, built first when missing), as production runs it.
 * Measured on the gateway process: its RSS and its open descriptors (sampled every 500 ms, the peaks), its event-loop lag
 * (prom-client's p99 and max over each 1 s scrape of /metrics: the worst interval and the median
 * one), and the streams: answered whole (every token and [DONE]), failed, dropped.
 *
 * prom-client's lag figures are those of node's monitorEventLoopDelay at 10 ms resolution, whose
 * samples are the whole intervals between its timer's runs: an idle loop reads ~10 ms (p50 9.8,
 * p99 11.0 here). The lag — how late the loop ran the timer — is the figure less that period;
 * both are printed, the lag first.
 *
 * `--gc` runs the gateway with V8's `--trace-gc-nvp` and prints its collections beside the lag:
 * per second the longest pause, and per kind (scavenge, mark-compact) their count, total and longest
 * pause, over the whole run and the holding window. A pause holds the loop as long as it lasts, so
 * where the two series rise together the lag is the collector's.
 *
 * `--via floor` puts the overhead bench's node floor (floor-proxy.ts) where the gateway was, in
 * front of the same emulated vLLM: the lag any Node proxy shows under the same streams.
 *
 *   node --import tsx bench/overhead/many-streams.ts [--via in-process|proxy|floor] [--streams N]
 *        [--tokens T] [--ramp-s S] [--gc] [--node-args="--cpu-prof …"] [--gateway-log FILE]
 *
 * Connection caps are raised for the run (limits.max_connections, max_in_flight_per_client); the
 * file-descriptor limit (ulimit -n) bounds N: each stream holds one descriptor in the client and
 * one (in-process) or two (proxy) in the gateway.
 */
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';
import { Agent, request } from 'undici';
import { spawnSelf } from '../../core/cli/self.js';
import { packageRoot } from '../../core/util/package-root.js';
import { spawnSim } from '../sim/spawn.js';
import { GcTrace, type Collection } from './gc-trace.js';
import { ensureBuilt } from './harness.js';
import { ProcessGroup } from './processes.js';
import { cliEntry } from './targets.js';

const { values } = parseArgs({
  options: {
    via: { type: 'string', default: 'in-process' },
    streams: { type: 'string' },
    // 20 tokens at about one a second, opened over 4 s: every stream is open from the last one's
    // first token to the first one's end (~20 s). On a 2-core machine shared with this client,
    // 10,000 in-process streams had all had a token at 13-16 s: opening them is ~10 s of the
    // gateway's CPU, so the window in which it holds them all is 3-6 s.
    tokens: { type: 'string', default: '20' },
    'ramp-s': { type: 'string', default: '4' },
    'node-args': { type: 'string' },
    // The gateway's stdout and stderr (e.g. --node-args=--trace-gc) are written here.
    'gateway-log': { type: 'string' },
    gc: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('usage: node --import tsx bench/overhead/many-streams.ts [--via in-process|proxy|floor] [--streams N] [--tokens T] [--ramp-s S] [--gc] [--node-args="--cpu-prof …"]\n');
  process.exit(0);
}
const via = values.via === 'proxy' || values.via === 'floor' ? values.via : 'in-process';
const streams = Number(values.streams ?? (via === 'in-process' ? 10000 : 5000));
const tokens = Number(values.tokens);
const rampMs = Number(values['ramp-s']) * 1000;

const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-streams-'));
const root = packageRoot(import.meta.url);
let sim: Awaited<ReturnType<typeof spawnSim>> | undefined;
let backend: Record<string, unknown>;
// Profiles of the engine model (appended to the shipped file, whose anchors they use) whose batch
// holds every stream and whose step takes about a second at any batch size: a slow token stream
// from the first request on, not a GPU's speed. (Until 2026-12-03 the step grew with the batch
// from a few ms, so the first streams ended before the last began; and the in-process engine had
// the A10 profile, whose KV cache holds ~1,900 streams: the rest waited in its queue, connected
// and given no token. The runs before that date never held their N streams at once.)
const step = `step_ms: { base: 900, per_seq: ${(100 / streams).toFixed(5)}, per_prefill_token: 0, per_kv_token: 0 }`;
const profilesFile = path.join(dir, 'profiles.yaml');
writeFileSync(profilesFile, `${readFileSync(path.join(root, 'native', 'profiles.yaml'), 'utf8')}
  soak-vllm:
    <<: *vllm
    gpu: a100
    model: qwen2.5-7b
    scheduler: { <<: *vllm_sched, max_batch_size: ${streams + 100}, max_num_tokens: 65536 }
    ${step}
    frontend_overhead_ms: 0
  soak-trtllm:
    <<: *trtllm
    gpu: h100
    model: llama3-8b
    ${step}
    frontend_overhead_ms: 0
`);
if (via !== 'in-process') {
  sim = await spawnSim(['--engine', 'vllm', '--profile', 'soak-vllm', '--profile-file', profilesFile, '--port', '0', '--model', 'soak']);
  backend = { id: 'engine', type: 'vllm', url: sim.url, connections: streams + 100 };
} else {
  // H100 memory for an 8B model: 13,505 blocks of 32 tokens, one per stream (the 11-token prompt
  // and 20 tokens; TensorRT-LLM's policy reserves prompt + max_tokens at admission).
  backend = {
    id: 'engine', type: 'trtllm', executor: 'model', profile: 'soak-trtllm', profiles_file: profilesFile, models: ['soak'],
    time_scale: 1, max_batch_size: streams + 100, max_num_tokens: 65536, enable_chunked_context: true,
  };
}
const config = path.join(dir, 'gateway.yaml');
writeFileSync(config, yaml.dump({
  listen: { host: '127.0.0.1', port: 0 },
  limits: { max_connections: 0, max_in_flight_per_client: 0, request_timeout_ms: 600_000, client_stall_timeout_ms: 600_000 },
  backends: [backend],
  routes: [{ model: 'soak', backends: ['engine'], timeouts: { first_token_ms: 600_000, stall_ms: 600_000, total_ms: 1_800_000 } }],
}));
// The compiled gateway, as production runs it (from source, tsx's transform gives every closure a
// `name` property: 982 against 799 MB of RSS at 10,000 streams, and more CPU).
const group = new ProcessGroup();
const unbuilt = await ensureBuilt(group, root, false);
if (unbuilt) throw new Error(unbuilt);
const nodeArgs = [...(values['node-args']?.split(' ').filter(Boolean) ?? []), ...(values.gc ? ['--trace-gc-nvp'] : [])];
// `--via floor`: the overhead bench's node floor (node:http in, undici out, nothing between) in the
// gateway's place, with its lag served as the gateway's is: what any Node proxy reads here.
const gateway = via === 'floor'
  ? await spawnSelf(['--upstream', sim!.url, '--port', '0', '--connections', String(streams + 100), '--lag'], {
    timeoutMs: 60_000, entry: path.join(root, 'dist', 'bench', 'overhead', 'floor-proxy.js'), what: 'floor proxy', nodeArgs,
  })
  : await spawnSelf(['serve', '--config', config], { env: { SWITCHYARD_LOG_LEVEL: 'warn' }, timeoutMs: 60_000, entry: cliEntry(root), nodeArgs });
const pid = gateway.child.pid!;
if (values['gateway-log'] !== undefined) {
  const log = createWriteStream(values['gateway-log']);
  gateway.child.stdout!.pipe(log);
  gateway.child.stderr!.pipe(log);
}

/** --gc: the gateway's collections as it reports them, each at the second (since the streams' start) it was read. */
const collections: Array<Collection & { at: number }> = [];
if (values.gc) {
  const trace = new GcTrace((c) => { if (started !== undefined) collections.push({ at: performance.now() - started, ...c }); });
  gateway.child.stdout!.on('data', (chunk: Buffer) => trace.push(chunk));
}

let peakRss = 0;
// Streams the gateway itself holds: its open descriptors (the client's count of requests sent
// says nothing of how many the gateway has accepted).
let peakFds = 0;
const rssTimer = setInterval(() => {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    peakRss = Math.max(peakRss, kb * 1024);
    peakFds = Math.max(peakFds, readdirSync(`/proc/${pid}/fd`).length);
  } catch {
    // the gateway is gone: the streams say why
  }
}, 500);
/** prom-client's default eventLoopMonitoringPrecision: the period its lag samples include. */
const SAMPLING_MS = 10;
/** As scraped (each includes the sampling period). */
const lagP99: number[] = [];
const lagMax: number[] = [];
/** When each lag figure was read (ms since the streams' start): the holding window is told apart from the ramp. */
const lagAt: number[] = [];
const metricsAgent = new Agent({ connections: 1 });
const lagTimer = setInterval(() => {
  void request(`${gateway.url}/metrics`, { dispatcher: metricsAgent }).then(async (res) => {
    const text = await res.body.text();
    const p99 = /^\S*eventloop_lag_p99_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
    const max = /^\S*eventloop_lag_max_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
    // The gateway's start (loading tokenizers, a synchronous half second) is not the streams' doing.
    if (started === undefined) return;
    if (p99 === undefined || max === undefined) return;
    lagP99.push(Number(p99) * 1000);
    lagMax.push(Number(max) * 1000);
    lagAt.push(performance.now() - started);
  }, () => undefined);
}, 1000);

const client = new Agent({ connections: streams, pipelining: 0, headersTimeout: 600_000, bodyTimeout: 600_000, connect: { timeout: 60_000 } });
const outcome = { whole: 0, failed: 0, dropped: 0, tokens: 0, errors: new Map<string, number>() };
const body = JSON.stringify({ model: 'soak', stream: true, max_tokens: tokens, ignore_eos: true, messages: [{ role: 'user', content: 'Count slowly.' }] });
let started: number | undefined = undefined;
let open = 0;
let peakOpen = 0;
/** Streams that have had a token; when the last one had its first and when the first one ended (ms since start). */
let streaming = 0;
let allStreamingAt: number | undefined;
let firstEndedAt: number | undefined;
/** Each stream's wait for its first token: from its request, and from its response headers. */
const firstTokens: number[] = [];
const firstTokensAfterHeaders: number[] = [];

async function oneStream(): Promise<void> {
  open++;
  peakOpen = Math.max(peakOpen, open);
  const sentAt = performance.now();
  try {
    const res = await request(`${gateway.url}/v1/chat/completions`, { method: 'POST', dispatcher: client, headers: { 'content-type': 'application/json' }, body });
    if (res.statusCode !== 200) {
      outcome.failed++;
      const code = `HTTP ${res.statusCode}`;
      outcome.errors.set(code, (outcome.errors.get(code) ?? 0) + 1);
      await res.body.text();
      return;
    }
    let text = '';
    let got = 0;
    const headersAt = performance.now();
    for await (const chunk of res.body) {
      text += (chunk as Buffer).toString('utf8');
      let cut: number;
      while ((cut = text.indexOf('\n\n')) >= 0) {
        const event = text.slice(0, cut);
        text = text.slice(cut + 2);
        if (event.includes('"content"') && got++ === 0) {
          firstTokens.push(performance.now() - sentAt);
          firstTokensAfterHeaders.push(performance.now() - headersAt);
          if (++streaming === streams) allStreamingAt = performance.now() - started!;
        }
        if (event.startsWith('data: [DONE]')) {
          firstEndedAt ??= performance.now() - started!;
          outcome.tokens += got;
          if (got >= tokens - 1) outcome.whole++;
          else outcome.dropped++;
          return;
        }
      }
    }
    outcome.dropped++;
  } catch (err) {
    outcome.failed++;
    const code = (err as { code?: string }).code ?? (err as Error).message;
    outcome.errors.set(code, (outcome.errors.get(code) ?? 0) + 1);
  } finally {
    open--;
  }
}

// One scrape first: the lag histogram restarts at each, so the first counted interval is the streams'.
await request(`${gateway.url}/metrics`, { dispatcher: metricsAgent }).then((res) => res.body.text());
started = performance.now();
const all: Array<Promise<void>> = [];
for (let i = 0; i < streams; i++) {
  all.push(oneStream());
  // Opened over the ramp, not in one burst (the listen backlog is finite).
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, rampMs / (streams / 100)));
}
await Promise.all(all);
const seconds = (performance.now() - started) / 1000;
clearInterval(rssTimer);
clearInterval(lagTimer);
gateway.child.kill('SIGTERM');
sim?.child.kill('SIGTERM');
await Promise.all([client.close(), metricsAgent.close()]);

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => (xs.length > 0 ? sorted(xs)[Math.floor(xs.length / 2)] : NaN);
const worst = (xs: number[]) => (xs.length > 0 ? Math.max(...xs) : NaN);
/** The lag in a scraped figure: beyond the sampling period. */
const late = (xs: number[]) => xs.map((x) => Math.max(0, x - SAMPLING_MS));
const through = { proxy: 'a proxy plugin (vllm → emulated vLLM)', floor: 'the node floor proxy, no gateway (→ emulated vLLM)', 'in-process': 'the in-process engine model (trtllm, executor: model)' }[via];
process.stdout.write(`${streams} streams via ${through}, ${tokens} tokens each, opened over ${rampMs / 1000} s; ${seconds.toFixed(1)} s in all\n`);
process.stdout.write(`| streams open at once (client, peak) | gateway descriptors (peak) | whole | failed | dropped | gateway RSS peak | lag p99 (worst 1 s / median 1 s) | lag max |\n|--:|--:|--:|--:|--:|--:|--:|--:|\n`);
process.stdout.write(`| ${peakOpen} | ${peakFds} | ${outcome.whole} | ${outcome.failed} | ${outcome.dropped} | ${(peakRss / 2 ** 20).toFixed(0)} MB | ${worst(late(lagP99)).toFixed(1)} / ${median(late(lagP99)).toFixed(1)} ms | ${worst(late(lagMax)).toFixed(1)} ms |\n`);
process.stdout.write(`lag: beyond the ${SAMPLING_MS} ms sampling period; as scraped (period included): p99 worst ${worst(lagP99).toFixed(1)} / median ${median(lagP99).toFixed(1)} ms, max ${worst(lagMax).toFixed(1)} ms\n`);
process.stdout.write(`lag p99 by second (ms, beyond the sampling): ${late(lagP99).map((x) => x.toFixed(0)).join(' ')}\n`);
const spread = (xs: number[]) => {
  const s = sorted(xs);
  return `p50 ${(s[Math.floor(s.length / 2)] / 1000).toFixed(2)} s, p99 ${(s[Math.floor(s.length * 0.99)] / 1000).toFixed(2)} s, max ${((s.at(-1) ?? NaN) / 1000).toFixed(2)} s`;
};
process.stdout.write(`first token (client), from the request: ${spread(firstTokens)}; from the response headers: ${spread(firstTokensAfterHeaders)}\n`);
// Holding: the seconds read wholly after every stream had its first token and before any ended
// (none when the engine could not take them all at once: then they were never all streaming).
const inHolding = (i: number) => allStreamingAt !== undefined && firstEndedAt !== undefined && lagAt[i] - 1000 >= allStreamingAt && lagAt[i] <= firstEndedAt;
const holding = lagP99.filter((_, i) => inHolding(i));
const holdingMax = lagMax.filter((_, i) => inHolding(i));
process.stdout.write(`holding all ${streams}: every one had its first token at ${((allStreamingAt ?? NaN) / 1000).toFixed(1)} s, the first ended at ${((firstEndedAt ?? NaN) / 1000).toFixed(1)} s; `
  + `${holding.length} whole seconds between, lag p99 worst ${worst(late(holding)).toFixed(1)} / median ${median(late(holding)).toFixed(1)} ms, lag max ${worst(late(holdingMax)).toFixed(1)} ms `
  + `(as scraped: ${worst(holding).toFixed(1)} / ${median(holding).toFixed(1)}, ${worst(holdingMax).toFixed(1)} ms)\n`);
if (values.gc) {
  const longestBySecond = lagP99.map((_, i) => Math.max(0, ...collections.filter((c) => c.at > lagAt[i]! - 1000 && c.at <= lagAt[i]!).map((c) => c.pauseMs)));
  process.stdout.write(`gc: longest pause by second (ms, the seconds of the lag above): ${longestBySecond.map((x) => x.toFixed(0)).join(' ')}\n`);
  const summary = (which: typeof collections, label: string) => (['scavenge', 'mark-compact'] as const).map((kind) => {
    const pauses = which.filter((c) => c.kind === kind).map((c) => c.pauseMs);
    return `${pauses.length} ${kind}s${pauses.length ? ` (${pauses.reduce((a, b) => a + b, 0).toFixed(0)} ms, longest ${worst(pauses).toFixed(1)} ms)` : ''}`;
  }).join(', ') + ` ${label}`;
  const held = collections.filter((c) => allStreamingAt !== undefined && firstEndedAt !== undefined && c.at >= allStreamingAt && c.at <= firstEndedAt);
  process.stdout.write(`gc: ${summary(collections, 'in all')}; ${summary(held, 'while holding')}\n`);
}
if (outcome.errors.size > 0) process.stdout.write(`errors: ${[...outcome.errors].map(([k, v]) => `${k} × ${v}`).join(', ')}\n`);
