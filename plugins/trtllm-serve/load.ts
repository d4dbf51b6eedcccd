/**
 * trtllm-serve's load, read from its `GET /metrics` (NVIDIA/TensorRT-LLM:
 * tensorrt_llm/serve/openai_server.py get_iteration_stats). That route is not Prometheus text: it
 * answers a JSON list of the executor's IterationStats queued since the previous call, and every
 * call DRAINS the queue (it needs `enable_iter_perf_stats: true`).
 *
 * So the route must have exactly one reader per replica. A second poller (a dashboard, another
 * gateway process) steals iterations, and this reader then sees `[]` or a stale tail; nothing in
 * the answer can tell the two apart.
 */
import { compactLoad } from '../../core/plugin/engine-load.js';
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import { parsePrometheusText, sumSamples, meanSamples, type PromSample } from '../../core/plugin/prometheus-text.js';

type Json = Record<string, unknown>;

const WHERE = 'trtllm-serve /metrics';

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** A count the stats must carry; throws naming the element and the field. */
function count(o: Json, key: string, at: string): number {
  const value = o[key];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${WHERE}: ${at}.${key}: expected a non-negative number, got ${describe(value)}`);
  }
  return value;
}

/** A count the stats may leave out (older releases, or no KV cache manager); wrong types still throw. */
function optCount(o: Json, key: string, at: string): number | undefined {
  return o[key] === undefined || o[key] === null ? undefined : count(o, key, at);
}

function readKvCacheStats(value: unknown, at: string): EngineLoad {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new Error(`${WHERE}: ${at}: expected an object, got ${describe(value)}`);
  const maxBlocks = optCount(value, 'maxNumBlocks', at);
  const usedBlocks = optCount(value, 'usedNumBlocks', at);
  const tokensPerBlock = optCount(value, 'tokensPerBlock', at);
  // Block counts, cumulative since the KV cache manager started (cpp/tensorrt_llm/batch_manager/
  // kvCacheManager.cpp: BlockManager::getNumReusedBlocks / getNumMissedBlocks). Scaled by
  // tokensPerBlock they become approximate token counts, comparable with vLLM's; a partly filled
  // last block counts whole. cacheHitRate is the lifetime ratio of the two, so it is not used:
  // the interval rate comes from the counters' differences (intervalHitRate).
  const reused = optCount(value, 'reusedBlocks', at);
  const missed = optCount(value, 'missedBlocks', at);
  const hasBlocks = tokensPerBlock !== undefined && tokensPerBlock > 0;
  return {
    kvUsage: maxBlocks !== undefined && maxBlocks > 0 && usedBlocks !== undefined ? usedBlocks / maxBlocks : undefined,
    blockSize: hasBlocks ? tokensPerBlock : undefined,
    numBlocks: maxBlocks,
    prefixHits: hasBlocks && reused !== undefined ? reused * tokensPerBlock : undefined,
    prefixQueries: hasBlocks && reused !== undefined && missed !== undefined ? (reused + missed) * tokensPerBlock : undefined,
  };
}

function readIteration(value: unknown, index: number): EngineLoad {
  const at = `[${index}]`;
  if (!isRecord(value)) throw new Error(`${WHERE}: ${at}: expected an iteration-stats object, got ${describe(value)}`);
  return {
    running: count(value, 'numActiveRequests', at),
    waiting: count(value, 'numQueuedRequests', at),
    ...readKvCacheStats(value.kvCacheStats, `${at}.kvCacheStats`),
  };
}

/**
 * The load after one drained read of `GET /metrics`: the newest (last) iteration's active and
 * queued requests, KV usage, block size, pool size and cumulative prefix counters.
 *
 * An empty list means no iteration ran since the last read. The executor produces stats only
 * while it iterates, so the last iteration's `numActiveRequests ≥ 1` would otherwise stick after
 * a burst: with `idleHere` (this gateway has nothing in flight there, and it is the only reader)
 * the engine is idle — running and waiting are 0, the rest is kept. Without it (our requests are
 * in flight, the engine is between iterations or stuck) `previous` is returned unchanged.
 * Throws an Error naming the element and field when the answer is not a list of iteration stats.
 */
export function readTrtllmStats(json: unknown, previous?: EngineLoad, idleHere = false): EngineLoad {
  if (!Array.isArray(json)) throw new Error(`${WHERE}: expected a JSON list of iteration stats, got ${describe(json)}`);
  if (json.length === 0) return idleHere ? { ...previous, running: 0, waiting: 0 } : (previous ?? {});
  let last: EngineLoad = {};
  // Every element is checked, not only the last: a malformed one means the format changed.
  for (let i = 0; i < json.length; i++) last = readIteration(json[i], i);
  return compactLoad(last);
}

/**
 * The load from trtllm-serve's Prometheus page, `GET /prometheus/metrics`, served by releases with
 * the metrics collector (NVIDIA/TensorRT-LLM: tensorrt_llm/metrics/collector.py, MetricsCollector;
 * mounted by tensorrt_llm/serve/openai_server.py). Unlike the JSON `/metrics` it does not drain,
 * so every gateway process may read it. Series carry the server's labels (`model_name`,
 * `engine_type`); they are summed (requests) or averaged (ratios) over them.
 *
 * Prompt and cached-token counters give the interval hit rate in tokens; where a build lacks
 * them, the reused and missed block counters scaled by the block size do.
 *
 * `progress` tells whether the engine has iterated since the last read: its gauges are set from
 * iteration stats and keep their last value when it stops. It joins the iteration latency (a
 * gauge in the newest collector, whose float value changes with every iteration; a histogram's
 * count in others) with the completed-requests counter; equal on two reads means no iteration.
 */
export function readTrtllmPrometheus(text: string): { load: EngineLoad; progress?: string } {
  const samples = parsePrometheusText(text).filter((s) => s.name.startsWith('trtllm_'));
  const sum = (name: string) => sumSamples(samples, name);
  const tokensPerBlock = meanSamples(samples, 'trtllm_kv_cache_tokens_per_block');
  const maxBlocks = sum('trtllm_kv_cache_max_blocks');
  let prefixQueries = sum('trtllm_prompt_tokens_total');
  let prefixHits = sum('trtllm_prompt_cached_tokens_total');
  if (prefixQueries === undefined || prefixHits === undefined) {
    const reused = sum('trtllm_kv_cache_reused_blocks_total');
    const missed = sum('trtllm_kv_cache_missed_blocks_total');
    const ok = reused !== undefined && missed !== undefined && tokensPerBlock !== undefined && tokensPerBlock > 0;
    prefixQueries = ok ? (reused + missed) * tokensPerBlock : undefined;
    prefixHits = ok ? reused * tokensPerBlock : undefined;
  }
  return {
    load: compactLoad({
      running: sum('trtllm_num_requests_running'),
      waiting: sum('trtllm_num_requests_waiting'),
      kvUsage: meanSamples(samples, 'trtllm_kv_cache_utilization'),
      blockSize: tokensPerBlock !== undefined && tokensPerBlock > 0 ? tokensPerBlock : undefined,
      numBlocks: maxBlocks !== undefined && maxBlocks > 0 ? maxBlocks : undefined,
      prefixQueries,
      prefixHits,
    }),
    progress: progressOf(samples),
  };
}

function progressOf(samples: readonly PromSample[]): string | undefined {
  const parts = ['trtllm_iteration_latency_seconds', 'trtllm_iteration_latency_seconds_count', 'trtllm_num_requests_completed_total']
    .map((name) => sumSamples(samples, name));
  return parts.every((p) => p === undefined) ? undefined : parts.join('/');
}
