/**
 * Paired rounds: the proxy CPU per request of two or more builds of Switchyard (and, if asked,
 * the node floor and the essentials floor), measured round by round under the overhead
 * benchmark's non-streamed load, the rows' order reversed every other round. On a machine whose
 * speed drifts by 10-50% within minutes (a shared VM), a change of a few per cent shows in the
 * per-round differences long before it shows in medians of separate runs.
 *
 *   node --import tsx bench/overhead/paired.ts --gateway DIR [--gateway DIR …] [--tenants [--redis]]
 *        [--floor] [--essentials] [--rounds 8] [--seconds 5]
 *
 * `--tenants`: the gateways run the `switchyard + key, limits, prefix-affinity` row's setup, with
 * the key's limits in process memory, or (`--redis`) in a redis-server this run starts (one for
 * all the gateways: the redis-server's own CPU is not counted in a row's µs/req).
 *
 * Each --gateway is a checkout with dist/ built (the first is the one compared; e.g. this one,
 * then a `git worktree` of the commit before). Proxies run on CPU 1, the zero upstream and the
 * load generator on CPU 0 (taskset, when installed). Prints each round, then per row the median
 * µs/req and, for every other build, the mean and median of its per-round difference from the first.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PEERS, pinRule, roundOrder, say } from './harness.js';
import { percentile, pickLoadTool } from './load.js';
import { ProcessGroup, treeCpuSeconds } from './processes.js';
import { MODEL, startFloor, startRedis, startSwitchyard, startZero, type Target } from './targets.js';

const BODY = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say hello in five words.' }], max_tokens: 16 });

const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      gateway: { type: 'string', multiple: true }, tenants: { type: 'boolean', default: false }, floor: { type: 'boolean', default: false },
      essentials: { type: 'boolean', default: false }, redis: { type: 'boolean', default: false }, rounds: { type: 'string', default: '8' }, seconds: { type: 'string', default: '5' },
    },
  });
  const gateways = (values.gateway ?? []).map((g) => path.resolve(g));
  if (gateways.length === 0) throw new Error('paired: at least one --gateway DIR');
  const { tool, note } = pickLoadTool(PEERS);
  if (note) say(note);
  const group = new ProcessGroup();
  group.pin = pinRule;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-paired-'));
  process.once('SIGINT', () => { void group.stopAll().finally(() => process.exit(130)); });
  try {
    const zero = await startZero(group);
    if (values.redis && !values.tenants) throw new Error('paired: --redis is a form of --tenants');
    const redis = values.redis ? (await startRedis(group)).url : undefined;
    const rows: Array<{ label: string; target: Target }> = [];
    for (const [i, root] of gateways.entries()) {
      const own = path.join(dir, String(i));
      mkdirSync(own);
      const target = await startSwitchyard(group, {
        root, dir: own, upstream: zero.base, workers: 1, body: BODY, setup: values.tenants ? { kind: 'tenants', redis } : { kind: 'plain' },
      });
      rows.push({ label: `${target.name} ${root}`, target });
    }
    if (values.essentials) rows.push({ label: 'essentials floor', target: await startFloor(group, { upstream: zero.base, workers: 1, body: BODY, essentials: true }) });
    if (values.floor) rows.push({ label: 'node floor', target: await startFloor(group, { upstream: zero.base, workers: 1, body: BODY }) });
    const once = async (t: Target, seconds: number): Promise<number> => {
      const before = treeCpuSeconds(t.process!.pid)!;
      const r = await tool.run({ url: t.url, body: BODY, headers: { 'content-type': 'application/json', ...t.headers }, durationS: seconds, connections: 32, threads: 1 }, group, dir);
      if (r.non2xx + r.errors > 0) throw new Error(`${t.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
      return ((treeCpuSeconds(t.process!.pid)! - before) * 1e6) / r.requests;
    };
    for (const row of rows) await once(row.target, 2); // warm-up
    const usPerRequest = rows.map(() => [] as number[]);
    const rounds = Number(values.rounds);
    for (let round = 0; round < rounds; round++) {
      const line: string[] = [];
      for (const i of roundOrder([...rows.keys()], round)) {
        usPerRequest[i]!.push(await once(rows[i]!.target, Number(values.seconds)));
        line.push(`${i}: ${usPerRequest[i]!.at(-1)!.toFixed(1)}`);
      }
      process.stdout.write(`round ${round + 1}: ${line.join('  ')} µs/req\n`);
    }
    rows.forEach((row, i) => {
      const diffs = usPerRequest[i]!.map((v, r) => usPerRequest[0]![r]! - v);
      const vsFirst = i === 0 || i >= gateways.length ? ''
        : `; row 0 minus this row, per round: mean ${(diffs.reduce((a, b) => a + b, 0) / diffs.length).toFixed(1)}, median ${median(diffs).toFixed(1)} µs (row 0 lower in ${diffs.filter((d) => d < 0).length} of ${rounds} rounds)`;
      process.stdout.write(`${i}: ${row.label}: median ${median(usPerRequest[i]!).toFixed(1)} µs/req${vsFirst}\n`);
    });
    return 0;
  } finally {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
    process.stderr.write(`paired: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
