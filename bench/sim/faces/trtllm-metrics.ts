/**
 * trtllm-serve's Prometheus page, `GET /prometheus/metrics`, and the iteration-stats queue it
 * shares with the JSON `GET /metrics`.
 *
 * The page exists only when the LLM args have `return_perf_metrics: true` (openai_server.py
 * register_routes → mount_metrics; `--return-perf-metrics` here). Its series are
 * tensorrt_llm/metrics/collector.py MetricsCollector's, prefixed `trtllm_`, labelled
 * `{model_name="undefined", engine_type="undefined"}` (the labels openai_server.py passes), and
 * written by prometheus_client in multiprocess mode (MultiProcessCollector), which shows in the
 * text: every HELP is "Multiprocess metric", labels are sorted, gauges carry a `pid` label
 * (multiprocess_mode "all"), and there are no `_created` samples.
 *
 * When a series appears follows the collector:
 * - only `trtllm_prompt_cached_tokens_total` is made at startup (`.labels(**labels)`);
 * - per-request series on the first finished request (log_request_metrics_dict), a histogram
 *   only once it gets a non-zero value (`if ttft := ...`), the queue time even at zero;
 * - iteration series when a finished request wakes the collector loop
 *   (_iteration_stats_collector_loop), which drains the iteration-stats queue and logs only the
 *   newest stats. So the gauges are as of the last completion: after a burst they keep the last
 *   iteration's running count while the engine idles, and trtllm_num_requests_completed_total
 *   counts only the completions of those newest stats.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine, IterationStats } from '../../../native/engine.js';
import type { CompletedRequest } from '../generation.js';
import { ITL_BUCKETS, REQUEST_BUCKETS, TTFT_BUCKETS, phases } from './metrics.js';

/**
 * The engine's iteration-stats queue, read by two consumers. The collector loop drains it; the
 * newest servers keep what it drained for `GET /metrics` (a tee; nvbug 6102381 per the fidelity
 * review, not in the source read here), so a JSON reader still sees every iteration.
 */
export class IterationStatsQueue {
  private kept: IterationStats[] = [];
  constructor(private readonly engine: Engine, private readonly capacity: number) {}

  /** The collector's drain: the newest stats since its previous wake-up, if any. */
  drainNewest(): IterationStats | undefined {
    let fresh: IterationStats[];
    try {
      fresh = this.engine.getLatestIterationStats();
    } catch {
      return undefined; // the replica is closing: its engine is gone
    }
    this.kept.push(...fresh);
    if (this.kept.length > this.capacity) this.kept.splice(0, this.kept.length - this.capacity);
    return fresh.at(-1);
  }

  /** `GET /metrics`: everything queued since the previous call, which drains it. */
  drainAll(): IterationStats[] {
    const out = [...this.kept, ...this.engine.getLatestIterationStats()];
    this.kept = [];
    return out;
  }
}

type Labels = Record<string, string>;

const HELP = 'Multiprocess metric';
// collector.py bucket lists that differ from vLLM's.
const PREFILL_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
const CACHED_TOKENS_BUCKETS = [0, 64, 128, 256, 512, 1024, 2048, 4096, 8192];
const PREFILL_BATCH_BUCKETS = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768];

export interface TrtllmPrometheus {
  registry: Registry;
  /** A request finished: its per-request series, then the collector loop's wake-up. */
  requestFinished(done: CompletedRequest, newest: IterationStats | undefined): void;
}

export function createTrtllmPrometheus(gpuMemUsage: number): TrtllmPrometheus {
  const registry = new Registry();
  const labels: Labels = { engine_type: 'undefined', model_name: 'undefined' };
  const gaugeLabels: Labels = { ...labels, pid: String(process.pid) };
  const counter = (name: string, extra: string[] = []): Counter =>
    new Counter({ name, help: HELP, labelNames: [...extra, ...Object.keys(labels)].sort(), registers: [registry] });
  const histogram = (name: string, buckets: number[]): Histogram =>
    new Histogram({ name, help: HELP, buckets, labelNames: Object.keys(labels), registers: [registry] });
  const gauges = new Map<string, Gauge>();
  const setGauge = (name: string, value: number): void => {
    let gauge = gauges.get(name);
    if (gauge === undefined) {
      gauge = new Gauge({ name, help: HELP, labelNames: Object.keys(gaugeLabels), registers: [registry] });
      gauges.set(name, gauge);
    }
    gauge.set(gaugeLabels, value);
  };

  const success = counter('trtllm_request_success_total', ['finished_reason']);
  // MultiProcessCollector writes label pairs sorted by name.
  const successLabels = (reason: string): Labels => ({ engine_type: labels.engine_type, finished_reason: reason, model_name: labels.model_name });
  const e2e = histogram('trtllm_e2e_request_latency_seconds', REQUEST_BUCKETS);
  const ttft = histogram('trtllm_time_to_first_token_seconds', TTFT_BUCKETS);
  const tpot = histogram('trtllm_time_per_output_token_seconds', ITL_BUCKETS);
  const queue = histogram('trtllm_request_queue_time_seconds', REQUEST_BUCKETS);
  const prefill = histogram('trtllm_request_prefill_time_seconds', PREFILL_BUCKETS);
  const decode = histogram('trtllm_request_decode_time_seconds', REQUEST_BUCKETS);
  const inference = histogram('trtllm_request_inference_time_seconds', REQUEST_BUCKETS);
  const promptTokens = counter('trtllm_prompt_tokens_total');
  const generationTokens = counter('trtllm_generation_tokens_total');
  const cachedTokens = counter('trtllm_prompt_cached_tokens_total');
  cachedTokens.inc(labels, 0);
  const cachedPerRequest = histogram('trtllm_prompt_cached_tokens_per_request', CACHED_TOKENS_BUCKETS);
  const completed = counter('trtllm_num_requests_completed_total');
  const reusedBlocks = counter('trtllm_kv_cache_reused_blocks_total');
  const missedBlocks = counter('trtllm_kv_cache_missed_blocks_total');
  const prefillBatchTokens = histogram('trtllm_prefill_batch_tokens', PREFILL_BATCH_BUCKETS);
  // log_iteration_stats turns the cumulative reused/missed block counts into counter increments.
  let lastReused = 0;
  let lastMissed = 0;

  const logRequest = (done: CompletedRequest): void => {
    success.inc(successLabels(done.reason));
    const p = phases(done);
    if (p !== undefined) {
      const positive = (h: Histogram, v: number | undefined): void => {
        if (v !== undefined && v > 0) h.observe(labels, v);
      };
      positive(e2e, p.e2e);
      positive(ttft, p.ttft);
      positive(tpot, p.tpot);
      queue.observe(labels, p.queue);
      positive(prefill, p.prefill);
      positive(decode, p.decode);
      positive(inference, p.inference);
    }
    if (done.promptTokens > 0) promptTokens.inc(labels, done.promptTokens);
    if (done.completionTokens > 0) generationTokens.inc(labels, done.completionTokens);
    if (done.cachedTokens > 0) cachedTokens.inc(labels, done.cachedTokens);
    cachedPerRequest.observe(labels, done.cachedTokens);
  };

  const logIteration = (s: IterationStats): void => {
    setGauge('trtllm_num_requests_running', s.numActiveRequests);
    setGauge('trtllm_num_requests_waiting', s.numQueuedRequests);
    if (s.numCompletedRequests > 0) completed.inc(labels, s.numCompletedRequests);
    setGauge('trtllm_max_num_active_requests', s.maxNumActiveRequests);
    setGauge('trtllm_iteration_latency_seconds', s.iterLatencyMS / 1000);
    setGauge('trtllm_gpu_memory_usage_bytes', gpuMemUsage);
    const kv = s.kvCacheStats;
    setGauge('trtllm_kv_cache_hit_rate', kv.cacheHitRate);
    if (kv.reusedBlocks > lastReused) reusedBlocks.inc(labels, kv.reusedBlocks - lastReused);
    lastReused = kv.reusedBlocks;
    if (kv.missedBlocks > lastMissed) missedBlocks.inc(labels, kv.missedBlocks - lastMissed);
    lastMissed = kv.missedBlocks;
    if (kv.maxNumBlocks > 0) setGauge('trtllm_kv_cache_utilization', kv.usedNumBlocks / kv.maxNumBlocks);
    setGauge('trtllm_kv_cache_max_blocks', kv.maxNumBlocks);
    setGauge('trtllm_kv_cache_free_blocks', kv.freeNumBlocks);
    setGauge('trtllm_kv_cache_used_blocks', kv.usedNumBlocks);
    setGauge('trtllm_kv_cache_tokens_per_block', kv.tokensPerBlock);
    const ifb = s.inflightBatchingStats;
    setGauge('trtllm_num_context_requests', ifb.numContextRequests);
    setGauge('trtllm_num_generation_requests', ifb.numGenRequests);
    setGauge('trtllm_num_paused_requests', ifb.numPausedRequests);
    setGauge('trtllm_num_scheduled_requests', ifb.numScheduledRequests);
    setGauge('trtllm_total_context_tokens', ifb.numCtxTokens);
    if (ifb.numCtxTokens > 0) prefillBatchTokens.observe(labels, ifb.numCtxTokens);
    if (s.maxNumActiveRequests > 0) setGauge('trtllm_prefill_batch_occupancy', ifb.numContextRequests / s.maxNumActiveRequests);
  };

  return {
    registry,
    requestFinished(done, newest) {
      // _extract_metrics runs only for a request that finished; a cancelled stream raises first.
      if (done.reason === 'abort' || done.reason === 'error') return;
      logRequest(done);
      if (newest !== undefined) logIteration(newest);
    },
  };
}
