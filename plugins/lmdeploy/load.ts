/**
 * LMDeploy's load, read from its Prometheus `/metrics` (InternLM/lmdeploy:
 * lmdeploy/metrics/loggers.py, PrometheusStatLogger; `enable_metrics` on by default since v0.11.0).
 * Series carry `model_name` and `engine` (the DP rank) labels, like vLLM's, whose metric set
 * LMDeploy copies.
 */
import { compactLoad } from '../../core/plugin/engine-load.js';
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import { intLabel, meanSamples, parsePrometheusText, sumSamples } from '../../core/plugin/prometheus-text.js';

const RUNNING = 'lmdeploy:num_requests_running';
const WAITING = 'lmdeploy:num_requests_waiting';
const KV_USAGE = 'lmdeploy:gpu_cache_usage_perc';
// A LIFETIME ratio (TurboMind: prefix_hit_tokens_ / prefix_query_tokens_, never reset,
// src/turbomind/engine/engine.cc; PyTorch engine: PrefixCacheStats.hit_rate() over cumulative
// counts, lmdeploy/pytorch/paging/block_trie/trie.py, v0.16.0): after warm-up it barely moves, so
// it is only the fallback for releases without the per-request histograms below.
const PREFIX_HIT_RATE = 'lmdeploy:prefix_cache_hit_rate';
// Per finished request, the prompt tokens and the cached ones (histograms since v0.14,
// lmdeploy/metrics/loggers.py). Their `_sum`s are cumulative token counts observed at the same
// moment, so the ratio of their differences between two reads is the interval hit rate.
const REQUEST_PROMPT_TOKENS_SUM = 'lmdeploy:request_prompt_tokens_sum';
const REQUEST_CACHED_TOKENS_SUM = 'lmdeploy:request_cached_tokens_sum';
// An info metric. Upstream declares `prometheus_client.Info(name='lmdeploy:backend_config')` but
// never calls `.info()` (v0.16.0 loggers.py), so a real server exports it without labels; read
// the block size when a build does label it.
const BACKEND_CONFIG = 'lmdeploy:backend_config_info';

/**
 * Running and waiting requests, KV usage, the cumulative prompt and cached token counts (or, in
 * releases without them, the lifetime hit-rate gauge), and the block size where exported.
 */
export function readLmdeployLoad(text: string): EngineLoad {
  const samples = parsePrometheusText(text).filter((s) => s.name.startsWith('lmdeploy:'));
  let blockSize: number | undefined;
  for (const s of samples) if (s.name === BACKEND_CONFIG) blockSize ??= intLabel(s.labels, 'block_size');
  const prefixQueries = sumSamples(samples, REQUEST_PROMPT_TOKENS_SUM);
  const prefixHits = sumSamples(samples, REQUEST_CACHED_TOKENS_SUM);
  const counters = prefixQueries !== undefined && prefixHits !== undefined;
  return compactLoad({
    running: sumSamples(samples, RUNNING),
    waiting: sumSamples(samples, WAITING),
    // Ratios per rank: the server's figure is their mean (ranks have pools of the same size).
    kvUsage: meanSamples(samples, KV_USAGE),
    prefixQueries: counters ? prefixQueries : undefined,
    prefixHits: counters ? prefixHits : undefined,
    // The lifetime gauge only where the counters are missing (the mean over ranks is approximate).
    prefixHitRate: counters ? undefined : meanSamples(samples, PREFIX_HIT_RATE),
    blockSize,
  });
}
