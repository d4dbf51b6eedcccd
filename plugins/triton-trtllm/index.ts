/**
 * `type: triton-trtllm` — a TensorRT-LLM model served by Triton Inference Server's
 * tensorrtllm_backend, through Triton's generate extension: `POST /v2/models/{model}/generate`
 * and `/generate_stream` (SSE). The request is the ensemble's inputs by name
 * (triton-inference-server/tensorrtllm_backend v0.17.0:
 * all_models/inflight_batcher_llm/ensemble/config.pbtxt; README.md "Query the server with the
 * Triton generate endpoint"): text_input, max_tokens, bad_words, stop_words, end_id, pad_id,
 * stream, sampling. Each answer is `{"model_name", "model_version", "text_output", …}`: text, no
 * token counts and no finish reason, so usage is counted with the model's tokenizer (prompt: the
 * rendered prompt; completion: the text) and `length` is told from max_tokens. Asked for
 * (`return_kv_cache_reuse_stats`), the responses add the request's KV-cache blocks
 * (inflight_batcher_llm/src/model_instance_state.cc): reused blocks × the block size are the
 * cached prompt tokens.
 *
 *   - id: triton-1
 *     type: triton-trtllm
 *     url: http://10.0.0.5:8000
 *     model: ensemble                         # the Triton model (default ensemble; or tensorrt_llm_bls)
 *     metrics_url: http://10.0.0.5:8002/metrics   # default: the url's host, port 8002
 *     kv_cache_reuse_stats: true              # ask for kv_cache_reused_blocks (cached prompt tokens);
 *                                             # false for an ensemble without that input
 *     tokenizer_json: …  tokenizer_config: …   # plugins/text-engine/options.ts
 *
 * `ignore_eos` sends end_id -1, TensorRT-LLM's "no end id" (what trtllm-bench's `--eos_id -1`
 * passes to generate to max tokens); the ensemble has no input for stop_token_ids (ignored) and
 * returns one sequence (n > 1 refused).
 *
 * A quirk of the ensemble's streamed text: its postprocessing model decodes each response's new
 * tokens on their own (postprocessing/1/model.py), so a character split across tokens arrives as
 * U+FFFD and a SentencePiece tokenizer's word-leading space can go missing. The text is passed on
 * as Triton wrote it (stop strings and tool calls are still found across events); non-streamed
 * answers are decoded whole and have neither problem.
 */
import { request } from 'undici';
import { stringErrorShape } from '../http/errors.js';
import type { EngineHandle, LoadReader } from '../http/define.js';
import { defineTextEngine, eventObject, type EngineOutput, type TextProtocol, type TextRequest } from '../text-engine/http-text-engine.js';
import { isRecord } from '../text-engine/prompt/types.js';
import { readTritonLoad } from './load.js';

const KEYS = ['model', 'metrics_url', 'default_max_tokens', 'kv_cache_reuse_stats'];

/** The ensemble needs max_tokens; a request without one gets this many. */
const DEFAULT_MAX_TOKENS = 1024;

/** An INT32 output of shape [1, 1] comes back as a number or nested one-element lists. */
function intOf(v: unknown): number | undefined {
  while (Array.isArray(v) && v.length === 1) v = v[0];
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

/** A TYPE_STRING output of one element comes back as a string, or as a one-element list. */
function textOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.filter((s) => typeof s === 'string').join('');
  return '';
}

const tritonModelOf = (options: Record<string, unknown>): string => (typeof options.model === 'string' ? options.model : 'ensemble');
/** Ask for kv_cache_reused_blocks (the ensemble's return_kv_cache_reuse_stats input). */
const reuseStatsOf = (options: Record<string, unknown>): boolean => options.kv_cache_reuse_stats !== false;

/** Triton's metrics on their own port (the url's host, port 8002, unless `metrics_url:` says). */
function tritonLoad(engine: EngineHandle): LoadReader {
  const { options, spec } = engine;
  const base = new URL(spec.url);
  const metricsUrl = new URL(typeof spec.options.metrics_url === 'string' ? spec.options.metrics_url : `${base.protocol}//${base.hostname}:8002/metrics`);
  return async () => {
    const res = await request(metricsUrl, {
      method: 'GET', headersTimeout: options.healthTimeoutMs, bodyTimeout: options.healthTimeoutMs,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`GET ${metricsUrl.pathname} answered ${res.statusCode}`);
    return readTritonLoad(text);
  };
}

function tritonProtocol(engine: EngineHandle): TextProtocol {
  const { spec, capabilities } = engine;
  const model = encodeURIComponent(tritonModelOf(spec.options));
  const defaultMaxTokens = typeof spec.options.default_max_tokens === 'number' ? spec.options.default_max_tokens : DEFAULT_MAX_TOKENS;
  const reuseStats = reuseStatsOf(spec.options);

  /**
   * The text, and the prompt tokens the KV cache served where the response says (reused blocks ×
   * the block size the metrics or the `block_size` option gave; a partial last block counts whole
   * there, so the count is capped at the prompt).
   */
  const output = (o: Record<string, unknown>, req: TextRequest): EngineOutput => {
    const text = textOf(o.text_output);
    const reused = intOf(o.kv_cache_reused_blocks);
    const blockSize = capabilities.blockSize;
    if (reused === undefined || blockSize === undefined) return { text };
    return { text, counts: { cachedTokens: Math.min(req.promptTokens, reused * blockSize) } };
  };

  return {
    streams: true,

    request(req) {
      const { params } = req;
      const s = params.sampling;
      const body: Record<string, unknown> = {
        text_input: req.prompt,
        max_tokens: params.maxTokens ?? defaultMaxTokens,
        // An empty string is "none" (README); a list is one string per word.
        bad_words: '',
        stop_words: req.stop.length > 0 ? req.stop : '',
        end_id: params.ignoreEos ? -1 : req.endId,
        pad_id: req.padId,
        // Non-streamed answers repeat the prompt unless told not to.
        exclude_input_in_output: true,
        stream: req.stream,
      };
      // model_instance_state.cc: with it, responses carry the request's KV-cache block counts.
      if (reuseStats) body.return_kv_cache_reuse_stats = true;
      if (s.temperature !== undefined) body.temperature = s.temperature;
      if (s.topP !== undefined) body.top_p = s.topP;
      if (s.topK !== undefined) body.top_k = s.topK;
      if (s.seed !== undefined) body.random_seed = s.seed;
      if (s.repetitionPenalty !== undefined) body.repetition_penalty = s.repetitionPenalty;
      if (s.presencePenalty !== undefined) body.presence_penalty = s.presencePenalty;
      if (s.frequencyPenalty !== undefined) body.frequency_penalty = s.frequencyPenalty;
      if (params.minTokens > 0) body.min_length = params.minTokens;
      return { path: `/v2/models/${model}/${req.stream ? 'generate_stream' : 'generate'}`, body };
    },

    readAnswer(body, req) {
      const o = JSON.parse(body) as unknown;
      if (!isRecord(o)) return { text: '' };
      if (typeof o.error === 'string') return { text: '', error: { status: 500, body } };
      return output(o, req);
    },

    readEvent(data, req) {
      const o = eventObject(data);
      if (!o) return undefined;
      // An error after the 200 (the model failed the request): {"error": "..."}.
      if (typeof o.error === 'string') return { text: '', error: { status: 500, body: data } };
      return output(o, req);
    },
  };
}

export default defineTextEngine({
  type: 'triton-trtllm',
  engine: 'triton-trtllm',
  defaults: { healthPath: '/v2/health/ready' },
  options: {
    keys: KEYS,
    validate: (options) => {
      const problems: string[] = [];
      if (options.model !== undefined && (typeof options.model !== 'string' || options.model === '')) problems.push('model: expected the Triton model name (ensemble, tensorrt_llm_bls, …)');
      if (options.metrics_url !== undefined && !(typeof options.metrics_url === 'string' && URL.canParse(options.metrics_url))) problems.push('metrics_url: expected a URL, e.g. http://10.0.0.5:8002/metrics');
      const dmt = options.default_max_tokens;
      if (dmt !== undefined && !(typeof dmt === 'number' && Number.isInteger(dmt) && dmt > 0)) problems.push('default_max_tokens: expected a positive integer');
      if (options.kv_cache_reuse_stats !== undefined && typeof options.kv_cache_reuse_stats !== 'boolean') {
        problems.push('kv_cache_reuse_stats: expected true or false (false for an ensemble without the return_kv_cache_reuse_stats input)');
      }
      return problems;
    },
  },
  models: (options) => [tritonModelOf(options)],
  load: tritonLoad,
  // Triton's HTTP frontend writes every error as {"error": "<message>"} (server: src/http_server.cc),
  // before the stream and inside it.
  errorShapes: [stringErrorShape],
  reportsCachedTokens: reuseStatsOf,
  protocol: tritonProtocol,
});
