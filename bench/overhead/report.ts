/**
 * What a run found, as Markdown tables a person can paste into a note, plus the machine and tool
 * versions without which the numbers mean nothing.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { StreamStats } from './client.js';
import type { LoadResult } from './load.js';

export interface Machine {
  cpus: number;
  model: string;
  kernel: string;
  memoryGiB: number;
  node: string;
}

export function describeMachine(): Machine {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim() ?? model;
  } catch {
    // not Linux: os.cpus() has it
  }
  return { cpus: os.cpus().length, model, kernel: `${os.type()} ${os.release()}`, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
}

/** The commit the gateway was built from, when this is a git checkout (read-only). */
export function gitCommit(root: string): string | undefined {
  try {
    const sha = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return undefined;
  }
}

export interface ThroughputRow {
  name: string;
  skipped?: string;
  load?: LoadResult;
  /** Requests/s of every measured run when a row was run more than once (`load` is the median). */
  rpsRuns?: number[];
  /** CPU of the proxy's process tree during the measured run, in cores (1 = one core busy). */
  proxyCores?: number;
  upstreamCores?: number;
  /** Busy CPU on the machine outside the benchmark's own processes, in cores. */
  otherCores?: number;
  /**
   * The proxy's CPU time per request, µs: the median over the row's runs. Steadier than req/s on
   * a small shared machine (a run that loses the core to another process loses requests and CPU
   * time alike), and what a proxy's capacity is when it alone is the bottleneck.
   */
  proxyUsPerRequest?: number;
  /** Switchyard's `x-switchyard-overhead-ms`, sampled after the load run. */
  overheadHeader?: { p50Ms: number; p99Ms: number; samples: number; failures: number };
}

export interface StreamRow {
  name: string;
  skipped?: string;
  stats?: StreamStats;
  proxyCores?: number;
  otherCores?: number;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}

const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : `${Math.round(v * 100)}%`);
const cores = (v: number | undefined) => (v === undefined ? '–' : `${Math.round(v * 100)}%`);
const rate = (v: number) => Math.round(v).toLocaleString('en-US');
const signedMs = (v: number) => (!Number.isFinite(v) ? '–' : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);

export function throughputTable(rows: ThroughputRow[], direct: number | undefined, nginx: number | undefined): string {
  const body = rows.map((r) => {
    if (!r.load) return [r.name, `skipped: ${r.skipped ?? 'not run'}`, '', '', '', '', '', '', '', '', '', '', ''];
    const l = r.load;
    const hdr = r.overheadHeader ? `${ms(r.overheadHeader.p50Ms)} / ${ms(r.overheadHeader.p99Ms)}` : '–';
    return [
      r.name, rate(l.rps) + (r.rpsRuns ? ` (${rate(Math.min(...r.rpsRuns))}–${rate(Math.max(...r.rpsRuns))})` : ''), ms(l.p50Ms), ms(l.p90Ms), ms(l.p99Ms),
      direct ? pct(l.rps / direct) : '–', nginx ? pct(l.rps / nginx) : '–',
      cores(r.proxyCores), r.proxyUsPerRequest === undefined ? '–' : r.proxyUsPerRequest.toFixed(1), cores(r.upstreamCores), cores(r.otherCores), hdr, String(l.non2xx + l.errors),
    ];
  });
  return table(
    ['target', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'vs direct', 'vs nginx', 'proxy CPU', 'proxy µs/req', 'upstream CPU', 'other CPU', 'x-switchyard-overhead-ms p50 / p99', 'failed'],
    body,
  );
}

/** The proxy's CPU time per content chunk relayed, in µs (NaN without a CPU reading). */
export function cpuPerChunkUs(r: StreamRow): number {
  const s = r.stats;
  if (!s || r.proxyCores === undefined) return NaN;
  const chunks = s.streams * s.contentChunksPerStream;
  return chunks > 0 ? (r.proxyCores * s.durationS * 1e6) / chunks : NaN;
}

export function streamTable(rows: StreamRow[]): string {
  const direct = rows.find((r) => r.name === 'direct')?.stats;
  const body = rows.map((r) => {
    const s = r.stats;
    if (!s) return [r.name, `skipped: ${r.skipped ?? 'not run'}`, '', '', '', '', '', '', '', '', '', '', ''];
    return [
      r.name, s.streamsPerS.toFixed(1), ms(s.ttftP50Ms), ms(s.ttftP99Ms),
      direct ? signedMs(s.ttftP50Ms - direct.ttftP50Ms) : '–',
      ms(s.itlMeanMs), ms(s.itlP99Ms), direct ? signedMs(s.itlMeanMs - direct.itlMeanMs) : '–',
      s.contentChunksPerStream.toFixed(1), cores(r.proxyCores), Number.isFinite(cpuPerChunkUs(r)) ? cpuPerChunkUs(r).toFixed(1) : '–', cores(r.otherCores), String(s.failures),
    ];
  });
  return table(
    ['target', 'streams/s', 'TTFT p50 ms', 'TTFT p99 ms', 'TTFT p50 added', 'ITL mean ms', 'ITL p99 ms', 'ITL mean added', 'chunks/stream', 'proxy CPU', 'proxy µs/chunk', 'other CPU', 'failed'],
    body,
  );
}
