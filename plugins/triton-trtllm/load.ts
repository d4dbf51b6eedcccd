/**
 * Triton's load for a tensorrtllm_backend model, from Triton's Prometheus metrics (their own port,
 * 8002 by default). The backend's custom metrics are gauges labelled `model` and `version`
 * (triton-inference-server/tensorrtllm_backend v0.17.0:
 * inflight_batcher_llm/src/custom_metrics_reporter/custom_metrics_reporter.cc; REFERENCE §1.5):
 *
 * - `nv_trt_llm_request_metrics{request_type}`: active, max, scheduled, context — and waiting in
 *   later releases (the backend's source moved to NVIDIA/TensorRT-LLM triton_backend/);
 * - `nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type}`: max, free, used, tokens_per, reused —
 *   and fraction in later releases.
 *
 * The series belong to the `tensorrt_llm` model (not the ensemble in front of it); a server with
 * several such models (a draft model beside the target) is summed.
 */
import { compactLoad, type EngineLoad } from '../../core/plugin/engine-load.js';
import { parsePrometheusText, sumSamples } from '../../core/plugin/prometheus-text.js';

const REQUESTS = 'nv_trt_llm_request_metrics';
const KV_BLOCKS = 'nv_trt_llm_kv_cache_block_metrics';

export function readTritonLoad(text: string): EngineLoad {
  const samples = parsePrometheusText(text).filter((s) => s.name.startsWith('nv_trt_llm_'));
  const requests = (type: string): number | undefined => sumSamples(samples, REQUESTS, (l) => l.request_type === type);
  const blocks = (type: string): number | undefined => sumSamples(samples, KV_BLOCKS, (l) => l.kv_cache_block_type === type);
  const active = requests('active');
  // Scheduled requests are the running batch (the reading GIE's model-server protocol takes too).
  const running = requests('scheduled');
  // Active counts the scheduled and the queued: the rest waits, where no `waiting` gauge says so.
  const waiting = requests('waiting') ?? (active !== undefined && running !== undefined ? Math.max(0, active - running) : undefined);
  const max = blocks('max');
  const used = blocks('used');
  const fraction = blocks('fraction');
  const kvUsage = fraction ?? (max !== undefined && max > 0 && used !== undefined ? used / max : undefined);
  return compactLoad({ running, waiting, kvUsage, blockSize: blocks('tokens_per'), numBlocks: max });
}
