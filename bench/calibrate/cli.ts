/**
 * `switchyard bench calibrate --table ID|all [--tolerance P] [--time-scale X] [--requests-per-client N] [--json FILE]`
 * `switchyard bench calibrate --fit --profile NAME [--fix key,…]`
 */
import { writeFileSync } from 'node:fs';
import { defineCommand, parseCommandLine } from '../../core/cli/args.js';
import { loadProfile } from '../../native/profiles.js';
import { Tokenizer } from '../../core/tokenizer/tokenizer.js';
import { calibrateTable, formatTable, worstErrorPct, type TableResult } from './calibrate.js';
import { fitProfile, simulateCells, type StepCoefficients } from './fit.js';
import { TABLE_WORKLOADS, findTable } from './tables.js';

const USAGE = `usage: switchyard bench calibrate --table ID|all [--tolerance PCT] [--time-scale X]
                                  [--requests-per-client N] [--json FILE]
       switchyard bench calibrate --fit --profile NAME [--fix stepPerPrefillTokenMs,…] [--iterations N]

Replays published throughput tables against the emulated engines and prints published vs measured.

options:
  --table ID|all             a published table (repeatable), or all of them
  --tolerance PCT            exit 1 if any cell is off by more than PCT percent
  --time-scale X             model time runs X times faster than real time (default 10)
  --requests-per-client N    requests each client sends per concurrency level (default 3)
  --json FILE                write published, measured and error per cell
  --fit                      search a profile's step-time coefficients against its tables instead
  --profile NAME             the profile to fit (with --fit)
  --fix K,…                  coefficients --fit keeps as they are
  --iterations N             search iterations for --fit (default 300)
  -h, --help                 this text
tables: ${Object.keys(TABLE_WORKLOADS).join(', ')}`;

const CALIBRATE = defineCommand({
  command: 'switchyard bench calibrate',
  usage: USAGE,
  options: {
    table: { type: 'string', multiple: true },
    tolerance: { type: 'string' },
    'time-scale': { type: 'string', default: '10' },
    'requests-per-client': { type: 'string', default: '3' },
    json: { type: 'string' },
    fit: { type: 'boolean', default: false },
    profile: { type: 'string' },
    fix: { type: 'string', default: '' },
    iterations: { type: 'string', default: '300' },
  },
});

export async function runCalibrateCli(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(CALIBRATE, argv);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  if (values.fit) return runFit(values.profile, values.fix, Number(values.iterations));
  const ids = (values.table ?? []).flatMap((t) => (t === 'all' ? Object.keys(TABLE_WORKLOADS) : [t]));
  if (ids.length === 0) throw new Error(`--table is required\n${USAGE}`);
  const timeScale = Number(values['time-scale']);
  const perClient = Number(values['requests-per-client']);
  const tolerance = values.tolerance === undefined ? undefined : Number(values.tolerance);
  if (!(timeScale > 0) || !(perClient >= 1) || (tolerance !== undefined && !(tolerance > 0))) {
    throw new Error(`--time-scale, --requests-per-client and --tolerance must be positive numbers\n${USAGE}`);
  }
  const tokenizer = Tokenizer.qwenDefault();
  const results: TableResult[] = [];
  let failed = false;
  for (const id of ids) {
    const r = await calibrateTable(id, { tables: ids, tolerancePct: tolerance, timeScale, requestsPerClient: perClient }, tokenizer);
    results.push(r);
    process.stdout.write(`${formatTable(r, timeScale)}\n`);
    if (tolerance !== undefined) {
      const worst = worstErrorPct(r);
      const ok = worst <= tolerance;
      failed ||= !ok;
      process.stdout.write(`worst cell ${worst.toFixed(1)}% ${ok ? 'within' : 'OUTSIDE'} ±${tolerance}%\n`);
    }
    process.stdout.write('\n');
  }
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(results.map((r) => ({
      table: r.table.id, workload: r.workload, timeScale,
      arms: r.arms.map((a) => ({ arm: a.arm, profile: a.profile, published: a.published, measured: a.measured, error_pct: a.errorPct })),
    })), null, 2));
  }
  return failed ? 1 : 0;
}

function runFit(profileName: string | undefined, fix: string, iterations: number): number {
  if (!profileName) throw new Error(`--fit needs --profile\n${USAGE}`);
  const sim = loadProfile(profileName);
  const targets = Object.entries(TABLE_WORKLOADS).flatMap(([id, w]) =>
    Object.entries(w.profiles).filter(([, p]) => p === profileName).map(([arm]) => ({ ...findTable(id), arm })));
  if (targets.length === 0) throw new Error(`no published table is matched to profile '${profileName}'`);
  const start: StepCoefficients = {
    stepBaseMs: sim.engineProfile.stepBaseMs,
    stepPerSeqMs: sim.engineProfile.stepPerSeqMs,
    stepPerPrefillTokenMs: sim.engineProfile.stepPerPrefillTokenMs,
    stepPerKvTokenMs: sim.engineProfile.stepPerKvTokenMs,
    frontendOverheadMs: sim.frontendOverheadMs,
  };
  const fixed = fix.split(',').filter(Boolean) as Array<keyof StepCoefficients>;
  const { coefficients: c, rmsLogError } = fitProfile(sim.engineProfile, start, targets, iterations, fixed);
  const fitted = { ...sim.engineProfile, ...c };
  for (const t of targets) {
    const cells = simulateCells(fitted, c.frontendOverheadMs, t);
    const errors = cells.map((v, i) => (100 * (v / t.table.arms[t.arm][i] - 1)).toFixed(1) + '%');
    process.stdout.write(`${t.table.id} ${t.arm}: ${errors.join(' ')}\n`);
  }
  const r = (v: number, d: number) => Number(v.toPrecision(d));
  process.stdout.write(
    `rms log error ${rmsLogError.toFixed(4)}\n` +
      `    step_ms: { base: ${r(c.stepBaseMs, 4)}, per_seq: ${r(c.stepPerSeqMs, 3)}, ` +
      `per_prefill_token: ${r(c.stepPerPrefillTokenMs, 3)}, per_kv_token: ${r(c.stepPerKvTokenMs, 3)} }\n` +
      `    frontend_overhead_ms: ${Math.round(c.frontendOverheadMs)}\n`,
  );
  return 0;
}
