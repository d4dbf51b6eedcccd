/**
 * The Triton face: a TensorRT-LLM model behind Triton Inference Server's tensorrtllm_backend, as
 * its `ensemble` model answers Triton's HTTP generate extension. Mirrors
 * triton-inference-server/tensorrtllm_backend v0.17.0 (all_models/inflight_batcher_llm/ensemble/
 * config.pbtxt for the inputs; README.md for the answer; inflight_batcher_llm/src/
 * custom_metrics_reporter/custom_metrics_reporter.cc for the metrics) and Triton's HTTP frontend
 * (the generate extension's JSON: inputs by name, outputs by name plus model_name and
 * model_version; every error `{"error": "<message>"}`, in the stream as an SSE event; readiness
 * 200 or 400 — triton-inference-server/server src/http_server.cc, main after v2.54.0).
 *
 * - `POST /v2/models/{model}/generate` and `/generate_stream` (SSE `data: {...}` per response, no
 *   [DONE]); the `/versions/{v}/` forms too. The model is served as `ensemble` and as the served
 *   model name; another name is Triton's unknown-model 400.
 * - Answers carry text only: no token counts, no finish reason (the ensemble outputs none); with
 *   `return_kv_cache_reuse_stats` the final response adds the request's KV-cache block counts.
 * - The stop words stay in the output (TensorRT-LLM stops after generating them).
 * - Prometheus metrics on their own listener (--metrics-port, 8002 by default): the backend's
 *   `nv_trt_llm_request_metrics` and `nv_trt_llm_kv_cache_block_metrics` gauges from the engine.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerationError, GenerationRequest, GenerationStream } from '../generation.js';
import { sseData } from '../sse.js';
import { BodyParseError, FieldError, optBool, optInt, optNumber, pyJson, readBody } from './common.js';
import type { Body, Face, FaceContext } from './common.js';
import { serveGeneration, type GenerationFormat } from './serve.js';

// ensemble/config.pbtxt (v0.17.0): every input by name; text_input and max_tokens are required.
const INPUTS = new Set(['text_input', 'decoder_text_input', 'image_input', 'max_tokens', 'num_return_sequences', 'bad_words', 'stop_words',
  'exclude_input_in_output', 'end_id', 'pad_id', 'top_k', 'top_p', 'temperature', 'length_penalty', 'repetition_penalty', 'min_length',
  'presence_penalty', 'frequency_penalty', 'random_seed', 'return_log_probs', 'return_context_logits', 'return_generation_logits',
  'return_kv_cache_reuse_stats', 'beam_width', 'stream', 'prompt_embedding_table', 'prompt_table_extra_id', 'prompt_vocab_size',
  'embedding_bias_words', 'embedding_bias_weights', 'lora_task_id', 'lora_weights', 'lora_config']);

const ENSEMBLE = 'ensemble';
const TRTLLM_MODEL = 'tensorrt_llm';

/** A TYPE_STRING input: a string, or a list of strings (one per word for bad_words / stop_words). */
function stringList(o: Body, key: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v === '' ? [] : [v];
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return (v as string[]).filter((s) => s !== '');
  throw new FieldError(key, `unable to parse '${key}': expected a string or a list of strings`, v);
}

export function createTritonTrtllmFace(ctx: FaceContext): Face {
  const sendError = (reply: FastifyReply, status: number, message: string): FastifyReply =>
    reply.code(status).type('application/json').send(pyJson({ error: message }));

  const known = (model: string): boolean => model === ENSEMBLE || model === ctx.servedModel;

  const refuse = (reply: FastifyReply, err: GenerationError): FastifyReply => {
    if (err.kind !== 'context-length') return sendError(reply, err.status === 503 ? 503 : 400, err.message);
    const { promptTokens = 0, maxTokens = 0, maxModelLen = 0 } = err.details;
    // The executor refuses it (wording of TensorRT-LLM's check, unverified); Triton passes it as 400.
    return sendError(reply, 400, `[TensorRT-LLM][ERROR] Assertion failed: Prompt length (${promptTokens}) + max new tokens (${maxTokens}) exceeds max sequence length (${maxModelLen})`);
  };

  const readRequest = (o: Body): { generation: GenerationRequest; stream: boolean; reuseStats: boolean } => {
    for (const key of Object.keys(o)) {
      if (!INPUTS.has(key) && key !== 'parameters' && key !== 'id') throw new FieldError(key, `unexpected inference input '${key}' for model '${ENSEMBLE}'`);
    }
    const text = o.text_input;
    if (typeof text !== 'string' && !(Array.isArray(text) && text.length === 1 && typeof text[0] === 'string')) {
      throw new FieldError('text_input', text === undefined ? `expected 1 inputs but got 0 inputs for model '${ENSEMBLE}'. At least one input of [text_input] is missing` : "unable to parse 'text_input': expected a string");
    }
    const maxTokens = optInt(o, 'max_tokens', 1);
    if (maxTokens === undefined) throw new FieldError('max_tokens', `missing required input 'max_tokens' for model '${ENSEMBLE}'`);
    const generation: GenerationRequest = {
      prompt: typeof text === 'string' ? text : text[0], addSpecialTokens: true, maxTokens, contextPolicy: 'reject', includeStopStrInOutput: true,
    };
    const stop = stringList(o, 'stop_words');
    if (stop !== undefined && stop.length > 0) generation.stop = stop;
    stringList(o, 'bad_words');
    // end_id -1 is TensorRT-LLM's "no end id": generation runs to max_tokens.
    if (optInt(o, 'end_id') === -1) generation.ignoreEos = true;
    optInt(o, 'pad_id');
    for (const k of ['top_k']) optInt(o, k, 0);
    for (const k of ['top_p', 'temperature', 'length_penalty', 'repetition_penalty', 'presence_penalty', 'frequency_penalty']) optNumber(o, k);
    const minLength = optInt(o, 'min_length', 0);
    if (minLength !== undefined) generation.minTokens = minLength;
    const seed = optInt(o, 'random_seed', 0);
    if (seed !== undefined) generation.seed = seed;
    const beams = optInt(o, 'beam_width', 1);
    if (beams !== undefined && beams !== 1) throw new FieldError('beam_width', 'the simulated engine serves beam_width 1 only');
    return { generation, stream: optBool(o, 'stream') ?? false, reuseStats: optBool(o, 'return_kv_cache_reuse_stats') ?? false };
  };

  /**
   * With return_kv_cache_reuse_stats, the request's KV-cache blocks (model_instance_state.cc, from
   * the executor's per-request kvCacheMetrics): reused, newly allocated, and all. On the final
   * response here, where the executor's request perf metrics are complete.
   */
  const reuseStats = (s: GenerationStream): Record<string, number> => {
    const blockSize = ctx.profile.engineProfile.blockSize;
    const reused = Math.floor(s.cachedTokens / blockSize);
    const total = Math.ceil((s.promptTokens + s.completionTokens) / blockSize);
    return { kv_cache_alloc_new_blocks: total - reused, kv_cache_reused_blocks: reused, kv_cache_alloc_total_blocks: total };
  };

  // The generate extension's answer: the model's outputs by name, with its name and version.
  const answer = (text: string, stats?: Record<string, number>): string => pyJson({
    model_name: ENSEMBLE, model_version: '1', sequence_end: false, sequence_id: 0, sequence_start: false, text_output: text, ...stats,
  });

  const format = (stream: boolean, withStats: boolean, oneResponse: boolean): GenerationFormat => {
    let whole = '';
    return {
      stream,
      head: () => [],
      // Every response is an event, the final one too (its text may be empty: the end id is
      // skipped); a request that did not stream has one response, at the end.
      chunk: (c, s) => {
        whole += c.text;
        if (oneResponse) return c.finish === undefined ? [] : [sseData(answer(whole, withStats ? reuseStats(s) : undefined))];
        return c.text === '' && c.finish === undefined ? [] : [sseData(answer(c.text, withStats && c.finish !== undefined ? reuseStats(s) : undefined))];
      },
      tail: () => [],
      body: (text, s) => answer(text, withStats ? reuseStats(s) : undefined),
    };
  };

  const generate = async (request: FastifyRequest, reply: FastifyReply, streamRoute: boolean): Promise<FastifyReply> => {
    const { model } = request.params as { model: string };
    if (!known(model)) return sendError(reply, 400, `Request for unknown model: '${model}' is not found`);
    let parsed: ReturnType<typeof readRequest>;
    try {
      parsed = readRequest(readBody(request.body));
    } catch (err) {
      if (err instanceof BodyParseError) return face.sendBodyError(reply, err);
      if (err instanceof FieldError) return sendError(reply, 400, err.message);
      throw err;
    }
    // A streaming request answers once per token: generate takes exactly one response
    // (http_server.cc InferResponseComplete: "expected a single response, got N", INTERNAL).
    if (parsed.stream && !streamRoute) return sendError(reply, 500, 'expected a single response, got 2');
    // generate_stream of a request without stream: true: its one response as one event.
    await serveGeneration(ctx, face, { request, reply, generation: parsed.generation, format: format(streamRoute, parsed.reuseStats, !parsed.stream), refuse });
    return reply;
  };

  const metricsText = (): string => {
    const s = ctx.engine.snapshot();
    const labels = (k: string, v: string): string => `{model="${TRTLLM_MODEL}",${k}="${v}",version="1"}`;
    const lines = ['# HELP nv_trt_llm_request_metrics TRT LLM request metrics', '# TYPE nv_trt_llm_request_metrics gauge'];
    // The engine model has no separate count of context (prefill) requests: 0.
    const requests: Array<[string, number]> = [['context', 0], ['scheduled', s.running], ['max', ctx.profile.engineProfile.maxBatchSize], ['active', s.running + s.waiting]];
    for (const [type, v] of requests) lines.push(`nv_trt_llm_request_metrics${labels('request_type', type)} ${v}`);
    lines.push('# HELP nv_trt_llm_kv_cache_block_metrics TRT LLM KV cache block metrics', '# TYPE nv_trt_llm_kv_cache_block_metrics gauge');
    const blocks: Array<[string, number]> = [['tokens_per', s.blockSize], ['used', s.usedBlocks], ['free', s.numBlocks - s.usedBlocks],
      ['max', s.numBlocks], ['reused', s.cachedBlocks]];
    for (const [type, v] of blocks) lines.push(`nv_trt_llm_kv_cache_block_metrics${labels('kv_cache_block_type', type)} ${v}`);
    lines.push('# HELP nv_trt_llm_general_metrics General TRT LLM metrics', '# TYPE nv_trt_llm_general_metrics gauge',
      `nv_trt_llm_general_metrics${labels('general_type', 'iteration_counter')} ${s.iterations}`,
      `nv_trt_llm_general_metrics${labels('general_type', 'timestamp')} ${Math.floor(Date.now() / 1000)}`);
    return `${lines.join('\n')}\n`;
  };

  const face: Face = {
    sendError,
    engineFailure: {
      // The model's error response inside the stream, then the stream ends.
      streamed: () => [sseData(pyJson({ error: 'Simulated engine failure: the executor failed the request' }))],
      answer: (reply) => sendError(reply, 500, 'Simulated engine failure: the executor failed the request'),
    },
    sendBodyError: (reply, err) => sendError(reply, 400, err.kind === 'media-type'
      ? 'unsupported content type: expected application/json' : `failed to parse the request JSON buffer: ${err.message}`),
    register(app: FastifyInstance) {
      // Triton answers readiness 200 or 400 with no body.
      app.get('/v2/health/ready', async (_req, reply) => reply.code(ctx.faults.healthy() ? 200 : 400).send());
      app.get('/v2/health/live', async (_req, reply) => reply.code(200).send());
      app.get('/v2', async (_req, reply) => reply.type('application/json').send(pyJson({
        name: 'triton', version: '2.54.0', extensions: ['classification', 'sequence', 'model_repository', 'schedule_policy', 'model_configuration',
          'system_shared_memory', 'cuda_shared_memory', 'binary_tensor_data', 'parameters', 'statistics', 'trace', 'logging'],
      })));
      app.get('/v2/models/:model', async (request, reply) => {
        const { model } = request.params as { model: string };
        if (!known(model)) return sendError(reply, 400, `Request for unknown model: '${model}' is not found`);
        return reply.type('application/json').send(pyJson({
          name: ENSEMBLE, versions: ['1'], platform: 'ensemble',
          inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [-1, 1] }, { name: 'max_tokens', datatype: 'INT32', shape: [-1, 1] }],
          outputs: [{ name: 'text_output', datatype: 'BYTES', shape: [-1, -1] }],
        }));
      });
      for (const prefix of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
        app.post(`${prefix}/generate`, (request, reply) => generate(request, reply, false));
        app.post(`${prefix}/generate_stream`, (request, reply) => generate(request, reply, true));
      }
    },
    registerMetrics(app: FastifyInstance) {
      app.get('/metrics', async (_req, reply) => reply.type('text/plain; charset=utf-8').send(metricsText()));
    },
  };
  return face;
}
