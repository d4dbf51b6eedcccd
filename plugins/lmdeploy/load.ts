/**
 * LMDeploy's load, read from its Prometheus `/metrics` (InternLM/lmdeploy:
 * lmdeploy/metrics/loggers.py, PrometheusStatLogger; on by default from v0.12). Series carry
 * `model_name` and `engine` (the DP rank) labels, like vLLM's, whose metric set LMDeploy copies.
 */
import { compactLoad } from '../../core/plugin/engine-load.js';
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import { intLabel, meanSamples, parsePrometheusText, sumSamples } from '../../core/plugin/prometheus-text.js';

const RUNNING = 'lmdeploy:num_requests_running';
const WAITING = 'lmdeploy:num_requests_waiting';
const KV_USAGE = 'lmdeploy:gpu_cache_usage_perc';
// A gauge the scheduler computes (SchedulerStats.prefix_cache_hit_rate), not a pair of counters:
// LMDeploy exports no prefix query/hit totals for its own cache, so the rate is passed on as is.
const PREFIX_HIT_RATE = 'lmdeploy:prefix_cache_hit_rate';
// An info metric with the backend config as labels. Not found in upstream's loggers.py (the
// emulated face exports it); read when present, since block size matters to prefix routing.
const BACKEND_CONFIG = 'lmdeploy:backend_config_info';

/** Running and waiting requests, KV usage, the prefix-cache hit rate (and block size, if exported). */
export function readLmdeployLoad(text: string): EngineLoad {
  const samples = parsePrometheusText(text).filter((s) => s.name.startsWith('lmdeploy:'));
  let blockSize: number | undefined;
  for (const s of samples) if (s.name === BACKEND_CONFIG) blockSize ??= intLabel(s.labels, 'block_size');
  return compactLoad({
    running: sumSamples(samples, RUNNING),
    waiting: sumSamples(samples, WAITING),
    // Ratios per rank: the server's figure is their mean (ranks have pools of the same size; the
    // hit rate has no weights to combine by, so the mean is an approximation with DP > 1).
    kvUsage: meanSamples(samples, KV_USAGE),
    prefixHitRate: meanSamples(samples, PREFIX_HIT_RATE),
    blockSize,
  });
}
