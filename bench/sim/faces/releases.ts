/**
 * The engine releases the faces mirror. A replica speaks one release (`--release`, default the
 * newest); where two releases differ in a way a gateway can see (metric names, usage, error
 * bodies), the face follows the one it was started as, and `/sim/info` names it.
 *
 * Sources, per engine:
 * - vLLM "0.19": vllm-project/vllm main of 2026-05-19, just after v0.19.0 (what merged between the
 *   tag and that day may be early here). "0.10": v0.10.2, read at the v0.11.0 branch point
 *   (2025-09-30) and in vllm/v1/metrics/loggers.py as it stood when the gpu_ names were deprecated.
 * - LMDeploy "0.16": InternLM/lmdeploy tag v0.16.0.
 * - trtllm-serve "1.2": NVIDIA/TensorRT-LLM main of 2026 (tensorrt_llm/serve/openai_server.py,
 *   postprocess_handlers.py, metrics/collector.py); the newest release on PyPI is 1.2.1, so the
 *   Prometheus page's iteration-level series may be newer than any tag.
 * - Triton tensorrtllm_backend "0.17": triton-inference-server/tensorrtllm_backend tag v0.17.0, the
 *   last release whose source is in that repository (all_models/inflight_batcher_llm/ensemble,
 *   inflight_batcher_llm/src/custom_metrics_reporter/); later releases live in NVIDIA/TensorRT-LLM
 *   triton_backend/. Triton's own HTTP frontend (generate extension, health) as its docs describe it.
 * - TGI "3.3": huggingface/text-generation-inference v3.3.7 (router/src/lib.rs, server.rs).
 * - DeepSpeed-MII "0.3": deepspeedai/DeepSpeed-MII v0.3.3 (mii/grpc_related/restful_gateway.py).
 */
import type { SimEngine } from '../options.js';

export interface VllmRelease {
  /**
   * The deprecated `vllm:gpu_cache_usage_perc` and `vllm:gpu_prefix_cache_{queries,hits}` are
   * exported beside `vllm:kv_cache_usage_perc` and `vllm:prefix_cache_*` (deprecated by #18354 in
   * 0.9.2, hidden behind --show-hidden-metrics-for-version in 0.11, removed in 0.12).
   */
  legacyKvMetricNames: boolean;
  /** vllm/v1/engine/__init__.py FINISH_REASON_STRINGS: `request_success` is made for each at startup. */
  finishReasons: readonly string[];
  /**
   * vllm/entrypoints/utils.py should_include_usage. Newer: --enable-force-include-usage puts usage
   * on every chunk, with or without stream_options (#20983, 0.11.1). Older (serving_chat.py): the
   * flag only overrides `include_usage: false` when stream_options is present.
   */
  forcedUsageOnEveryChunk: boolean;
  /**
   * An engine failure after the 200: the SSE error body. 0.10 turns any exception in the stream
   * generator into create_streaming_error_response(str(e)) with its defaults (BadRequestError,
   * 400); a dead engine core raises EngineDeadError. Newer releases raise GenerationError for
   * finish_reason "error" and write InternalServerError, 500 (message unverified).
   */
  streamError: { message: string; type: string; code: number };
  /** `param` of the unknown-model 404: "model" only in newer releases (engine/serving.py). */
  notFoundParam: string | null;
  /**
   * The per-token latency histogram: `vllm:time_per_output_token_seconds` until 0.11 renamed it
   * `vllm:inter_token_latency_seconds` and added the per-request
   * `vllm:request_time_per_output_token_seconds` (the old name was removed by #32661).
   */
  interTokenLatency: 'inter_token_latency' | 'time_per_output_token';
  /**
   * `vllm:prompt_tokens_cached` (local + external hits, per request) and
   * `vllm:external_prefix_cache_{queries,hits}` (KV-connector hits; zero without a connector).
   */
  cachedPromptCounters: boolean;
}

export const VLLM_RELEASES: Record<string, VllmRelease> = {
  '0.19': {
    legacyKvMetricNames: false,
    // "error" arrived with #26813 (2025-12-10), "repetition" with #35451 (2026-03-03).
    finishReasons: ['stop', 'length', 'abort', 'error', 'repetition'],
    forcedUsageOnEveryChunk: true,
    streamError: { message: 'Internal server error', type: 'InternalServerError', code: 500 },
    notFoundParam: 'model',
    interTokenLatency: 'inter_token_latency',
    cachedPromptCounters: true,
  },
  '0.10': {
    legacyKvMetricNames: true,
    finishReasons: ['stop', 'length', 'abort'],
    forcedUsageOnEveryChunk: false,
    streamError: { message: 'EngineCore encountered an issue. See stack trace (above) for the root cause.', type: 'BadRequestError', code: 400 },
    notFoundParam: null,
    interTokenLatency: 'time_per_output_token',
    cachedPromptCounters: false,
  },
};

/** Each engine's releases, newest (the default) first. */
export const SIM_RELEASES: Record<SimEngine, readonly string[]> = {
  vllm: Object.keys(VLLM_RELEASES),
  lmdeploy: ['0.16'],
  'trtllm-serve': ['1.2'],
  'triton-trtllm': ['0.17'],
  tgi: ['3.3'],
  'deepspeed-mii': ['0.3'],
};

export function newestRelease(engine: SimEngine): string {
  return SIM_RELEASES[engine][0];
}

/** The vLLM release a replica speaks; an unknown one is a programming error (options are validated). */
export function vllmRelease(name: string): VllmRelease {
  const release = VLLM_RELEASES[name];
  if (release === undefined) throw new Error(`no vLLM release "${name}" (have: ${SIM_RELEASES.vllm.join(', ')})`);
  return release;
}
