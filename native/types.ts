/**
 * The TypeScript mirror of native/'s engine surface (native/src/addon.cc).
 *
 * The shape follows TensorRT-LLM's Executor (executor.h): requests of token ids go in, batches of
 * token responses come out, requests can be cancelled, and the engine reports iteration stats and
 * KV-cache events, both drained on read. Two implementations sit behind it: the engine model
 * (`executor: 'model'`, a CPU model of an LLM engine, always built) and the TensorRT-LLM executor
 * (built only where TRTLLM_ROOT points to an installation).
 *
 * All times are in *model* milliseconds: the engine model runs `timeScale` times faster than real
 * time and reports every time as if it ran at real speed.
 */

/** KV admission policy, as TensorRT-LLM's CapacitySchedulerPolicy names them. */
export type SchedulerPolicy = 'guaranteed-no-evict' | 'max-utilization';

/** Numeric description of one GPU + model + engine combination (native/profiles.yaml). */
export interface EngineProfile {
  name: string;
  /** Tokens per KV block: vLLM 16, LMDeploy 64, TensorRT-LLM tokens_per_block (32). */
  blockSize: number;
  /** KV capacity in blocks, derived from GPU memory and model size. */
  numBlocks: number;
  /** Max sequences in one batch (vLLM max_num_seqs, TRT-LLM max_batch_size). */
  maxBatchSize: number;
  /** Max tokens scheduled in one step (vLLM max_num_batched_tokens, TRT-LLM max_num_tokens). */
  maxNumTokens: number;
  /** Split long prompts over several steps instead of one step per prompt. */
  chunkedPrefill: boolean;
  enablePrefixCaching: boolean;
  schedulerPolicy: SchedulerPolicy;
  /** Step time (model ms) = base + perSeq·seqs + perPrefillToken·prefillTokens + perKvToken·kvTokens. */
  stepBaseMs: number;
  stepPerSeqMs: number;
  stepPerPrefillTokenMs: number;
  stepPerKvTokenMs: number;
  /** Longest prompt + output the engine accepts. */
  maxModelLen: number;
  /** Waiting-queue bound; enqueue beyond it fails. 0 = unbounded. */
  maxQueueSize: number;
}

export interface EngineOptions {
  profile: EngineProfile;
  /** 'model' runs the engine model; 'tensorrt-llm' needs the TensorRT-LLM build. */
  executor?: 'model' | 'tensorrt-llm';
  /** tensorrt-llm: the engine directory, and the KV cache's share of free GPU memory. */
  engineDir?: string;
  kvCacheFreeGpuMemoryFraction?: number;
  /** Model time runs this many times faster than real time (default 1). */
  timeScale?: number;
  /**
   * 'real': an engine thread steps in (scaled) real time and delivers responses to `onResponses`.
   * 'manual': nothing runs until `step()` is called; each call runs one iteration (tests, fitting).
   */
  clock?: 'real' | 'manual';
  /** Token ids the engine model draws its output from (deterministically, seeded by the prompt). */
  outputTokenPool?: Int32Array;
  /** KV events kept until drained; 0 disables them (TRT-LLM event_buffer_max_size). */
  kvEventBufferSize?: number;
  /** Iteration stats kept until drained (TRT-LLM iter_stats_max_iterations). */
  iterStatsBufferSize?: number;
  /** Bound of the queue of response batches waiting for the JS thread. */
  responseQueueSize?: number;
  /**
   * Engine model: salts its KV block hashes (a number or a 64-bit BigInt), as engines do per
   * process (vLLM's PYTHONHASHSEED); default 0, unsalted. Nothing outside the engine recomputes
   * them: core/routing/kv-tracker.ts keys blocks by their token ids.
   */
  blockHashSeed?: number | bigint;
  /** tensorrt-llm: how often iteration stats are pulled into `snapshot()` (ms, default 100). */
  statsPollMs?: number;
}

export interface EngineRequest {
  inputTokenIds: Int32Array | readonly number[];
  maxTokens: number;
  /** End-of-sequence token id; -1 for none. */
  endId?: number;
  /** Output token sequences that end the request (TRT-LLM stopWords). */
  stopTokenSequences?: ReadonlyArray<readonly number[]>;
  ignoreEos?: boolean;
  /** EOS is not honoured before this many tokens. */
  minTokens?: number;
  /** Streaming: a response per step with that step's tokens; else one final response. */
  streaming?: boolean;
  /** 0..1, higher first (TRT-LLM priority, default 0.5). */
  priority?: number;
  /**
   * Sampling (TRT-LLM SamplingConfig). The engine model decodes greedily — output fixed by the
   * prompt — at temperature 0 or topK 1; otherwise seed, temperature, topP and topK each change
   * its (still deterministic) output. Penalties reach TensorRT-LLM only.
   */
  temperature?: number;
  topP?: number;
  /** 0: no top-k. */
  topK?: number;
  seed?: number | bigint;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /**
   * Tests only (engine model): answer exactly these tokens, then the end id. How a test scripts a
   * model's answer (a tool call, say); never set from configuration or a client request.
   */
  scriptedOutput?: Int32Array;
}

/** TRT-LLM's FinishReason, by name. */
export type FinishReason = 'none' | 'end-id' | 'stop-words' | 'length' | 'cancelled' | 'error';

/** Per-request timing and cache facts, on the final response. Model ms. */
export interface RequestTimings {
  arrivalMs: number;
  scheduledMs: number;
  firstTokenMs: number;
  finishMs: number;
  promptTokens: number;
  /** Prompt tokens served from reused KV blocks. */
  cachedTokens: number;
  preemptions: number;
}

export interface EngineResponse {
  requestId: number;
  /** New tokens since the previous response (streaming), or all output tokens (final, not streaming). */
  tokens: number[];
  finishReason: FinishReason;
  isFinal: boolean;
  error?: string;
  /** Model time of this response. */
  timeMs: number;
  /**
   * Prompt tokens served from reused KV blocks; on the first response that carries tokens (the
   * engine model's counts, TensorRT-LLM's requestPerfMetrics reused blocks × tokens per block).
   */
  cachedTokens?: number;
  timings?: RequestTimings;
}

export interface KvCacheStats {
  maxNumBlocks: number;
  freeNumBlocks: number;
  usedNumBlocks: number;
  tokensPerBlock: number;
  allocTotalBlocks: number;
  allocNewBlocks: number;
  reusedBlocks: number;
  missedBlocks: number;
  cacheHitRate: number;
}

export interface InflightBatchingStats {
  numScheduledRequests: number;
  numContextRequests: number;
  numGenRequests: number;
  numPausedRequests: number;
  numCtxTokens: number;
  microBatchId: number;
}

/** One iteration's stats (TRT-LLM IterationStats). */
export interface IterationStats {
  iter: number;
  iterLatencyMS: number;
  timestampMs: number;
  numActiveRequests: number;
  numQueuedRequests: number;
  numCompletedRequests: number;
  maxNumActiveRequests: number;
  kvCacheStats: KvCacheStats;
  inflightBatchingStats: InflightBatchingStats;
}

/** Cumulative counters and current gauges, read without draining anything. */
export interface EngineSnapshot {
  nowMs: number;
  running: number;
  waiting: number;
  /** Blocks referenced by live requests ÷ all blocks (vLLM's kv_cache_usage_perc). */
  kvUsage: number;
  usedBlocks: number;
  cachedBlocks: number;
  numBlocks: number;
  blockSize: number;
  /** Prompt tokens looked up in the prefix cache, and how many hit (vLLM counts tokens). */
  prefixQueryTokens: number;
  prefixHitTokens: number;
  promptTokens: number;
  generationTokens: number;
  preemptions: number;
  iterations: number;
  completed: number;
}

export type KvCacheEvent =
  | { eventId: number; type: 'created'; numBlocks: number; blockSize?: number }
  | {
      eventId: number;
      type: 'stored';
      parentHash: bigint | null;
      blocks: Array<{ blockHash: bigint; tokens: number[] }>;
    }
  | { eventId: number; type: 'removed'; blockHashes: bigint[] }
  | { eventId: number; type: 'cleared' }
  /** TensorRT-LLM: a held block moved between cache levels or changed priority. */
  | { eventId: number; type: 'updated' };

/**
 * One step's responses as a real-clock engine hands them over: held in native memory, each made a
 * JS object only when read (`at`), so that thousands of them waiting their turn are not copied
 * by the young-generation collector (native/src/addon.cc says why). `release()` frees them once
 * read; after it, `at` throws. Unreleased, they are freed when the batch is collected.
 */
export interface ResponseBatch {
  readonly length: number;
  at(index: number): EngineResponse;
  /** The request a response belongs to, without making the response. */
  requestIdAt(index: number): number;
  release(): void;
}

export type ResponseListener = (batch: ResponseBatch) => void;
