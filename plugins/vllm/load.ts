/**
 * vLLM's load, read from its Prometheus `/metrics` (vllm-project/vllm: vllm/v1/metrics/loggers.py,
 * PrometheusStatLogger). Series carry `model_name` and `engine` labels; `engine` is the
 * data-parallel rank, so a DP server exports one series per rank and they are summed here.
 */
import { compactLoad } from '../../core/plugin/engine-load.js';
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import { intLabel, meanSamples, parsePrometheusText, sumSamples } from '../../core/plugin/prometheus-text.js';
import type { PromSample } from '../../core/plugin/prometheus-text.js';

const RUNNING = 'vllm:num_requests_running';
const WAITING = 'vllm:num_requests_waiting';
const KV_USAGE = 'vllm:kv_cache_usage_perc';
// The V0 engine's name, which V1 kept until the rename to kv_cache_usage_perc (≈0.10, version unverified).
const KV_USAGE_OLD = 'vllm:gpu_cache_usage_perc';
// Counted in tokens (documentation: "in terms of number of queried tokens").
const PREFIX_QUERIES = 'vllm:prefix_cache_queries_total';
const PREFIX_HITS = 'vllm:prefix_cache_hits_total';
// Deprecated in 0.9.2, hidden from 0.11, removed in 0.12. The V0 engine counted *blocks* under
// these names; V1 (0.8–0.11) counted tokens. The unit cannot be told from the scrape, so they are
// passed on as they are: a hit rate (a ratio of two differences) is right either way.
const PREFIX_QUERIES_OLD = 'vllm:gpu_prefix_cache_queries_total';
const PREFIX_HITS_OLD = 'vllm:gpu_prefix_cache_hits_total';
// An info metric (value 1) whose labels are the CacheConfig; one series per engine and no
// `model_name` label (loggers.py log_metrics_info).
const CACHE_CONFIG = 'vllm:cache_config_info';

type LabelFilter = (labels: Record<string, string>) => boolean;

/**
 * Only `model`'s series when the scrape has some for it. One vLLM server labels everything with
 * its first served model name, and counts LoRA adapters under the base model's name, so a
 * gateway-side name that matches nothing falls back to the whole server.
 */
function modelFilter(samples: readonly PromSample[], name: string, model: string | undefined): LabelFilter | undefined {
  if (model === undefined) return undefined;
  const served = samples.some((s) => s.name === name && s.labels.model_name === model);
  return served ? (labels) => labels.model_name === model : undefined;
}

/** Block size (the same on every rank) and the pool size summed over ranks. */
function readCacheConfig(samples: readonly PromSample[]): Pick<EngineLoad, 'blockSize' | 'numBlocks'> {
  let blockSize: number | undefined;
  const blocksPerEngine = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== CACHE_CONFIG) continue;
    blockSize ??= intLabel(s.labels, 'block_size');
    // num_gpu_blocks is str(None) until the engine has profiled memory.
    const blocks = intLabel(s.labels, 'num_gpu_blocks');
    if (blocks !== undefined) blocksPerEngine.set(s.labels.engine ?? '', blocks);
  }
  let numBlocks: number | undefined;
  for (const blocks of blocksPerEngine.values()) numBlocks = (numBlocks ?? 0) + blocks;
  return { blockSize, numBlocks };
}

/**
 * Running and waiting requests, KV usage, the cumulative prefix-cache counters and the cache
 * config from one vLLM scrape. With `model`, only that model's series count (see above).
 */
export function readVllmLoad(text: string, model?: string): EngineLoad {
  const samples = parsePrometheusText(text).filter((s) => s.name.startsWith('vllm:'));
  const sum = (name: string): number | undefined => sumSamples(samples, name, modelFilter(samples, name, model));
  const mean = (name: string): number | undefined => meanSamples(samples, name, modelFilter(samples, name, model));

  // The new and the old counter names are taken as pairs, never one of each.
  const newQueries = sum(PREFIX_QUERIES);
  const [prefixQueries, prefixHits] = newQueries !== undefined
    ? [newQueries, sum(PREFIX_HITS)]
    : [sum(PREFIX_QUERIES_OLD), sum(PREFIX_HITS_OLD)];

  return compactLoad({
    running: sum(RUNNING),
    waiting: sum(WAITING),
    // Each rank has its own pool of the same size, so the server's usage is the ranks' mean.
    kvUsage: mean(KV_USAGE) ?? mean(KV_USAGE_OLD),
    prefixQueries,
    prefixHits,
    ...readCacheConfig(samples),
  });
}
