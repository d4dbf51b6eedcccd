/**
 * `switchyard bench run`: the load generator's command line. Flags are parsed strictly (an unknown
 * or misspelt flag is an error, not ignored) and checked together, so a run that could not mean
 * what was typed never starts.
 */
import { defineCommand, parseStrict, usageFailure, wantsHelp } from '../../core/cli/args.js';
import type { SloConfig } from './metrics.js';
import { formatResult, gitSha, resultJson, writeJson, writeReportDir } from './report.js';
import { runLoad, type LoadLevel, type LoadOptions, type LoadResult } from './runner.js';
import { parseWorkloadArgs, WORKLOAD_ARG_OPTIONS, WORKLOAD_KINDS } from './workloads.js';

export { runLoad };
export type { LoadLevel, LoadOptions, LoadResult };

export const BENCH_RUN_USAGE = `usage: switchyard bench run --base-url URL --model NAME [options]
load (one of; default --concurrency 1, or the trace's own arrival times):
  --concurrency N[,N…]        closed loop, one result per level (e.g. 1,2,4,8,16)
  --request-rate R[,R…]       open loop, requests/s (inf = all at once); Poisson unless --burstiness
  --burstiness B              gamma-distributed gaps, B < 1 burstier (default 1)
  --max-concurrency N         client-side cap on requests in flight (open loop / trace)
requests:
  --workload ${WORKLOAD_KINDS.join('|')}   (default random)
    fixed:             --fixed-input-len 1024 --fixed-output-len 128
    random:            --random-input-len 1024 --random-output-len 128 --random-range-ratio 0 --random-prefix-len 0
    shared-prefix:     --gsp-num-groups 64 --gsp-prompts-per-group 16 --gsp-system-prompt-len 2048 --gsp-question-len 128 --gsp-output-len 256
    multi-round:       --num-users 320 --num-rounds 10 --shared-system-prompt 1000 --user-history-prompt 20000 --answer-len 100
    prefix-repetition: --prefix-repetition-prefix-len 256 --prefix-repetition-suffix-len 256 --prefix-repetition-num-prefixes 10 --prefix-repetition-output-len 128
    trace:             --trace-file FILE (Mooncake JSONL) --trace-block-size 512 --trace-speedup 1
  --num-prompts N             requests per level (default 1000, or the workload's own size)
  --warmup N                  unmeasured requests before the first level (default 0)
  --seed S                    seed for lengths, text, order and arrivals (default 0)
  --ignore-eos                send ignore_eos (shared-prefix and trace always do)
results:
  --slo ttft=MS,tpot=MS,e2el=MS   goodput counts requests meeting every limit given
  --json FILE                 vLLM-compatible result keys plus switchyard_* (an array for a sweep)
  --report DIR                DIR/index.html (charts) and DIR/results.json
  --save-detailed             per-request arrays in the JSON (ttfts, itls, latencies, errors, backends)
  -h, --help                  this text
OPENAI_API_KEY, when set, is sent as a bearer token.`;

export class BenchArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchArgsError';
  }
}

export interface BenchRunArgs {
  load: LoadOptions;
  json?: string;
  report?: string;
  detailed: boolean;
}

const OPTIONS = {
  'base-url': { type: 'string' }, model: { type: 'string' },
  concurrency: { type: 'string' }, 'request-rate': { type: 'string' }, burstiness: { type: 'string' }, 'max-concurrency': { type: 'string' },
  'num-prompts': { type: 'string' }, warmup: { type: 'string' }, seed: { type: 'string' }, slo: { type: 'string' },
  json: { type: 'string' }, report: { type: 'string' }, 'ignore-eos': { type: 'boolean' }, 'save-detailed': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...WORKLOAD_ARG_OPTIONS,
} as const;

const BENCH_RUN = defineCommand({ command: 'switchyard bench run', usage: BENCH_RUN_USAGE, options: OPTIONS });

function int(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new BenchArgsError(`--${flag}: expected an integer ≥ ${min}, got "${text}"`);
  return n;
}

function positive(flag: string, text: string, allowInf: boolean): number {
  if (allowInf && text.trim().toLowerCase() === 'inf') return Infinity;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new BenchArgsError(`--${flag}: expected a positive number${allowInf ? ' or inf' : ''}, got "${text}"`);
  return n;
}

const list = (text: string) => text.split(',').map((s) => s.trim());

/** `ttft=500,tpot=50` (also vLLM's `ttft:500 tpot:50`). */
export function parseSlo(text: string): SloConfig {
  const slo: SloConfig = {};
  for (const part of text.split(/[,\s]+/).filter(Boolean)) {
    const m = /^(ttft|tpot|e2el)[=:](.+)$/.exec(part);
    if (!m) throw new BenchArgsError(`--slo: expected ttft=MS,tpot=MS,e2el=MS, got "${part}"`);
    const key = m[1] as keyof SloConfig;
    if (slo[key] !== undefined) throw new BenchArgsError(`--slo: ${key} given twice`);
    slo[key] = positive('slo', m[2], false);
  }
  if (Object.keys(slo).length === 0) throw new BenchArgsError('--slo: give at least one of ttft, tpot, e2el');
  return slo;
}

function levelsFrom(v: Record<string, string | boolean | undefined>, traceTimed: boolean): LoadLevel[] {
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const conc = str('concurrency');
  const rate = str('request-rate');
  const burst = str('burstiness');
  const cap = str('max-concurrency');
  if (conc !== undefined && rate !== undefined) throw new BenchArgsError('--concurrency (closed loop) and --request-rate (open loop) cannot be combined');
  if (conc !== undefined && cap !== undefined) throw new BenchArgsError('--max-concurrency caps an open loop; with --concurrency the concurrency is the cap');
  if (burst !== undefined && rate === undefined) throw new BenchArgsError('--burstiness shapes --request-rate arrivals; give --request-rate too');
  const maxConcurrency = cap === undefined ? undefined : int('max-concurrency', cap, 1);
  if (conc !== undefined) return list(conc).map((c) => ({ kind: 'closed', concurrency: int('concurrency', c, 1) }));
  if (rate !== undefined) {
    const burstiness = burst === undefined ? 1 : positive('burstiness', burst, true);
    return list(rate).map((r) => ({ kind: 'open', rate: positive('request-rate', r, true), burstiness, maxConcurrency }));
  }
  if (traceTimed) return [{ kind: 'trace', maxConcurrency }];
  // vLLM's meaning of a bare --max-concurrency: everything arrives at once, N at a time.
  if (maxConcurrency !== undefined) return [{ kind: 'open', rate: Infinity, burstiness: 1, maxConcurrency }];
  return [{ kind: 'closed', concurrency: 1 }];
}

/** Parses and checks `bench run` flags; 'help' for --help. */
export function parseBenchRunArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchRunArgs | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseStrict(BENCH_RUN, argv));
  } catch (err) {
    throw new BenchArgsError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return 'help';
  const baseUrl = values['base-url'];
  const model = values.model;
  if (typeof baseUrl !== 'string' || baseUrl === '') throw new BenchArgsError('--base-url URL is required (the gateway or engine, e.g. http://127.0.0.1:8080)');
  try {
    new URL(baseUrl);
  } catch {
    throw new BenchArgsError(`--base-url: not a URL: "${baseUrl}"`);
  }
  if (typeof model !== 'string' || model === '') throw new BenchArgsError('--model NAME is required (the model name requests carry)');
  const workload = parseWorkloadArgs(values);
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const apiKey = env.OPENAI_API_KEY;
  const load: LoadOptions = {
    target: { baseUrl, model, headers: apiKey ? { authorization: `Bearer ${apiKey}` } : undefined },
    workload,
    levels: levelsFrom(values, workload.kind === 'trace'),
    numPrompts: str('num-prompts') === undefined ? undefined : int('num-prompts', str('num-prompts')!, 1),
    warmup: str('warmup') === undefined ? 0 : int('warmup', str('warmup')!, 0),
    seed: str('seed') === undefined ? 0 : int('seed', str('seed')!, Number.MIN_SAFE_INTEGER),
    slo: str('slo') === undefined ? undefined : parseSlo(str('slo')!),
    ignoreEos: values['ignore-eos'] === true,
  };
  if (workload.kind === 'prefix-repetition' && (load.numPrompts ?? 1000) < workload.numPrefixes) {
    throw new BenchArgsError(`--num-prompts (${load.numPrompts}) must be at least --prefix-repetition-num-prefixes (${workload.numPrefixes})`);
  }
  return { load, json: str('json'), report: str('report'), detailed: values['save-detailed'] === true };
}

/** `switchyard bench run …`; returns the exit code (2 for bad flags, 1 if nothing completed). */
export async function runBenchCli(argv: string[]): Promise<number> {
  let args: BenchRunArgs | 'help';
  try {
    args = wantsHelp(argv) ? 'help' : parseBenchRunArgs(argv);
  } catch (err) {
    if (!(err instanceof Error) || !/ArgsError$/.test(err.name)) throw err;
    return usageFailure(BENCH_RUN, err.message);
  }
  if (args === 'help') {
    process.stdout.write(`${BENCH_RUN_USAGE}\n`);
    return 0;
  }
  let result: LoadResult;
  try {
    result = await runLoad(args.load);
  } catch (err) {
    // A trace that does not parse, a workload that cannot be built: say so, no stack trace.
    process.stderr.write(`switchyard bench run: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  process.stdout.write(`${formatResult(result)}\n`);
  const doc = resultJson(result, { gitSha: gitSha(), detailed: args.detailed });
  if (args.json !== undefined) {
    writeJson(args.json, doc);
    process.stdout.write(`results written to ${args.json}\n`);
  }
  if (args.report !== undefined) {
    const files = writeReportDir(args.report, result, doc);
    process.stdout.write(`report written to ${files.html}\n`);
  }
  return result.levels.some((l) => l.metrics.completed > 0) ? 0 : 1;
}
