/**
 * The vLLM face's Prometheus `/metrics`: the names, types, labels and bucket lists of
 * vllm/v1/metrics/loggers.py (PrometheusStatLogger) for the release the replica mirrors.
 *
 * vLLM makes every per-engine series at startup (vllm/v1/metrics/utils.py create_metric_per_engine
 * calls `metric.labels(model_name, engine)` for each), so a scrape before the first request
 * already has every counter and histogram, at zero. It leaves prometheus_client's `_created`
 * samples on: each counter and histogram series has a `<name>_created` gauge (unix seconds).
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { Histogram } from 'prom-client';
import type { FaceContext } from './common.js';
import { ITL_BUCKETS, REQUEST_BUCKETS, SnapshotReader, TTFT_BUCKETS, buckets125, eagerCounter, eagerHistogram, phases,
  snapshotCounter, snapshotGauge } from './metrics.js';
import type { EngineMetrics, Labels } from './metrics.js';
import type { VllmRelease } from './releases.js';

export function createVllmMetrics(ctx: FaceContext, release: VllmRelease): EngineMetrics {
  const registry = new Registry();
  const labels: Labels = { model_name: ctx.servedModel, engine: '0' };
  const snap = new SnapshotReader(ctx.engine);
  const ep = ctx.profile.engineProfile;
  const startedAt = Date.now() / 1000;
  // prometheus_client's text format writes a series' creation time as a gauge of its own.
  const created = (base: string, help: string, series: Labels[] = [labels]): void => {
    const gauge = new Gauge({ name: `${base}_created`, help, labelNames: Object.keys(series[0]), registers: [registry] });
    for (const l of series) gauge.set(l, startedAt);
  };
  const counter = (base: string, help: string, read: Parameters<typeof snapshotCounter>[5]): void => {
    snapshotCounter(registry, `${base}_total`, help, labels, snap, read);
    created(base, help);
  };
  const gauge = (name: string, help: string, read: Parameters<typeof snapshotGauge>[5]): void =>
    snapshotGauge(registry, name, help, labels, snap, read);
  const histogram = (name: string, help: string, buckets: number[]): Histogram => {
    created(name, help);
    return eagerHistogram(registry, name, help, labels, buckets);
  };

  gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', (s) => s.running);
  gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', (s) => s.waiting);
  if (release.legacyKvMetricNames) {
    gauge('vllm:gpu_cache_usage_perc', 'GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use vllm:kv_cache_usage_perc instead.', (s) => s.kvUsage);
    counter('vllm:gpu_prefix_cache_queries', 'GPU prefix cache queries, in terms of number of queriedtokens. DEPRECATED: Use vllm:prefix_cache_queries instead.',
      (s) => s.prefixQueryTokens);
    counter('vllm:gpu_prefix_cache_hits', 'GPU prefix cache hits, in terms of number of cached tokens. DEPRECATED: Use vllm:prefix_cache_hits instead.',
      (s) => s.prefixHitTokens);
  }
  gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', (s) => s.kvUsage);
  // An info metric as a gauge set to 1; no model_name label (log_metrics_info). Python str() values.
  const info = { block_size: String(ep.blockSize), cache_dtype: 'auto', enable_prefix_caching: ep.enablePrefixCaching ? 'True' : 'False',
    gpu_memory_utilization: '0.9', num_gpu_blocks: String(ep.numBlocks), engine: '0' };
  new Gauge({ name: 'vllm:cache_config_info', help: 'Information of the LLMEngine CacheConfig', labelNames: Object.keys(info), registers: [registry] }).set(info, 1);
  counter('vllm:prefix_cache_queries', 'Prefix cache queries, in terms of number of queried tokens.', (s) => s.prefixQueryTokens);
  counter('vllm:prefix_cache_hits', 'Prefix cache hits, in terms of number of cached tokens.', (s) => s.prefixHitTokens);
  let cachedPromptTokens: Counter | undefined;
  if (release.cachedPromptCounters) {
    // No KV connector here: external hits stay at zero, and cached prompt tokens are all local.
    for (const [base, help] of [
      ['vllm:external_prefix_cache_queries', 'External prefix cache queries from KV connector cross-instance cache sharing, in terms of number of queried tokens.'],
      ['vllm:external_prefix_cache_hits', 'External prefix cache hits from KV connector cross-instance cache sharing, in terms of number of cached tokens.'],
    ] as const) {
      eagerCounter(registry, `${base}_total`, help, labels);
      created(base, help);
    }
    cachedPromptTokens = eagerCounter(registry, 'vllm:prompt_tokens_cached_total', 'Number of cached prompt tokens (local + external).', labels);
    created('vllm:prompt_tokens_cached', 'Number of cached prompt tokens (local + external).');
  }
  counter('vllm:num_preemptions', 'Cumulative number of preemption from the engine.', (s) => s.preemptions);
  counter('vllm:prompt_tokens', 'Number of prefill tokens processed.', (s) => s.promptTokens);
  counter('vllm:generation_tokens', 'Number of generation tokens processed.', (s) => s.generationTokens);

  // loggers.py makes request_success for every FinishReason of the release, before any request.
  const success = new Counter({ name: 'vllm:request_success_total', help: 'Count of successfully processed requests.',
    labelNames: ['model_name', 'engine', 'finished_reason'], registers: [registry] });
  const reasons = release.finishReasons.map((reason) => ({ ...labels, finished_reason: reason }));
  for (const series of reasons) success.inc(series, 0);
  created('vllm:request_success', 'Count of successfully processed requests.', reasons);

  const promptTokens = histogram('vllm:request_prompt_tokens', 'Number of prefill tokens processed.', buckets125(ep.maxModelLen));
  const generationTokens = histogram('vllm:request_generation_tokens', 'Number of generation tokens processed.', buckets125(ep.maxModelLen));
  const maxGenerationTokens = histogram('vllm:request_max_num_generation_tokens', 'Histogram of maximum number of requested generation tokens.',
    buckets125(ep.maxModelLen));
  const paramsN = histogram('vllm:request_params_n', 'Histogram of the n request parameter.', [1, 2, 5, 10, 20]);
  const paramsMaxTokens = histogram('vllm:request_params_max_tokens', 'Histogram of the max_tokens request parameter.', buckets125(ep.maxModelLen));
  const ttft = histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', TTFT_BUCKETS);
  const itl = release.interTokenLatency === 'inter_token_latency'
    ? histogram('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', ITL_BUCKETS)
    : histogram('vllm:time_per_output_token_seconds', 'Histogram of time per output token in seconds.', ITL_BUCKETS);
  const tpot = release.interTokenLatency === 'inter_token_latency'
    ? histogram('vllm:request_time_per_output_token_seconds', 'Histogram of time_per_output_token_seconds per request.', ITL_BUCKETS)
    : undefined;
  const e2e = histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', REQUEST_BUCKETS);
  const queue = histogram('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', REQUEST_BUCKETS);
  const inference = histogram('vllm:request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', REQUEST_BUCKETS);
  const prefill = histogram('vllm:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', REQUEST_BUCKETS);
  const decode = histogram('vllm:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', REQUEST_BUCKETS);

  return {
    registry,
    observe(done) {
      // A reason the release has no series for (an engine failure in 0.10) is not counted.
      if (release.finishReasons.includes(done.reason)) success.inc({ ...labels, finished_reason: done.reason });
      cachedPromptTokens?.inc(labels, done.cachedTokens);
      for (const gap of done.interTokenLatenciesMs) itl.observe(labels, gap / 1000);
      paramsN.observe(labels, 1);
      paramsMaxTokens.observe(labels, done.maxTokens);
      maxGenerationTokens.observe(labels, done.maxTokens);
      const p = phases(done);
      if (p === undefined) return;
      if (p.ttft !== undefined) ttft.observe(labels, p.ttft);
      e2e.observe(labels, p.e2e);
      queue.observe(labels, p.queue);
      inference.observe(labels, p.inference);
      if (p.prefill !== undefined) prefill.observe(labels, p.prefill);
      if (p.decode !== undefined) decode.observe(labels, p.decode);
      if (p.tpot !== undefined) tpot?.observe(labels, p.tpot);
      promptTokens.observe(labels, done.promptTokens);
      generationTokens.observe(labels, done.completionTokens);
    },
  };
}
