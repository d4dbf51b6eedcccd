/**
 * `switchyard bench scenario engines-ab`: the shape of the published grps-trtllm tables — engine
 * arm A vs arm B, total-token throughput vs concurrency, short and long inputs, with a row of
 * percent change — measured three ways: directly against each engine, through the gateway (one
 * route per arm), and through one gateway A/B route splitting live traffic 50/50 between the arms
 * (2·c clients, so each arm sees about c; each answer's x-switchyard-backend names its arm, and
 * Little's law puts each arm at exactly c — see below; the route's own /admin/ab comparison is
 * printed beside them). On the
 * emulated a10 profiles it reproduces bench/data/published-tables.json.
 *
 * The Triton arm (the first table's TensorRT-LLM profile): the same engine model served three ways
 * through one gateway — the trtllm-serve face (OpenAI in the engine's server), the Triton face
 * (tensorrtllm_backend's generate_stream: the gateway renders the prompt, shapes the answer and
 * counts usage itself) and in process (no HTTP hop to an engine) — with TTFT and throughput side
 * by side: which hop costs what. EvalScope's comparison drives TensorRT-LLM through Triton's
 * ensemble this way.
 */
import { writeFileSync } from 'node:fs';
import { loadProfile } from '../../native/profiles.js';
import { defineCommand, parseCommandLine } from '../../core/cli/args.js';
import { Tokenizer } from '../../core/tokenizer/tokenizer.js';
import { findTable } from '../calibrate/tables.js';
import { freePort, startFleet } from '../fleet.js';
import { runLoad } from '../load/runner.js';
import { spawnSim } from '../sim/spawn.js';
import { lineChart } from '../load/svg.js';
import { fmt, table, writeReport } from './common.js';

const FACE: Record<string, 'vllm' | 'trtllm-serve'> = { vllm: 'vllm', trtllm: 'trtllm-serve' };

const SPEC = defineCommand({
  command: 'switchyard bench scenario engines-ab',
  usage: `usage: switchyard bench scenario engines-ab [options]

Engine arm A vs arm B (the published grps-trtllm tables' shape): total-token throughput per
concurrency, directly against each engine, through the gateway, and through one A/B route.

options:
  --quick                    the short table only, concurrency 1 and 4, 2 requests per client
  --no-triton-arm            skip the Triton arm (trtllm-serve face vs Triton face vs in process)
  --tables ID,…              published tables (default a10-qwen2.5-7b-short,a10-qwen2.5-7b-long)
  --concurrency N,…          concurrency levels (default the table's own)
  --requests-per-client N    (default 3; --quick 2)
  --time-scale X             model time runs X times faster than real time (default 20)
  --json FILE                results as JSON
  --report DIR               DIR/index.html with charts, and DIR/results.json
  -h, --help                 this text`,
  options: {
    quick: { type: 'boolean', default: false }, json: { type: 'string' }, report: { type: 'string' },
    tables: { type: 'string' }, concurrency: { type: 'string' }, 'time-scale': { type: 'string', default: '20' },
    'requests-per-client': { type: 'string' }, 'no-triton-arm': { type: 'boolean', default: false },
  },
});

export async function runEnginesAbScenario(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(SPEC, argv);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const quick = values.quick!;
  const tableIds = (values.tables ?? (quick ? 'a10-qwen2.5-7b-short' : 'a10-qwen2.5-7b-short,a10-qwen2.5-7b-long')).split(',');
  const timeScale = Number(values['time-scale']);
  const perClient = Number(values['requests-per-client'] ?? (quick ? 2 : 3));
  const tokenizer = Tokenizer.qwenDefault();
  const out: Array<Record<string, unknown>> = [];
  const allRows: Array<Array<string | number>> = [];
  const charts: string[] = [];
  let worst = 0;
  for (const id of tableIds) {
    const { table: published, workload } = findTable(id);
    const levels = values.concurrency ? values.concurrency.split(',').map(Number) : quick ? [1, 4] : published.concurrency;
    const arms = Object.keys(published.arms);
    const ports = await Promise.all(arms.map(() => freePort()));
    const fleet = await startFleet({
      listen: { host: '127.0.0.1', port: 0 },
      backends: arms.map((arm, i) => ({
        id: arm, type: FACE[arm], models: ['m'], sim: { profile: workload.profiles[arm], port: ports[i], time_scale: timeScale },
      })),
      routes: [
        ...arms.map((arm) => ({ model: arm, backends: [arm] })),
        // One A/B route per level, so that each level's /admin/ab comparison stands alone.
        ...levels.map((c) => ({ model: `ab-c${c}`, arms: arms.map((arm) => ({ name: arm, backends: [arm], weight: 1 })) })),
      ],
    });
    try {
      const measured: Record<string, Record<string, number[]>> = {};
      const fixed = { kind: 'fixed' as const, inputLen: workload.promptTokens, outputLen: workload.outputTokens };
      const load = (model: string, baseUrl: string, c: number) => runLoad({
        target: { baseUrl, model }, workload: fixed, levels: [{ kind: 'closed', concurrency: c }],
        numPrompts: c * perClient, warmup: c, seed: 1, ignoreEos: true, tokenizer, progress: false,
      });
      for (const [i, arm] of arms.entries()) {
        measured[arm] = { direct: [], gateway: [], ab: [] };
        for (const path of ['direct', 'gateway'] as const) {
          for (const c of levels) {
            const result = await load(path === 'direct' ? 'm' : arm, path === 'direct' ? `http://127.0.0.1:${ports[i]}` : fleet.url, c);
            // Real time × time scale = model time: tokens/s of the modelled GPU.
            measured[arm][path].push(result.levels[0].metrics.totalTokenThroughput / timeScale);
          }
        }
      }
      const abReports: unknown[] = [];
      for (const c of levels) {
        const { levels: [level] } = await load(`ab-c${c}`, fleet.url, arms.length * c);
        for (const arm of arms) {
          // The split is random, so an arm's share of the 2·c clients drifts around c. Little's law
          // puts each arm back at exactly c in flight: tokens/s = c · Σ tokens / Σ request time,
          // with each request's time measured at the load the arm really had.
          const served = level.records.filter((r) => r.success && r.backend === arm);
          const tokens = served.reduce((sum, r) => sum + r.promptTokens + r.outputTokens, 0);
          const busyS = served.reduce((sum, r) => sum + r.e2elMs / 1000, 0);
          measured[arm].ab.push(busyS > 0 ? (c * tokens) / busyS / timeScale : 0);
        }
        abReports.push(await (await fetch(`${fleet.url}/admin/ab/ab-c${c}`)).json());
      }
      const cells = published.concurrency.map((c, k) => ({ c, k })).filter(({ c }) => levels.includes(c));
      const header = ['row', ...cells.map(({ c }) => String(c))];
      const rows: Array<Array<string | number>> = [];
      for (const arm of arms) {
        const pub = cells.map(({ k }) => published.arms[arm][k]);
        rows.push([`${arm} published`, ...pub.map((v) => fmt(v, 2))]);
        for (const path of ['direct', 'gateway', 'ab'] as const) {
          const m = measured[arm][path];
          rows.push([`${arm} ${path === 'ab' ? 'via A/B route' : path}`, ...m.map((v) => fmt(v, 2))]);
          const errs = m.map((v, j) => 100 * (v / pub[j] - 1));
          if (path === 'direct') worst = Math.max(worst, ...errs.map(Math.abs));
          rows.push([`  error`, ...errs.map((e) => `${e >= 0 ? '+' : ''}${fmt(e)}%`)]);
        }
      }
      const pct = (b: number, a: number) => `${fmt(100 * (b / a - 1))}%`;
      if (arms.length === 2) {
        const [a, b] = arms;
        rows.push([`${b} vs ${a} published`, ...cells.map(({ k }) => pct(published.arms[b][k], published.arms[a][k]))]);
        rows.push([`${b} vs ${a} direct`, ...measured[b].direct.map((v, j) => pct(v, measured[a].direct[j]))]);
        rows.push([`${b} vs ${a} via gateway`, ...measured[b].gateway.map((v, j) => pct(v, measured[a].gateway[j]))]);
        rows.push([`${b} vs ${a} via A/B route`, ...measured[b].ab.map((v, j) => pct(v, measured[a].ab[j]))]);
      }
      const categories = cells.map(({ c }) => String(c));
      charts.push(lineChart({
        title: `${id}: total tokens/s vs concurrency (model time)`, categories, xLabel: 'concurrency per arm', yLabel: 'tokens/s',
        series: arms.flatMap((arm, n) => {
          const color = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'][n % 4];
          return [
            { name: `${arm} published`, values: cells.map(({ k }) => published.arms[arm][k]), dashed: true, color },
            { name: `${arm} direct`, values: measured[arm].direct, color },
            { name: `${arm} via A/B route`, values: measured[arm].ab, color: n === 0 ? '#93c5fd' : '#fca5a5' },
          ];
        }),
      }));
      if (arms.length === 2) {
        const [a, b] = arms;
        charts.push(lineChart({
          title: `${id}: ${b} vs ${a}, % change in throughput`, categories, xLabel: 'concurrency per arm', yLabel: '%',
          series: [
            { name: 'published', values: cells.map(({ k }) => 100 * (published.arms[b][k] / published.arms[a][k] - 1)), dashed: true },
            { name: 'direct', values: measured[b].direct.map((v, j) => 100 * (v / measured[a].direct[j] - 1)) },
            { name: 'via gateway', values: measured[b].gateway.map((v, j) => 100 * (v / measured[a].gateway[j] - 1)) },
            { name: 'via A/B route', values: measured[b].ab.map((v, j) => 100 * (v / measured[a].ab[j] - 1)) },
          ],
        }));
      }
      process.stdout.write(`\n${id}: ${published.hardware}, ${published.model}; ${workload.promptTokens} in / ${workload.outputTokens} out; ` +
        `total tokens/s, closed loop (SIMULATED engines: ${arms.map((a) => loadProfile(workload.profiles[a]).name).join(' vs ')}; time scale ${timeScale})\n`);
      process.stdout.write(`${table(header, rows)}\n`);
      process.stdout.write(`A/B route: 2·c clients split at random 50/50, each arm's tokens/s = c · Σ tokens / Σ request time (Little's law at c in flight). The route's own comparison, GET /admin/ab/<model>:\n`);
      for (const [j, c] of levels.entries()) process.stdout.write(`  c=${c}: ${describeAb(abReports[j])}\n`);
      out.push({ table: id, concurrency: cells.map(({ c }) => c), published: Object.fromEntries(arms.map((a) => [a, cells.map(({ k }) => published.arms[a][k])])), measured, ab_reports: abReports });
      allRows.push(...rows.map((r) => [`${id} ${r[0]}`, ...r.slice(1)]));
    } finally {
      await fleet.stop();
    }
    if (id === tableIds[0] && !values['no-triton-arm'] && workload.profiles.trtllm !== undefined) {
      const triton = await runTritonArm({ profile: workload.profiles.trtllm, levels, perClient, timeScale, tokenizer, inputLen: workload.promptTokens, outputLen: workload.outputTokens });
      out.push({ table: id, triton_arm: triton.json });
      allRows.push(...triton.rows.map((r) => [`${id} ${r[0]}`, ...r.slice(1)]));
    }
  }
  process.stdout.write(`\nworst direct cell vs published: ${fmt(worst)}% (${worst <= 15 ? 'within' : 'OUTSIDE'} ±15%)\n`);
  const json = { scenario: 'engines-ab', timeScale, worst_error_pct: worst, tables: out };
  if (values.json) writeFileSync(values.json, JSON.stringify(json, null, 2));
  if (values.report) {
    writeReport(values.report, 'Engine A/B on the published grps-trtllm workloads', ['row', ...allRows[0].slice(1).map((_, i) => `col ${i + 1}`)], allRows, [], json, charts);
  }
  return 0;
}

interface TritonArmOptions {
  profile: string;
  levels: number[];
  perClient: number;
  timeScale: number;
  tokenizer: Tokenizer;
  inputLen: number;
  outputLen: number;
}

const TRITON_ARMS = ['trtllm-serve face', 'Triton face', 'in process'] as const;

/**
 * One TensorRT-LLM profile through one gateway three ways (see the header): total tokens/s and
 * mean TTFT per concurrency, in model time. The Triton face runs in its own process, as the
 * trtllm-serve face does; the in-process engine inside the gateway.
 */
async function runTritonArm(o: TritonArmOptions): Promise<{ rows: Array<Array<string | number>>; json: Record<string, unknown> }> {
  const [servePort, tritonPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const triton = await spawnSim(['--engine', 'triton-trtllm', '--profile', o.profile, '--port', String(tritonPort), '--metrics-port', String(metricsPort),
    '--host', '127.0.0.1', '--time-scale', String(o.timeScale), '--replica-name', 'triton']);
  try {
    const fleet = await startFleet({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [
        { id: 'serve', type: 'trtllm-serve', models: ['m'], sim: { profile: o.profile, port: servePort, time_scale: o.timeScale } },
        { id: 'triton', type: 'triton-trtllm', url: `http://127.0.0.1:${tritonPort}`, models: ['m'], metrics_url: `http://127.0.0.1:${metricsPort}/metrics` },
        { id: 'inproc', type: 'trtllm', executor: 'model', profile: o.profile, time_scale: o.timeScale, models: ['m'] },
      ],
      routes: [{ model: 'serve', backends: ['serve'] }, { model: 'triton', backends: ['triton'] }, { model: 'inproc', backends: ['inproc'] }],
    });
    try {
      const models = ['serve', 'triton', 'inproc'];
      const tokensPerS: number[][] = [];
      const ttftMs: number[][] = [];
      for (const model of models) {
        const tps: number[] = [];
        const ttft: number[] = [];
        for (const c of o.levels) {
          const { levels: [level] } = await runLoad({
            target: { baseUrl: fleet.url, model }, workload: { kind: 'fixed', inputLen: o.inputLen, outputLen: o.outputLen },
            levels: [{ kind: 'closed', concurrency: c }], numPrompts: c * o.perClient, warmup: c, seed: 1, ignoreEos: true,
            tokenizer: o.tokenizer, progress: false,
          });
          // Real time × time scale = model time.
          tps.push(level.metrics.totalTokenThroughput / o.timeScale);
          ttft.push(level.metrics.ttft.mean * o.timeScale);
        }
        tokensPerS.push(tps);
        ttftMs.push(ttft);
      }
      const rows: Array<Array<string | number>> = [];
      for (const [i, name] of TRITON_ARMS.entries()) {
        rows.push([`${name} tokens/s`, ...tokensPerS[i].map((v) => fmt(v, 2))]);
        rows.push([`${name} TTFT ms`, ...ttftMs[i].map((v) => fmt(v, 1))]);
      }
      const pct = (b: number, a: number) => `${b >= a ? '+' : ''}${fmt(100 * (b / a - 1))}%`;
      rows.push(['Triton vs trtllm-serve tokens/s', ...tokensPerS[1].map((v, j) => pct(v, tokensPerS[0][j]))]);
      rows.push(['in process vs trtllm-serve tokens/s', ...tokensPerS[2].map((v, j) => pct(v, tokensPerS[0][j]))]);
      process.stdout.write(`
Triton arm: ${o.profile} through one gateway, ${o.inputLen} in / ${o.outputLen} out, closed loop `
        + `(SIMULATED engine; model time, time scale ${o.timeScale})
`);
      process.stdout.write(`${table(['row', ...o.levels.map(String)], rows)}
`);
      return {
        rows,
        json: { profile: o.profile, concurrency: o.levels, arms: Object.fromEntries(TRITON_ARMS.map((name, i) => [name, { tokens_per_s: tokensPerS[i], ttft_ms: ttftMs[i] }])) },
      };
    } finally {
      await fleet.stop();
    }
  } finally {
    await triton.stop();
  }
}

interface AbReport {
  arms: Array<{ name: string; requests: number; errors: number }>;
  comparisons: Array<{ baseline: string; arm: string; tpot_ms: { diff: number; ci95: [number, number] } | null; ttft_ms: { diff: number; ci95: [number, number] } | null }>;
}

/** One line from /admin/ab/<model>: requests per arm and the TPOT/TTFT differences with their 95% CIs (real ms). */
function describeAb(raw: unknown): string {
  const r = raw as AbReport;
  const counts = r.arms.map((a) => `${a.name} ${a.requests} req${a.errors ? ` (${a.errors} errors)` : ''}`).join(', ');
  const diffs = r.comparisons.map((c) => {
    const d = (name: string, x: { diff: number; ci95: [number, number] } | null) => (x ? `${name} ${fmt(x.diff)} ms [${fmt(x.ci95[0])}, ${fmt(x.ci95[1])}]` : `${name} -`);
    return `${c.arm} − ${c.baseline}: ${d('tpot', c.tpot_ms)}, ${d('ttft', c.ttft_ms)}`;
  }).join('; ');
  return `${counts}; ${diffs}`;
}
