/**
 * Drives load levels against one OpenAI-compatible endpoint (REFERENCE §4.2):
 *
 * - closed loop: `concurrency` workers, each sending its next request when the last returns;
 * - open loop: arrivals at `rate` with gamma(burstiness, 1/(rate·burstiness)) gaps, rescaled so the
 *   last lands at N/rate (vLLM's get_request), optionally capped by a `maxConcurrency` semaphore
 *   whose wait is each request's client_queue_time;
 * - trace: arrivals at the times the trace gives.
 *
 * Every level gets its own text (the workload is rebuilt with a level-specific seed), so a level
 * never hits prefix-cache entries the previous one left behind; warm-up requests use text of
 * their own too and are not measured.
 */
import type { Agent } from 'undici';
import { Tokenizer } from '../../core/tokenizer/tokenizer.js';
import { chatUrl, createAgent, sendChat, type ChatTarget } from './client.js';
import { computeMetrics, type LevelMetrics, type RequestRecord, type SloConfig } from './metrics.js';
import { ProgressLine } from './progress.js';
import { createRng, gammaSample, mixSeed, type Rng } from './random.js';
import type { RequestSource, WorkloadRequest } from './source.js';
import { buildWorkload, type WorkloadOptions } from './workloads.js';

export type LoadLevel =
  | { kind: 'closed'; concurrency: number }
  /** `rate` may be Infinity: everything is sent at once (vLLM's default). */
  | { kind: 'open'; rate: number; burstiness: number; maxConcurrency?: number }
  | { kind: 'trace'; maxConcurrency?: number };

export interface LoadOptions {
  target: ChatTarget;
  workload: WorkloadOptions;
  levels: LoadLevel[];
  /** Requests per level; default: the workload's own. */
  numPrompts?: number;
  /** Unmeasured requests before the first level. */
  warmup?: number;
  seed?: number;
  slo?: SloConfig;
  ignoreEos?: boolean;
  /** Default: the Qwen tokenizer (loaded once). */
  tokenizer?: Tokenizer;
  /** Progress line on stderr; default: when stderr is a TTY. */
  progress?: boolean;
}

export interface LevelResult {
  level: LoadLevel;
  /** Requests sent at this level. */
  numPrompts: number;
  metrics: LevelMetrics;
  records: RequestRecord[];
  /** Multi-round turns never sent because an earlier turn of their conversation failed. */
  abandoned: number;
}

export interface LoadResult {
  date: Date;
  seed: number;
  options: Omit<LoadOptions, 'tokenizer'>;
  levels: LevelResult[];
}

/** Raw inter-arrival gaps in seconds: gamma(B, 1/(R·B)); B = 1 is Poisson, B = ∞ constant. */
export function arrivalGapsS(n: number, rate: number, burstiness: number, rng: Rng): number[] {
  if (rate === Infinity) return new Array<number>(n).fill(0);
  if (burstiness === Infinity) return new Array<number>(n).fill(1 / rate);
  const scale = 1 / (rate * burstiness);
  return Array.from({ length: n }, () => gammaSample(rng, burstiness, scale));
}

/**
 * Arrival offsets (ms from the start) as vLLM schedules them: cumulative gaps, the first request
 * after one gap too, rescaled so the last arrival lands exactly at N/rate — which keeps throughput
 * comparable across seeds.
 */
export function arrivalOffsetsMs(n: number, rate: number, burstiness: number, rng: Rng): number[] {
  const gaps = arrivalGapsS(n, rate, burstiness, rng);
  const offsets: number[] = [];
  let t = 0;
  for (const g of gaps) offsets.push((t += g));
  const last = offsets[offsets.length - 1] ?? 0;
  const factor = last > 0 ? n / rate / last : 1;
  return offsets.map((o) => o * factor * 1000);
}

class Semaphore {
  private waiting: Array<() => void> = [];
  constructor(private free: number) {}
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface LevelRun {
  agent: Agent;
  target: ChatTarget;
  url: URL;
  tokenizer: Tokenizer;
  source: RequestSource;
  /** At most this many requests are taken from the source. */
  limit: number;
  records: RequestRecord[];
  failed: number;
  progress?: ProgressLine;
}

async function execute(run: LevelRun, request: WorkloadRequest, arrivalMs: number): Promise<void> {
  const o = await sendChat(run.agent, run.target, request, run.url);
  run.source.complete(request, { success: o.success, text: o.text });
  // vLLM: usage.completion_tokens, else re-tokenize the text (a chunk may carry several tokens).
  const outputTokens = o.usageCompletionTokens || (o.success ? run.tokenizer.encode(o.text).length : 0);
  run.records.push({
    ...o, arrivalMs, clientQueueMs: Math.max(0, o.startMs - arrivalMs), outputTokens,
    promptTokens: o.usagePromptTokens ?? request.expectedPromptTokens ?? 0, group: request.group, turn: request.turn,
  });
  if (!o.success) run.failed++;
  run.progress?.update(run.records.length, run.failed);
}

async function closedLoop(run: LevelRun, concurrency: number): Promise<void> {
  let taken = 0;
  const worker = async () => {
    for (;;) {
      if (taken >= run.limit) return;
      taken++;
      const request = await run.source.next();
      if (request === undefined) return;
      await execute(run, request, performance.now());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function openLoop(run: LevelRun, offsetsMs: number[] | 'trace', maxConcurrency: number | undefined): Promise<void> {
  const gate = maxConcurrency === undefined ? undefined : new Semaphore(maxConcurrency);
  const inFlight: Array<Promise<void>> = [];
  const start = performance.now();
  for (let i = 0; i < run.limit; i++) {
    if (offsetsMs !== 'trace') {
      const wait = start + offsetsMs[i] - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const request = await run.source.next();
    if (request === undefined) break;
    if (offsetsMs === 'trace') {
      const wait = start + (request.arrivalMs ?? 0) - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const arrival = performance.now();
    inFlight.push((async () => {
      await gate?.acquire();
      try {
        await execute(run, request, arrival);
      } finally {
        gate?.release();
      }
    })());
  }
  await Promise.all(inFlight);
}

function levelLabel(level: LoadLevel): string {
  if (level.kind === 'closed') return `concurrency ${level.concurrency}`;
  const cap = level.maxConcurrency === undefined ? '' : `, max ${level.maxConcurrency}`;
  return level.kind === 'open' ? `rate ${level.rate}/s${cap}` : `trace${cap}`;
}

async function runLevel(base: Omit<LevelRun, 'records' | 'failed' | 'progress'>, level: LoadLevel, seed: number, showProgress: boolean, label: string): Promise<{ records: RequestRecord[]; durationS: number }> {
  const run: LevelRun = { ...base, records: [], failed: 0, progress: showProgress ? new ProgressLine(label, base.limit) : undefined };
  const start = performance.now();
  try {
    if (level.kind === 'closed') await closedLoop(run, level.concurrency);
    else if (level.kind === 'open') await openLoop(run, arrivalOffsetsMs(run.limit, level.rate, level.burstiness, createRng(seed)), level.maxConcurrency);
    else await openLoop(run, 'trace', level.maxConcurrency);
  } finally {
    run.progress?.finish();
  }
  return { records: run.records, durationS: (performance.now() - start) / 1000 };
}

/** Connections for the shared Agent: enough for the largest bounded level, unlimited otherwise. */
function connectionsFor(levels: readonly LoadLevel[]): number | undefined {
  let max = 0;
  for (const l of levels) {
    const n = l.kind === 'closed' ? l.concurrency : l.maxConcurrency;
    if (n === undefined) return undefined;
    max = Math.max(max, n);
  }
  return max;
}

/** Runs the warm-up, then each level in turn, and returns every level's records and metrics. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (options.levels.length === 0) throw new RangeError('runLoad: no load levels given');
  const { tokenizer: given, ...rest } = options;
  const tokenizer = given ?? Tokenizer.qwenDefault();
  const seed = options.seed ?? 0;
  const showProgress = options.progress ?? process.stderr.isTTY === true;
  const agent = createAgent(connectionsFor(options.levels));
  const url = chatUrl(options.target.baseUrl);
  const date = new Date();
  const levels: LevelResult[] = [];
  try {
    const warmup = options.warmup ?? 0;
    if (warmup > 0) {
      // prefix-repetition needs at least one request per prefix to build.
      const min = options.workload.kind === 'prefix-repetition' ? options.workload.numPrefixes : 1;
      const workload = buildWorkload(options.workload, { tokenizer, seed: mixSeed(seed, 0x3a97), numPrompts: Math.max(warmup, min), ignoreEos: options.ignoreEos });
      const first = options.levels[0];
      const concurrency = first.kind === 'closed' ? first.concurrency : Math.min(warmup, first.maxConcurrency ?? warmup);
      await runLevel({ agent, target: options.target, url, tokenizer, source: workload.source(), limit: Math.min(warmup, workload.size) },
        { kind: 'closed', concurrency }, seed, showProgress, 'warm-up');
    }
    for (const [i, level] of options.levels.entries()) {
      const workload = buildWorkload(options.workload, { tokenizer, seed: mixSeed(seed, i + 1), numPrompts: options.numPrompts, ignoreEos: options.ignoreEos });
      const source = workload.source();
      const label = `[${i + 1}/${options.levels.length}] ${levelLabel(level)}`;
      const { records, durationS } = await runLevel({ agent, target: options.target, url, tokenizer, source, limit: workload.size },
        level, mixSeed(seed, 0xa551 + i), showProgress, label);
      levels.push({ level, numPrompts: records.length, metrics: computeMetrics(records, durationS, options.slo), records, abandoned: source.abandoned ?? 0 });
    }
  } finally {
    await agent.close();
  }
  return { date, seed, options: rest, levels };
}
