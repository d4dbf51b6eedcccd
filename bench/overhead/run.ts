/**
 * The gateway-overhead benchmark (REFERENCE §4.5 item 6): the same closed-loop load on a
 * zero-latency upstream — direct, through nginx, through Switchyard (compiled, 1 and 2 workers),
 * through @portkey-ai/gateway — in one run on one machine, so the rows compare with each other.
 * `--stream` runs the streaming variant instead (stream-run.ts).
 *
 *   node --import tsx bench/overhead/run.ts [--duration 10] [--connections 32] [--threads 2]
 *        [--json FILE] [--stream] [--repeat N] …   (--help lists all)
 *
 * Nothing is installed here: a missing tool prints "run bench/overhead/install.sh" and its row
 * is skipped. Every process this starts is stopped on every exit path (see processes.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sampleHeader } from './client.js';
import {
  ensureBuilt, INSTALL_HINT, nginxVersion, PEERS, pinRule, ROOT, roundOrder, say, startPlans, switchyardVersion, warnIfDisturbed, withCpu,
  type Measured, type Options, type Plan,
} from './harness.js';
import { packageVersion, percentile, pickLoadTool, which, type LoadResult, type LoadSpec, type LoadTool } from './load.js';
import { ProcessGroup } from './processes.js';
import { describeMachine, throughputTable, type StreamRow, type ThroughputRow } from './report.js';
import { fmt, writeReport } from '../scenarios/common.js';
import { runStream } from './stream-run.js';
import {
  cliEntry, essentialsFloorName, fastifyFloorName, floorName, MODEL, nginxBinary, portkeyPackage, startFloor, startNginx, startPortkey, startRedis, startSwitchyard, startZero,
  switchyardRowName, type Target,
} from './targets.js';

const USAGE = `usage: node --import tsx bench/overhead/run.ts [options]
  --quick            a few seconds in all (2 s runs, 1 s warm-up, 200 header samples): the
                     test suite's end-to-end check, not a measurement to quote
  --duration S       seconds of measured load per run (default 10)
  --warmup S         seconds of unmeasured load on each target first (default 2)
  --connections N    concurrent connections (default 32; --stream: concurrent streams)
  --threads N        wrk threads (default 2)
  --repeat N         measured runs per row, interleaved across the rows (in reverse order every
                     other round) so that a disturbance hits them alike; a row shows its median
                     run and the req/s range (default 1)
  --stream           the streaming variant: 64 chunks 5 ms apart; TTFT and ITL added vs direct
  --tool NAME        wrk, autocannon or undici (default: the first one installed)
  --targets LIST     comma-separated subset of direct,nginx,floor,fastify-floor,essentials-floor,
                     switchyard,switchyard-tenants,switchyard-tenants-redis,portkey (floor: a bare
                     node:http + undici proxy, the most any Node gateway can do on this machine;
                     fastify-floor: the same in fastify, what the framework costs; essentials-floor:
                     the floor plus a key, in-memory limits, body validation, prefix affinity and
                     metrics, written at their least (essentials.ts); switchyard-tenants[-redis]: a
                     tenant key with limits, in memory or in a redis-server of the run's own, and
                     prefix-affinity routing, at the first of --workers)
  --header-samples N requests for the x-switchyard-overhead-ms distribution (default 2000)
  --gateway DIR      the Switchyard checkout whose dist/ to run (default: this one), e.g. a
                     \`git archive\` of a commit, built, to compare two versions
  --baseline DIR     also run that checkout's dist/ (e.g. a \`git worktree\` of the last commit,
                     built) in the same interleaved runs, rows named "switchyard baseline", and
                     print each Switchyard row as a ratio of its baseline
  --workers LIST     worker counts of the switchyard and floor rows (default 1,2)
  --pin              one-process proxies on CPU 1, upstream, redis and wrk on CPU 0 (taskset):
                     steadier rows on a 2-core machine; multi-process rows stay unpinned
  --build            run \`npm run build\` first even when dist/ exists
  --json FILE        also write the results as JSON
  --report DIR       also write an HTML page (table and chart) and results.json to DIR`;

const CHAT_BODY = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say hello in five words.' }], max_tokens: 16 });

class UsageError extends Error {}

function readOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' }, warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '32' }, threads: { type: 'string', default: '2' },
      stream: { type: 'boolean', default: false }, tool: { type: 'string' },
      targets: { type: 'string', default: 'direct,nginx,floor,essentials-floor,switchyard,switchyard-tenants,switchyard-tenants-redis,portkey' },
      'header-samples': { type: 'string', default: '2000' }, build: { type: 'boolean', default: false },
      repeat: { type: 'string', default: '1' }, gateway: { type: 'string', default: ROOT }, baseline: { type: 'string' },
      workers: { type: 'string', default: '1,2' },
      json: { type: 'string' }, report: { type: 'string' }, help: { type: 'boolean', default: false }, quick: { type: 'boolean', default: false },
      pin: { type: 'boolean', default: false },
    },
  });
  if (values.help) throw new UsageError('');
  if (values.quick) {
    const given = new Set(argv.map((a) => a.replace(/^--/, '').split('=')[0]));
    if (!given.has('duration')) values.duration = '2';
    if (!given.has('warmup')) values.warmup = '1'; // wrk takes whole seconds
    if (!given.has('header-samples')) values['header-samples'] = '200';
  }
  const num = (flag: string, raw: string, min: number) => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${flag}: expected a number ≥ ${min}, got ${raw}`);
    return n;
  };
  const targets = new Set(values.targets.split(',').map((s) => s.trim()).filter(Boolean));
  for (const t of targets) if (!['direct', 'nginx', 'floor', 'fastify-floor', 'essentials-floor', 'switchyard', 'switchyard-tenants', 'switchyard-tenants-redis', 'portkey'].includes(t)) throw new UsageError(`--targets: unknown target ${t}`);
  const workers = values.workers.split(',').map((w) => Math.round(num('workers', w, 1)));
  if (values.baseline !== undefined && !existsSync(cliEntry(values.baseline))) {
    throw new UsageError(`--baseline: ${values.baseline} has no compiled CLI (dist/bin/main.js; run npm ci there, or npm run build)`);
  }
  if (values.tool !== undefined && !['wrk', 'autocannon', 'undici'].includes(values.tool)) throw new UsageError(`--tool: expected wrk, autocannon or undici, got ${values.tool}`);
  return {
    durationS: num('duration', values.duration, 1), warmupS: num('warmup', values.warmup, 0),
    connections: Math.round(num('connections', values.connections, 1)), threads: Math.round(num('threads', values.threads, 1)),
    stream: values.stream, tool: values.tool, targets, headerSamples: Math.round(num('header-samples', values['header-samples'], 0)),
    build: values.build, repeat: Math.round(num('repeat', values.repeat, 1)), gateway: path.resolve(values.gateway), json: values.json, report: values.report,
    baseline: values.baseline === undefined ? undefined : path.resolve(values.baseline), workers, pin: values.pin,
  };
}

function throughputPlans(o: Options, group: ProcessGroup, dir: string, zero: Target & { base: string }, built: string | undefined): Plan[] {
  const plans: Plan[] = [];
  if (o.targets.has('direct')) plans.push({ name: 'direct', start: async () => ({ ...zero, process: undefined, stop: async () => {} }) });
  if (o.targets.has('nginx')) {
    // Both: `worker_processes 1` is the like-for-like peer of one Switchyard process, `auto` is
    // how nginx is deployed (one worker per core) and the peer of `workers: 2`.
    const bin = nginxBinary();
    for (const workers of ['1', 'auto']) {
      const name = `nginx (worker_processes ${workers})`;
      if (!bin) plans.push({ name, skipped: `nginx is not installed: ${INSTALL_HINT}` });
      else plans.push({ name, start: () => startNginx(group, { bin, dir, upstream: zero.base, workers, body: CHAT_BODY }) });
    }
  }
  if (o.targets.has('switchyard')) {
    for (const workers of o.workers) {
      const name = `switchyard (workers: ${workers})`;
      if (built) plans.push({ name, skipped: built.split('\n')[0] });
      else plans.push({ name, start: () => startSwitchyard(group, { root: o.gateway, dir, upstream: zero.base, workers, body: CHAT_BODY }) });
      const { baseline } = o;
      if (baseline) {
        mkdirSync(path.join(dir, 'baseline'), { recursive: true }); // its own config files
        plans.push({
          name: `switchyard baseline (workers: ${workers})`,
          start: async () => ({ ...(await startSwitchyard(group, { root: baseline, dir: path.join(dir, 'baseline'), upstream: zero.base, workers, body: CHAT_BODY })), name: `switchyard baseline (workers: ${workers})` }),
        });
      }
    }
  }
  // What a production deployment runs (targets.ts, SwitchyardSetup), at the first worker count.
  const tenants: Array<'memory' | 'redis'> = [];
  if (o.targets.has('switchyard-tenants')) tenants.push('memory');
  if (o.targets.has('switchyard-tenants-redis')) tenants.push('redis');
  let redis: Promise<string> | undefined;
  for (const store of tenants) {
    const workers = o.workers[0];
    const name = switchyardRowName(workers, store);
    if (built) plans.push({ name, skipped: built.split('\n')[0] });
    else if (store === 'redis' && !which('redis-server')) plans.push({ name, skipped: 'redis-server is not installed (apt-get install redis-server)' });
    else {
      plans.push({
        name,
        start: async () => {
          const url = store === 'redis' ? await (redis ??= startRedis(group).then((r) => r.url)) : undefined;
          return startSwitchyard(group, { root: o.gateway, dir, upstream: zero.base, workers, body: CHAT_BODY, setup: { kind: 'tenants', redis: url } });
        },
      });
    }
  }
  if (o.targets.has('floor')) {
    // Not a gateway: node:http + undici with nothing in between, the most any Node proxy can do here.
    for (const workers of o.workers) plans.push({ name: floorName(workers), start: () => startFloor(group, { upstream: zero.base, workers, body: CHAT_BODY }) });
  }
  if (o.targets.has('fastify-floor')) {
    for (const workers of o.workers) plans.push({ name: fastifyFloorName(workers), start: () => startFloor(group, { upstream: zero.base, workers, body: CHAT_BODY, fastify: true }) });
  }
  if (o.targets.has('essentials-floor')) {
    // Not a gateway: the floor plus a key, in-memory limits, parse and validate, prefix affinity and metrics at their least (essentials.ts).
    for (const workers of o.workers) plans.push({ name: essentialsFloorName(workers), start: () => startFloor(group, { upstream: zero.base, workers, body: CHAT_BODY, essentials: true }) });
  }
  if (o.targets.has('portkey')) {
    const pk = portkeyPackage(PEERS);
    const name = `portkey gateway ${pk?.version ?? ''}`.trim();
    if (!pk) plans.push({ name, skipped: `@portkey-ai/gateway is not in bench/.peers: ${INSTALL_HINT} --portkey` });
    else plans.push({ name, start: async () => ({ ...(await startPortkey(group, { bin: pk.bin, upstream: zero.base, body: CHAT_BODY })), name }) });
  }
  return plans;
}

function toolVersions(load: LoadTool, gateway: string): Record<string, string> {
  const v: Record<string, string> = { node: process.version, [load.name]: load.version, switchyard: switchyardVersion(gateway) };
  if (load.name !== 'undici') v.undici = packageVersion('undici');
  const nginx = nginxBinary();
  if (nginx) v.nginx = nginxVersion(nginx);
  const portkey = portkeyPackage(PEERS);
  if (portkey) v['@portkey-ai/gateway'] = portkey.version;
  return v;
}

/** The row for one target from its runs: the median run by requests/s, with the others' range. */
function summariseRuns(name: string, runs: Array<Measured<LoadResult>>): ThroughputRow {
  const sorted = [...runs].sort((a, b) => a.result.rps - b.result.rps);
  const { result: load, cores } = sorted[Math.floor((sorted.length - 1) / 2)];
  const others = runs.reduce((sum, r) => sum + (r.others ?? 0), 0) / runs.length;
  const row: ThroughputRow = { name, load, proxyCores: cores[0], upstreamCores: cores[1], otherCores: others };
  const perRequest = runs.filter((r) => r.cores[0] !== undefined && r.result.rps > 0).map((r) => (r.cores[0]! * 1e6) / r.result.rps).sort((a, b) => a - b);
  if (perRequest.length > 0) row.proxyUsPerRequest = perRequest[Math.floor((perRequest.length - 1) / 2)];
  if (runs.length > 1) row.rpsRuns = sorted.map((r) => r.result.rps);
  warnIfDisturbed(name, others);
  const failed = runs.reduce((sum, r) => sum + r.result.non2xx + r.result.errors, 0);
  if (failed > 0) say(`${name}: WARNING ${failed} requests failed (non-2xx or socket errors); its numbers are not comparable`);
  return row;
}

async function runThroughput(o: Options, group: ProcessGroup, dir: string): Promise<Record<string, unknown>> {
  const { tool, note } = pickLoadTool(PEERS, o.tool);
  if (note) say(note);
  const built = o.targets.has('switchyard') ? await ensureBuilt(group, o.gateway, o.build) : undefined;
  if (built) say(built);
  const zero = await startZero(group);
  const spec = (t: Target, durationS: number): LoadSpec => ({
    url: t.url, body: CHAT_BODY, headers: { 'content-type': 'application/json', ...t.headers },
    durationS, connections: o.connections, threads: o.threads,
  });
  // Every target runs side by side (an idle one costs nothing) so that the repetitions can be
  // interleaved: rows measured minutes apart on a shared machine would not compare.
  const started = await startPlans(throughputPlans(o, group, dir, zero, built));
  const live = started.filter((s): s is { name: string; target: Target } => s.target !== undefined);
  const runs = new Map<string, Array<Measured<LoadResult>>>(live.map((s) => [s.name, []]));
  const headers = new Map<string, ThroughputRow['overheadHeader']>();
  try {
    for (const { target } of live) if (o.warmupS > 0) await tool.run(spec(target, o.warmupS), group, dir);
    for (let i = 1; i <= o.repeat; i++) {
      for (const { name, target } of roundOrder(live, i)) {
        say(`${name}: ${o.repeat > 1 ? `run ${i}/${o.repeat}, ` : ''}${o.durationS} s with ${tool.name}, ${o.connections} connections`);
        runs.get(name)!.push(await withCpu([target.process, zero.process], () => tool.run(spec(target, o.durationS), group, dir)));
      }
    }
    for (const { name, target } of live.filter((s) => s.name.startsWith('switchyard') && o.headerSamples > 0)) {
      const s = await sampleHeader(target, CHAT_BODY, 'x-switchyard-overhead-ms', o.headerSamples, 8);
      headers.set(name, { p50Ms: percentile(s.values, 50), p99Ms: percentile(s.values, 99), samples: s.values.length, failures: s.failures });
      if (s.failures > 0) say(`${name}: ${s.failures} of ${o.headerSamples} header samples failed or had no x-switchyard-overhead-ms`);
    }
  } finally {
    await Promise.all(live.map((s) => s.target.stop()));
    await zero.stop();
  }
  const rows: ThroughputRow[] = started.map((s) => (s.target
    ? { ...summariseRuns(s.name, runs.get(s.name)!), overheadHeader: headers.get(s.name) }
    : { name: s.name, skipped: s.skipped }));

  const direct = rows.find((r) => r.name === 'direct')?.load?.rps;
  // The reference is the faster nginx row: on a small machine a second nginx worker competes
  // with the load generator and the upstream for the same cores and can lose.
  const nginxRow = rows.filter((r) => r.name.startsWith('nginx') && r.load).sort((a, b) => b.load!.rps - a.load!.rps)[0];
  const versions = toolVersions(tool, o.gateway);
  const machine = describeMachine();
  const out: string[] = [
    `## Gateway overhead: non-streamed chat completions against a zero-latency upstream`,
    '',
    `machine: ${machine.cpus} × ${machine.model}, ${machine.memoryGiB} GiB, ${machine.kernel}; load generator, upstream and proxy all on this machine`,
    `load: ${tool.name} ${tool.version}, closed loop, ${o.connections} connections${tool.name === 'wrk' ? `, ${o.threads} threads` : ''}, `
      + `${o.durationS} s per run after ${o.warmupS} s warm-up, ${o.repeat} run${o.repeat > 1 ? 's per row, interleaved (median run shown, req/s range in brackets)' : ' per row'}; `
      + `${Buffer.byteLength(CHAT_BODY)}-byte POST /v1/chat/completions`
      + (o.pin && ProcessGroup.canPin ? '; pinned: one-process proxies on CPU 1, upstream, redis and load generator on CPU 0' : ''),
    `versions: ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    '',
    throughputTable(rows, direct, nginxRow?.load?.rps),
    '',
    `vs nginx: against the faster nginx row, ${nginxRow?.name ?? 'nginx (not run)'}. proxy / upstream CPU: % of one core used by that process tree during the run.`,
    'other CPU: busy CPU on the machine outside this benchmark during the run (anything above a few % disturbed that row).',
    'proxy µs/req: the proxy\'s CPU time per request, the median over the row\'s runs (its capacity where it alone is the bottleneck; steadier than req/s here).',
    `x-switchyard-overhead-ms: the gateway's own time from request received to upstream request sent, from ${o.headerSamples} requests at concurrency 8 after the load runs.`,
  ];
  for (const r of rows.filter((x) => x.name.startsWith('switchyard') && !x.name.startsWith('switchyard baseline') && x.load)) {
    const base = r.name.startsWith('switchyard (') ? rows.find((x) => x.load && x.name === r.name.replace('switchyard (', 'switchyard baseline (')) : undefined;
    if (base?.load) out.push(`${r.name}: ${fmt((100 * r.load!.rps) / base.load.rps, 1)}% of ${base.name}'s requests/s (${switchyardVersion(o.baseline!)}).`);
    if (nginxRow?.load) out.push(`${r.name}: ${Math.round((100 * r.load!.rps) / nginxRow.load.rps)}% of ${nginxRow.name}'s requests/s.`);
    const floor = rows.find((x) => x.load && x.name === floorName(Number(/workers: (\d+)/.exec(r.name)?.[1] ?? 1)));
    if (floor?.load) {
      const byCpu = floor.proxyUsPerRequest !== undefined && r.proxyUsPerRequest !== undefined ? `; by proxy CPU per request, ${Math.round((100 * floor.proxyUsPerRequest) / r.proxyUsPerRequest)}%` : '';
      out.push(`${r.name}: ${Math.round((100 * r.load!.rps) / floor.load.rps)}% of ${floor.name}'s requests/s (node:http + undici, nothing else)${byCpu}.`);
    }
    const fastifyFloor = rows.find((x) => x.load && x.name === fastifyFloorName(Number(/workers: (\d+)/.exec(r.name)?.[1] ?? 1)));
    if (fastifyFloor?.load) out.push(`${r.name}: ${Math.round((100 * r.load!.rps) / fastifyFloor.load.rps)}% of ${fastifyFloor.name}'s (the same in fastify).`);
    const essentials = r.name.includes('+ key') ? rows.find((x) => x.load && x.name === essentialsFloorName(Number(/workers: (\d+)/.exec(r.name)?.[1] ?? 1))) : undefined;
    if (essentials?.load) {
      const byCpu = essentials.proxyUsPerRequest !== undefined && r.proxyUsPerRequest !== undefined ? `; by proxy CPU per request, ${Math.round((100 * essentials.proxyUsPerRequest) / r.proxyUsPerRequest)}%` : '';
      out.push(`${r.name}: ${Math.round((100 * r.load!.rps) / essentials.load.rps)}% of ${essentials.name}'s requests/s (the same features at their least)${byCpu}.`);
    }
  }
  const essentialsRow = rows.find((x) => x.load && x.name === essentialsFloorName(1));
  const floorRow = rows.find((x) => x.load && x.name === floorName(1));
  if (essentialsRow?.proxyUsPerRequest !== undefined && floorRow?.proxyUsPerRequest !== undefined) {
    out.push(`${essentialsRow.name}: ${Math.round((100 * floorRow.proxyUsPerRequest) / essentialsRow.proxyUsPerRequest)}% of ${floorRow.name} by proxy CPU per request: what these features cost written at their least (essentials.ts).`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return { kind: 'throughput', date: new Date().toISOString(), machine, versions, tool: tool.name, options: { ...o, targets: [...o.targets] }, rows };
}

/** The run as a page: the table, a chart of its main figure per target, the raw JSON. */
function writeHtmlReport(dir: string, result: Record<string, unknown>): void {
  const measured = (result.rows as Array<ThroughputRow & StreamRow>).filter((r) => !r.skipped);
  if (result.kind === 'stream') {
    const header = ['target', 'streams/s', 'TTFT p50 ms', 'TTFT p99 ms', 'ITL mean ms', 'ITL p99 ms', 'failures'];
    const rows = measured.map((r) => [r.name, fmt(r.stats!.streamsPerS, 1), fmt(r.stats!.ttftP50Ms, 2), fmt(r.stats!.ttftP99Ms, 2), fmt(r.stats!.itlMeanMs, 2), fmt(r.stats!.itlP99Ms, 2), r.stats!.failures]);
    writeReport(dir, 'Gateway overhead, streaming (zero-latency upstream)', header, rows, [{ title: 'TTFT p50', column: 2, unit: 'ms' }], result);
    return;
  }
  const nginx = Math.max(0, ...measured.filter((r) => r.name.startsWith('nginx')).map((r) => r.load!.rps));
  const header = ['target', 'req/s', 'p50 ms', 'p99 ms', 'vs nginx %', 'proxy CPU %', 'failed'];
  const rows = measured.map((r) => [
    r.name, Math.round(r.load!.rps), fmt(r.load!.p50Ms, 2), fmt(r.load!.p99Ms, 2), nginx > 0 ? fmt((100 * r.load!.rps) / nginx, 0) : '-',
    r.proxyCores === undefined ? '-' : fmt(100 * r.proxyCores, 0), r.load!.non2xx + r.load!.errors,
  ]);
  writeReport(dir, 'Gateway overhead: non-streamed requests against a zero-latency upstream', header, rows, [{ title: 'Requests per second', column: 1, unit: 'req/s' }], result);
}

export async function runOverheadCli(argv: string[]): Promise<number> {
  let o: Options;
  try {
    o = readOptions(argv);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${message ? `${message}\n` : ''}${USAGE}\n`);
    return message ? 2 : 0;
  }
  const group = new ProcessGroup();
  if (o.pin) {
    if (!ProcessGroup.canPin) say('--pin: taskset is not installed (util-linux); nothing is pinned');
    group.pin = pinRule;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-overhead-'));
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = true;
    say(`${signal}: stopping everything this run started`);
    void group.stopAll().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  };
  const onExit = () => group.killAllNow();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  try {
    const result = o.stream ? await runStream(o, group, dir) : await runThroughput(o, group, dir);
    if (o.json) {
      writeFileSync(o.json, `${JSON.stringify(result, null, 2)}\n`);
      say(`results written to ${o.json}`);
    }
    if (o.report) {
      writeHtmlReport(o.report, result);
      say(`report written to ${o.report}/index.html`);
    }
    return 0;
  } catch (err) {
    // After Ctrl-C the children die under the run's feet; that is not a failure to report.
    if (!interrupted) say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runOverheadCli(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`overhead: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
