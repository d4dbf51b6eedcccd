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
 * queued requests, KV usage, block size, pool size and cumulative prefix counters. An empty
 * list means nothing happened since the last read (the engine is idle, or another reader drained
 * it), so `previous` is returned unchanged (or an empty load when there is none).
 * Throws an Error naming the element and field when the answer is not a list of iteration stats.
 */
export function readTrtllmStats(json: unknown, previous?: EngineLoad): EngineLoad {
  if (!Array.isArray(json)) throw new Error(`${WHERE}: expected a JSON list of iteration stats, got ${describe(json)}`);
  if (json.length === 0) return previous ?? {};
  let last: EngineLoad = {};
  // Every element is checked, not only the last: a malformed one means the format changed.
  for (let i = 0; i < json.length; i++) last = readIteration(json[i], i);
  return compactLoad(last);
}
