/**
 * `switchyard bench scenario league`: every routing profile — Switchyard's and the peers' — on the
 * same emulated fleets and workloads, in virtual time (harness.ts), with open-loop rate sweeps.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runLeague } from './league.js';
import { defaultProfileNames } from './profiles.js';
import { leagueHtml, leagueText } from './report.js';
import { WORKLOADS, type WorkloadName } from './workloads.js';

const USAGE = `usage: switchyard bench scenario league [options]

Every routing profile on the same fleets and workloads (W1 llm-d shared prefix, W2 prefill-heavy
shared prefix, W2z its Zipf variant, W3 multi-turn, W4 Mooncake trace, W5 mixed A10/H100 fleet),
in virtual time: Switchyard's routing code against engine models on manual clocks. Per workload
and profile: goodput (highest rate with ≥ 95% of requests meeting TTFT and TPOT), p90 TTFT,
throughput and hit rate at a reference load (80% of least-load's goodput), the capacity-aware
bound (Belady's MIN over the pooled KV), balance.

options:
  --quick                tiny versions of every workload, 1 seed, 2 rates (seconds)
  --workloads W1,…       of ${WORKLOADS.join(', ')} (default all)
  --profiles P,…         default: ${defaultProfileNames().join(', ')}; any name +exact runs it with token ids and KV events
  --seeds N              seeds per point (default 3; --quick 1)
  --rates R,…            request rates (req/s) for every workload instead of its own ladder
  --gateways N           gateway processes sharing a store, clients spread over them round-robin
                         (each with its own routing state; load every 100 ms, placements at the
                         store's 50 ms flush, as with Redis); default 1
  --json FILE            results as JSON
  --report FILE.html     the HTML report (a directory: DIR/index.html)
  -h, --help             this text`;

const OPTIONS = {
  quick: { type: 'boolean', default: false }, workloads: { type: 'string' }, profiles: { type: 'string' },
  seeds: { type: 'string' }, rates: { type: 'string' }, gateways: { type: 'string' }, json: { type: 'string' }, report: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

export async function runLeagueScenario(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false }).values;
  } catch (err) {
    process.stderr.write(`league: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const quick = values.quick!;
  const workloads = list(values.workloads) ?? [...WORKLOADS];
  const unknown = workloads.filter((w) => !(WORKLOADS as readonly string[]).includes(w));
  if (unknown.length > 0) {
    process.stderr.write(`league: unknown workload ${unknown.join(', ')} (have: ${WORKLOADS.join(', ')})\n`);
    return 2;
  }
  const seeds = Number(values.seeds ?? (quick ? 1 : 3));
  const rates = list(values.rates)?.map(Number);
  const gateways = Number(values.gateways ?? 1);
  if (!(Number.isInteger(seeds) && seeds >= 1) || !(Number.isInteger(gateways) && gateways >= 1) || rates?.some((r) => !(r > 0))) {
    process.stderr.write('league: --seeds and --gateways take a positive integer, --rates positive numbers\n');
    return 2;
  }
  const result = runLeague({
    quick, workloads: workloads as WorkloadName[], profiles: list(values.profiles), seeds, rates, gateways,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${leagueText(result)}\n`);
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
  if (values.report) {
    const file = values.report.endsWith('.html') ? values.report : path.join(values.report, 'index.html');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, leagueHtml(result));
  }
  return 0;
}
