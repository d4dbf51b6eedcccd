/**
 * The LMDeploy face's Prometheus `/metrics`, as lmdeploy/metrics/loggers.py (PrometheusStatLogger)
 * writes it at v0.16.0: every series made at startup with `.labels(model_name, engine)`, and
 * `prometheus_client.disable_created_metrics()`, so no `_created` samples.
 *
 * Two signals a router reads differ from vLLM's:
 * - `lmdeploy:prefix_cache_hit_rate` is a LIFETIME ratio (TurboMind's prefix_hit_tokens /
 *   prefix_query_tokens, never reset; the PyTorch engine's PrefixCacheStats.hit_rate() over
 *   cumulative counts), so after warm-up it barely moves.
 * - An interval hit rate comes from the per-request histograms instead:
 *   Δ`lmdeploy:request_cached_tokens_sum` / Δ`lmdeploy:request_prompt_tokens_sum`, or
 *   Δ`lmdeploy:cached_tokens_total` (since v0.14).
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { FaceContext } from './common.js';
import { ITL_BUCKETS, REQUEST_BUCKETS, SnapshotReader, TTFT_BUCKETS, buckets125, eagerCounter, eagerHistogram, phases,
  snapshotCounter, snapshotGauge } from './metrics.js';
import type { EngineMetrics, Labels } from './metrics.js';
import type { EngineSnapshot } from '../../../native/engine.js';
import type { FinishReason } from '../generation.js';

/** lmdeploy/messages.py ResponseType, whose str() names the finished_reason label. */
const RESPONSE_TYPES = ['SUCCESS', 'FINISH', 'ENGINE_STOP_ERROR', 'SESSION_REPEAT', 'SESSION_NOT_EXIST', 'HANDLER_NOT_EXIST',
  'INPUT_LENGTH_ERROR', 'INTERNAL_ENGINE_ERROR', 'CANCEL', 'PREFIX_CACHE_CONFLICT', 'NO_QUEUE', 'NOT_SUPPORTED', 'OUT_OF_MEMORY'];
const RESPONSE_TYPE_OF: Record<FinishReason, string> = { stop: 'FINISH', length: 'FINISH', abort: 'CANCEL', error: 'INTERNAL_ENGINE_ERROR' };
// loggers.py: TPOT and ITL start at 5 ms.
const TPOT_BUCKETS = [0.005, ...ITL_BUCKETS];

/** The lifetime ratio the scheduler reports: every hit over every query since start. */
function lifetimeHitRate(s: EngineSnapshot): number {
  return s.prefixQueryTokens > 0 ? s.prefixHitTokens / s.prefixQueryTokens : 0;
}

export function createLmdeployMetrics(ctx: FaceContext): EngineMetrics {
  const registry = new Registry();
  const labels: Labels = { model_name: ctx.servedModel, engine: '0' };
  const snap = new SnapshotReader(ctx.engine);
  const ep = ctx.profile.engineProfile;
  let succeeded = 0;
  let failed = 0;
  // prometheus_client.Info('lmdeploy:backend_config') is made but `.info()` is never called, so it
  // exports one sample without labels: `lmdeploy:backend_config_info 1.0` (no block size to learn).
  new Gauge({ name: 'lmdeploy:backend_config_info', help: 'information of backend_config', registers: [registry] }).set(1);

  const gauge = (name: string, help: string, read: (s: EngineSnapshot) => number): void => snapshotGauge(registry, name, help, labels, snap, read);
  gauge('lmdeploy:num_requests_succeeded', 'Number of current succeeded requests.', () => succeeded);
  gauge('lmdeploy:num_requests_failed', 'Number of current failed requests.', () => failed);
  gauge('lmdeploy:num_api_requests_routed', 'Number of requests routed to request handles.', () => ctx.generation.inFlight);
  gauge('lmdeploy:num_api_requests_waiting', 'Number of requests waiting for free request handles.', () => 0);
  gauge('lmdeploy:num_requests_running', 'Number of requests in model execution batches.', (s) => s.running);
  gauge('lmdeploy:num_requests_waiting', 'Number of requests waiting to be processed.', (s) => s.waiting);
  gauge('lmdeploy:gpu_cache_usage_perc', 'GPU KV-cache usage. 1 means 100 percent usage.', (s) => s.kvUsage);
  gauge('lmdeploy:prefix_cache_hit_rate', 'Prefix-cache hit rate. 1 means 100 percent of queried prefix tokens hit.', lifetimeHitRate);
  snapshotCounter(registry, 'lmdeploy:prompt_tokens_total', 'Number of prefill tokens processed.', labels, snap, (s) => s.promptTokens);
  snapshotCounter(registry, 'lmdeploy:generation_tokens_total', 'Number of generation tokens processed.', labels, snap, (s) => s.generationTokens);

  // Speculative decoding is off here: its series exist, at zero, as upstream makes them eagerly.
  eagerCounter(registry, 'lmdeploy:spec_decode_num_drafts_total', 'Number of speculative decoding drafts.', labels);
  eagerCounter(registry, 'lmdeploy:spec_decode_num_draft_tokens_total', 'Number of speculative decoding draft tokens.', labels);
  eagerCounter(registry, 'lmdeploy:spec_decode_num_accepted_tokens_total', 'Number of speculative decoding accepted tokens.', labels);
  for (const [name, help] of [
    ['lmdeploy:spec_decode_mean_accept_rate', 'Mean speculative decoding acceptance rate. 1 means 100 percent accepted.'],
    ['lmdeploy:spec_decode_mean_accept_length', 'Mean speculative decoding acceptance length, including the bonus token.'],
  ] as const) {
    new Gauge({ name, help, labelNames: Object.keys(labels), registers: [registry] }).set(labels, 0);
  }

  const success = new Counter({ name: 'lmdeploy:request_success_total', help: 'Count of successfully processed requests.',
    labelNames: ['model_name', 'engine', 'finished_reason'], registers: [registry] });
  for (const type of RESPONSE_TYPES) success.inc({ ...labels, finished_reason: `ResponseType.${type}` }, 0);

  const h = (name: string, help: string, buckets: number[]) => eagerHistogram(registry, name, help, labels, buckets);
  const promptTokens = h('lmdeploy:request_prompt_tokens', 'Number of prefill tokens processed.', buckets125(ep.maxModelLen));
  const generationTokens = h('lmdeploy:request_generation_tokens', 'Number of generation tokens processed.', buckets125(ep.maxModelLen));
  const cachedTokens = h('lmdeploy:request_cached_tokens', 'Number of prefix-cached input tokens per request.', buckets125(ep.maxModelLen));
  const hitRatio = h('lmdeploy:request_cache_hit_ratio', 'Prefix cache hit ratio (cached_tokens / prompt_tokens) per request.',
    [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]);
  const cachedTotal = eagerCounter(registry, 'lmdeploy:cached_tokens_total', 'Total prefix-cached input tokens served.', labels);
  const ttft = h('lmdeploy:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', TTFT_BUCKETS);
  const tpot = h('lmdeploy:time_per_output_token_seconds', 'Histogram of time per output token in seconds.', TPOT_BUCKETS);
  const itl = h('lmdeploy:iter_token_latency', 'Histogram of inter-token latency', TPOT_BUCKETS);
  const e2e = h('lmdeploy:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', REQUEST_BUCKETS);
  const queue = h('lmdeploy:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', REQUEST_BUCKETS);
  const inference = h('lmdeploy:request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', REQUEST_BUCKETS);
  const prefill = h('lmdeploy:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', REQUEST_BUCKETS);
  const decode = h('lmdeploy:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', REQUEST_BUCKETS);

  return {
    registry,
    observe(done) {
      if (done.reason === 'abort' || done.reason === 'error') failed++;
      else succeeded++;
      success.inc({ ...labels, finished_reason: `ResponseType.${RESPONSE_TYPE_OF[done.reason]}` });
      for (const gap of done.interTokenLatenciesMs) itl.observe(labels, gap / 1000);
      // record_finish: the per-request histograms and the cached-token counter.
      promptTokens.observe(labels, done.promptTokens);
      generationTokens.observe(labels, done.completionTokens);
      cachedTokens.observe(labels, done.cachedTokens);
      if (done.promptTokens > 0) hitRatio.observe(labels, done.cachedTokens / done.promptTokens);
      cachedTotal.inc(labels, done.cachedTokens);
      const p = phases(done);
      if (p === undefined) return;
      if (p.ttft !== undefined) ttft.observe(labels, p.ttft);
      if (p.tpot !== undefined && done.completionTokens > 1) tpot.observe(labels, p.tpot);
      e2e.observe(labels, p.e2e);
      queue.observe(labels, p.queue);
      inference.observe(labels, p.inference);
      if (p.prefill !== undefined) prefill.observe(labels, p.prefill);
      if (p.decode !== undefined) decode.observe(labels, p.decode);
    },
  };
}
