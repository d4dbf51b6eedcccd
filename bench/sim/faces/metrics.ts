/**
 * Prometheus `/metrics` of the vLLM and LMDeploy faces, with the engines' real names, types,
 * labels and bucket lists.
 *
 * Gauges and the engine's cumulative counters are read from `engine.snapshot()` at scrape time
 * (collect callbacks). prom-client counters cannot be set, so a snapshot-backed counter
 * increments by the delta since the previous scrape. Histograms are observed per request from the
 * engine's final-response timings (model time, seconds).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine, EngineSnapshot } from '../../../core/engine/engine.js';
import type { CompletedRequest, FinishReason } from '../generation.js';
import type { FaceContext } from './common.js';

export interface EngineMetrics {
  registry: Registry;
  observe(done: CompletedRequest): void;
}

/** One snapshot per scrape: collect callbacks of the same scrape share it. */
class SnapshotReader {
  private cached: EngineSnapshot | undefined;
  private at = 0;
  constructor(private readonly engine: Engine) {}
  get(): EngineSnapshot {
    const now = Date.now();
    if (this.cached === undefined || now - this.at > 5) {
      this.cached = this.engine.snapshot();
      this.at = now;
    }
    return this.cached;
  }
}

type Labels = Record<string, string>;

function snapshotCounter(registry: Registry, name: string, help: string, labels: Labels,
  snap: SnapshotReader, read: (s: EngineSnapshot) => number): void {
  let last = 0;
  new Counter({
    name, help, labelNames: Object.keys(labels), registers: [registry],
    collect() {
      const value = read(snap.get());
      this.inc(labels, Math.max(0, value - last));
      last = Math.max(last, value);
    },
  });
}

function snapshotGauge(registry: Registry, name: string, help: string, labels: Labels,
  snap: SnapshotReader, read: (s: EngineSnapshot) => number): void {
  new Gauge({ name, help, labelNames: Object.keys(labels), registers: [registry], collect() { this.set(labels, read(snap.get())); } });
}

/** vLLM's build_1_2_5_buckets (vllm/v1/metrics/loggers.py). */
function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let exp = 1; ; exp *= 10) {
    for (const m of [1, 2, 5]) {
      if (m * exp > max) return out;
      out.push(m * exp);
    }
  }
}

// vllm/v1/metrics/loggers.py (PrometheusStatLogger); LMDeploy copies the TTFT and request lists.
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
const REQUEST_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];
// lmdeploy/metrics/loggers.py: TPOT and ITL start at 5 ms.
const LMDEPLOY_TPOT_BUCKETS = [0.005, ...ITL_BUCKETS];

/** Phase durations of a finished request, in seconds (model time). */
function phases(done: CompletedRequest): { e2e: number; queue: number; prefill?: number; decode?: number; inference: number; ttft?: number; tpot?: number } | undefined {
  const t = done.timings;
  if (t === undefined) return undefined;
  const s = (ms: number): number => Math.max(0, ms) / 1000;
  const scheduled = t.scheduledMs >= 0 ? t.scheduledMs : t.finishMs;
  const out: ReturnType<typeof phases> = { e2e: s(t.finishMs - t.arrivalMs), queue: s(scheduled - t.arrivalMs), inference: s(t.finishMs - scheduled) };
  if (t.firstTokenMs >= 0) {
    out.ttft = s(t.firstTokenMs - t.arrivalMs);
    out.prefill = s(t.firstTokenMs - scheduled);
    out.decode = s(t.finishMs - t.firstTokenMs);
    // vLLM's mean_time_per_output_token: decode time over the tokens after the first.
    out.tpot = done.completionTokens > 1 ? out.decode / (done.completionTokens - 1) : 0;
  }
  return out;
}

export function createVllmMetrics(ctx: FaceContext): EngineMetrics {
  const registry = new Registry();
  const labels: Labels = { model_name: ctx.servedModel, engine: '0' };
  const snap = new SnapshotReader(ctx.engine);
  const ep = ctx.profile.engineProfile;
  snapshotGauge(registry, 'vllm:num_requests_running', 'Number of requests in model execution batches.', labels, snap, (s) => s.running);
  snapshotGauge(registry, 'vllm:num_requests_waiting', 'Number of requests waiting to be processed.', labels, snap, (s) => s.waiting);
  snapshotGauge(registry, 'vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', labels, snap, (s) => s.kvUsage);
  // An info metric as a gauge set to 1; no model_name label (log_metrics_info). Python str() values.
  const info = { block_size: String(ep.blockSize), cache_dtype: 'auto', enable_prefix_caching: ep.enablePrefixCaching ? 'True' : 'False',
    gpu_memory_utilization: '0.9', num_gpu_blocks: String(ep.numBlocks), engine: '0' };
  new Gauge({ name: 'vllm:cache_config_info', help: 'Information of the LLMEngine CacheConfig', labelNames: Object.keys(info), registers: [registry] }).set(info, 1);
  snapshotCounter(registry, 'vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.', labels, snap, (s) => s.prefixQueryTokens);
  snapshotCounter(registry, 'vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.', labels, snap, (s) => s.prefixHitTokens);
  snapshotCounter(registry, 'vllm:num_preemptions_total', 'Cumulative number of preemption from the engine.', labels, snap, (s) => s.preemptions);
  snapshotCounter(registry, 'vllm:prompt_tokens_total', 'Number of prefill tokens processed.', labels, snap, (s) => s.promptTokens);
  snapshotCounter(registry, 'vllm:generation_tokens_total', 'Number of generation tokens processed.', labels, snap, (s) => s.generationTokens);
  const success = new Counter({ name: 'vllm:request_success_total', help: 'Count of successfully processed requests.',
    labelNames: ['model_name', 'engine', 'finished_reason'], registers: [registry] });
  // vllm/v1/engine/__init__.py FINISH_REASON_STRINGS; every series exists from the start.
  for (const reason of ['stop', 'length', 'abort', 'error']) success.inc({ ...labels, finished_reason: reason }, 0);
  const h = (name: string, help: string, buckets: number[]): Histogram =>
    new Histogram({ name, help, buckets, labelNames: Object.keys(labels), registers: [registry] });
  const ttft = h('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', TTFT_BUCKETS);
  const itl = h('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', ITL_BUCKETS);
  const tpot = h('vllm:request_time_per_output_token_seconds', 'Histogram of time_per_output_token_seconds per request.', ITL_BUCKETS);
  const e2e = h('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', REQUEST_BUCKETS);
  const queue = h('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', REQUEST_BUCKETS);
  const inference = h('vllm:request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', REQUEST_BUCKETS);
  const prefill = h('vllm:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', REQUEST_BUCKETS);
  const decode = h('vllm:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', REQUEST_BUCKETS);
  const promptTokens = h('vllm:request_prompt_tokens', 'Number of prefill tokens processed.', buckets125(ep.maxModelLen));
  const generationTokens = h('vllm:request_generation_tokens', 'Number of generation tokens processed.', buckets125(ep.maxModelLen));
  return {
    registry,
    observe(done) {
      success.inc({ ...labels, finished_reason: done.reason });
      for (const gap of done.interTokenLatenciesMs) itl.observe(labels, gap / 1000);
      const p = phases(done);
      if (p === undefined) return;
      if (p.ttft !== undefined) ttft.observe(labels, p.ttft);
      e2e.observe(labels, p.e2e);
      queue.observe(labels, p.queue);
      inference.observe(labels, p.inference);
      if (p.prefill !== undefined) prefill.observe(labels, p.prefill);
      if (p.decode !== undefined) decode.observe(labels, p.decode);
      if (p.tpot !== undefined) tpot.observe(labels, p.tpot);
      promptTokens.observe(labels, done.promptTokens);
      generationTokens.observe(labels, done.completionTokens);
    },
  };
}

/** lmdeploy/messages.py ResponseType, whose str() names the finished_reason label. */
const RESPONSE_TYPES = ['SUCCESS', 'FINISH', 'ENGINE_STOP_ERROR', 'SESSION_REPEAT', 'SESSION_NOT_EXIST', 'HANDLER_NOT_EXIST',
  'INPUT_LENGTH_ERROR', 'INTERNAL_ENGINE_ERROR', 'CANCEL', 'PREFIX_CACHE_CONFLICT', 'NO_QUEUE', 'NOT_SUPPORTED', 'OUT_OF_MEMORY'];
const RESPONSE_TYPE_OF: Record<FinishReason, string> = { stop: 'FINISH', length: 'FINISH', abort: 'CANCEL', error: 'INTERNAL_ENGINE_ERROR' };

export function createLmdeployMetrics(ctx: FaceContext): EngineMetrics {
  const registry = new Registry();
  const labels: Labels = { model_name: ctx.servedModel, engine: '0' };
  const snap = new SnapshotReader(ctx.engine);
  const ep = ctx.profile.engineProfile;
  let succeeded = 0;
  let failed = 0;
  const gauge = (name: string, help: string, read: (s: EngineSnapshot) => number): void => snapshotGauge(registry, name, help, labels, snap, read);
  gauge('lmdeploy:num_requests_succeeded', 'Number of current succeeded requests.', () => succeeded);
  gauge('lmdeploy:num_requests_failed', 'Number of current failed requests.', () => failed);
  gauge('lmdeploy:num_api_requests_routed', 'Number of requests routed to request handles.', () => ctx.generation.inFlight);
  gauge('lmdeploy:num_api_requests_waiting', 'Number of requests waiting for free request handles.', () => 0);
  gauge('lmdeploy:num_requests_running', 'Number of requests in model execution batches.', (s) => s.running);
  gauge('lmdeploy:num_requests_waiting', 'Number of requests waiting to be processed.', (s) => s.waiting);
  gauge('lmdeploy:gpu_cache_usage_perc', 'GPU KV-cache usage. 1 means 100 percent usage.', (s) => s.kvUsage);
  gauge('lmdeploy:prefix_cache_hit_rate', 'Prefix-cache hit rate. 1 means 100 percent of queried prefix tokens hit.',
    (s) => (s.prefixQueryTokens > 0 ? s.prefixHitTokens / s.prefixQueryTokens : 0));
  const info = { block_size: String(ep.blockSize), cache_max_entry_count: '0.8', enable_prefix_caching: ep.enablePrefixCaching ? 'True' : 'False',
    max_batch_size: String(ep.maxBatchSize), session_len: String(ep.maxModelLen) };
  new Gauge({ name: 'lmdeploy:backend_config_info', help: 'information of backend_config', labelNames: Object.keys(info), registers: [registry] }).set(info, 1);
  snapshotCounter(registry, 'lmdeploy:prompt_tokens_total', 'Number of prefill tokens processed.', labels, snap, (s) => s.promptTokens);
  snapshotCounter(registry, 'lmdeploy:generation_tokens_total', 'Number of generation tokens processed.', labels, snap, (s) => s.generationTokens);
  const cachedTotal = new Counter({ name: 'lmdeploy:cached_tokens_total', help: 'Total prefix-cached input tokens served.', labelNames: Object.keys(labels), registers: [registry] });
  cachedTotal.inc(labels, 0);
  const success = new Counter({ name: 'lmdeploy:request_success_total', help: 'Count of successfully processed requests.',
    labelNames: ['model_name', 'engine', 'finished_reason'], registers: [registry] });
  for (const type of RESPONSE_TYPES) success.inc({ ...labels, finished_reason: `ResponseType.${type}` }, 0);
  const h = (name: string, help: string, buckets: number[]): Histogram =>
    new Histogram({ name, help, buckets, labelNames: Object.keys(labels), registers: [registry] });
  const ttft = h('lmdeploy:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', TTFT_BUCKETS);
  const tpot = h('lmdeploy:time_per_output_token_seconds', 'Histogram of time per output token in seconds.', LMDEPLOY_TPOT_BUCKETS);
  const itl = h('lmdeploy:iter_token_latency', 'Histogram of inter-token latency', LMDEPLOY_TPOT_BUCKETS);
  const e2e = h('lmdeploy:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', REQUEST_BUCKETS);
  const queue = h('lmdeploy:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', REQUEST_BUCKETS);
  const inference = h('lmdeploy:request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', REQUEST_BUCKETS);
  const prefill = h('lmdeploy:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', REQUEST_BUCKETS);
  const decode = h('lmdeploy:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', REQUEST_BUCKETS);
  const promptTokens = h('lmdeploy:request_prompt_tokens', 'Number of prefill tokens processed.', buckets125(ep.maxModelLen));
  const generationTokens = h('lmdeploy:request_generation_tokens', 'Number of generation tokens processed.', buckets125(ep.maxModelLen));
  const cachedTokens = h('lmdeploy:request_cached_tokens', 'Number of prefix-cached input tokens per request.', buckets125(ep.maxModelLen));
  const hitRatio = h('lmdeploy:request_cache_hit_ratio', 'Prefix cache hit ratio (cached_tokens / prompt_tokens) per request.',
    [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]);
  return {
    registry,
    observe(done) {
      if (done.reason === 'abort' || done.reason === 'error') failed++;
      else succeeded++;
      success.inc({ ...labels, finished_reason: `ResponseType.${RESPONSE_TYPE_OF[done.reason]}` });
      cachedTotal.inc(labels, done.cachedTokens);
      for (const gap of done.interTokenLatenciesMs) itl.observe(labels, gap / 1000);
      const p = phases(done);
      if (p === undefined) return;
      if (p.ttft !== undefined) ttft.observe(labels, p.ttft);
      if (p.tpot !== undefined && done.completionTokens > 1) tpot.observe(labels, p.tpot);
      e2e.observe(labels, p.e2e);
      queue.observe(labels, p.queue);
      inference.observe(labels, p.inference);
      if (p.prefill !== undefined) prefill.observe(labels, p.prefill);
      if (p.decode !== undefined) decode.observe(labels, p.decode);
      promptTokens.observe(labels, done.promptTokens);
      generationTokens.observe(labels, done.completionTokens);
      cachedTokens.observe(labels, done.cachedTokens);
      if (done.promptTokens > 0) hitRatio.observe(labels, done.cachedTokens / done.promptTokens);
    },
  };
}
