/**
 * The trtllm-serve face: OpenAI routes, `/health`, `/health_generate`, the JSON `/metrics` of
 * iteration stats, `POST /kv_cache_events`, and with --return-perf-metrics the Prometheus
 * `/prometheus/metrics`, as tensorrt_llm/serve/openai_server.py, openai_protocol.py and
 * postprocess_handlers.py write them.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { KvCacheEvent } from '../../../native/engine.js';
import type { GenerationError, GenerationRequest } from '../generation.js';
import { BodyParseError, FieldError, optBool, optNumber, optRecord, optString, pyJson, readBody, readCommonSampling,
  readMessages, readPrompt, validationText } from './common.js';
import type { Body, Face, FaceContext } from './common.js';
import { serveGeneration } from './serve.js';
import { trtllmChatFormat, trtllmCompletionFormat, trtllmStreamUsage } from './trtllm-format.js';
import type { StreamUsage } from './trtllm-format.js';
import { IterationStatsQueue, createTrtllmPrometheus } from './trtllm-metrics.js';

// openai_protocol.py: OpenAIBaseModel has extra="forbid", so unknown request fields are a 400.
const CHAT_FIELDS = new Set(['messages', 'prompt_token_ids', 'prompt_token_ids_b64', 'model', 'frequency_penalty', 'logit_bias',
  'logprobs', 'top_logprobs', 'max_completion_tokens', 'max_tokens', 'n', 'presence_penalty', 'response_format', 'seed', 'stop',
  'stream', 'stream_options', 'temperature', 'top_p', 'tools', 'tool_choice', 'parallel_tool_calls', 'user', 'reasoning_effort',
  'thinking', 'thinking_token_budget', 'prompt_ignore_length', 'best_of', 'use_beam_search', 'top_k', 'top_p_min', 'min_p',
  'repetition_penalty', 'length_penalty', 'early_stopping', 'stop_token_ids', 'include_stop_str_in_output', 'ignore_eos',
  'min_tokens', 'skip_special_tokens', 'spaces_between_special_tokens', 'truncate_prompt_tokens', 'lora_request', 'echo',
  'add_generation_prompt', 'add_special_tokens', 'documents', 'chat_template', 'chat_template_kwargs', 'media_io_kwargs',
  'disaggregated_params', 'conversation_params', 'cache_salt', 'priority', 'agent_hierarchy', 'mm_processor_kwargs']);
const COMPLETION_FIELDS = new Set(['model', 'prompt', 'best_of', 'echo', 'frequency_penalty', 'logit_bias', 'logprobs', 'max_tokens',
  'n', 'presence_penalty', 'seed', 'stop', 'stream', 'stream_options', 'suffix', 'temperature', 'top_p', 'user', 'lora_request',
  'prompt_ignore_length', 'use_beam_search', 'top_k', 'top_p_min', 'min_p', 'repetition_penalty', 'length_penalty', 'early_stopping',
  'stop_token_ids', 'include_stop_str_in_output', 'ignore_eos', 'min_tokens', 'skip_special_tokens', 'spaces_between_special_tokens',
  'truncate_prompt_tokens', 'return_context_logits', 'detokenize', 'thinking_token_budget', 'add_special_tokens', 'response_format',
  'disaggregated_params', 'priority', 'conversation_params']);

/** The engine keeps this many iteration stats for the drains (GenerationService iterStatsBufferSize). */
const ITERATION_STATS_KEPT = 1_000;

const ERROR_TYPES: Record<number, string> = { 400: 'BadRequestError', 404: 'NotFoundError', 429: 'TooManyRequestsError',
  500: 'InternalServerError', 501: 'NotImplementedError', 503: 'ServiceUnavailableError' };

/** TensorRT-LLM's IterationStats timestamp: "%m-%d-%Y %H:%M:%S" in local time (unverified format). */
function iterTimestamp(wallMs: number): string {
  const d = new Date(wallMs);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getMonth() + 1)}-${p(d.getDate())}-${d.getFullYear()} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** tensorrt_llm/_utils.py KVCacheEventSerializer shapes. */
function kvEventJson(event: KvCacheEvent, windowSize: number): Record<string, unknown> {
  let data: Record<string, unknown> = {};
  switch (event.type) {
    case 'created':
      data = { type: 'created', num_blocks_per_cache_level: [event.numBlocks, 0] };
      break;
    case 'stored':
      data = { type: 'stored', parent_hash: event.parentHash, blocks: event.blocks.map((b) => ({
        type: 'stored_block', block_hash: b.blockHash,
        tokens: b.tokens.map((t) => ({ type: 'unique_token', token_id: t, token_extra_id: 0 })),
        cache_level: 0, priority: 35,
      })) };
      break;
    case 'removed':
      data = { type: 'removed', block_hashes: event.blockHashes };
      break;
    case 'updated':
      data = { type: 'updated' };
      break;
    case 'cleared':
      // TensorRT-LLM has no "all cleared" event; the engine model's reset is passed through as is.
      data = { type: 'cleared' };
  }
  return { event_id: event.eventId, window_size: windowSize, data };
}

export function createTrtllmServeFace(ctx: FaceContext): Face {
  const wallAtStart = Date.now();
  const modelAtStart = ctx.engine.nowMs();
  const gpuMemUsage = Math.round(ctx.profile.kvCapacity.kvBytes);
  const iterationStats = new IterationStatsQueue(ctx.engine, ITERATION_STATS_KEPT);
  const prometheus = ctx.options.returnPerfMetrics ? createTrtllmPrometheus(gpuMemUsage) : undefined;
  if (prometheus !== undefined) {
    // The collector loop wakes on each finished request and drains the queue: let the engine's
    // stats of the request's last iteration land first.
    ctx.generation.onCompleted((done) => setImmediate(() => prometheus.requestFinished(done, iterationStats.drainNewest())));
  }

  // openai_server.py create_error_response: flat ErrorResponse, err_type "BadRequestError" by default.
  const sendError = (reply: FastifyReply, status: number, message: string, type?: string): FastifyReply => reply.code(status)
    .type('application/json').send(pyJson({ object: 'error', message, type: type ?? ERROR_TYPES[status] ?? 'BadRequestError', param: null, code: status }));

  // validation_exception_handler: {"error": str(exc)}, status 400 — a string, not an error object.
  const sendValidation = (reply: FastifyReply, text: string): FastifyReply =>
    reply.code(400).type('application/json').send(pyJson({ error: text }));

  const fieldErrors = (reply: FastifyReply, err: unknown): FastifyReply => {
    if (err instanceof BodyParseError) return face.sendBodyError(reply, err);
    if (err instanceof FieldError) return sendValidation(reply, validationText(err.field, err.message));
    throw err;
  };

  const refuse = (reply: FastifyReply, err: GenerationError): FastifyReply => {
    if (err.kind !== 'context-length') return sendError(reply, err.status, err.message);
    const { promptTokens = 0, maxTokens = 0, maxModelLen = 0 } = err.details;
    // llmapi/llm.py _check_arguments (wording unverified); caught by openai_chat as a 400.
    return sendError(reply, 400, `The sum of prompt length (${promptTokens.toFixed(1)}), query length (0) and max_tokens (${maxTokens}) should not exceed max_seq_len (${maxModelLen})`);
  };

  const readRequest = (o: Body, fields: Set<string>): { generation: GenerationRequest; model: string; stream: boolean; usage: StreamUsage } => {
    for (const key of Object.keys(o)) if (!fields.has(key)) throw new FieldError(key, 'Extra inputs are not permitted', o[key]);
    const model = optString(o, 'model');
    if (model === undefined) throw new FieldError('model', 'Field required');
    const stream = optBool(o, 'stream') ?? false;
    const options = optRecord(o, 'stream_options');
    if (options !== undefined && !stream) throw new FieldError('stream_options', 'Value error, Stream options can only be defined when stream is true.');
    const generation: GenerationRequest = { ...readCommonSampling(o, 'min_tokens'), contextPolicy: 'reject' };
    const priority = optNumber(o, 'priority');
    if (priority !== undefined) {
      if (priority < 0 || priority > 1) throw new FieldError('priority', 'Input should be less than or equal to 1', priority);
      generation.priority = priority;
    }
    return { generation, model, stream, usage: trtllmStreamUsage(options) };
  };

  const healthGenerate = async (): Promise<boolean> => {
    try {
      await ctx.faults.waitUntilStarted();
      const stream = await ctx.generation.start({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 1 });
      for await (const chunk of stream) void chunk;
      return stream.finish?.reason === 'length' || stream.finish?.reason === 'stop';
    } catch {
      return false;
    }
  };

  const face: Face = {
    sendError: (reply, status, message) => sendError(reply, status, message),
    engineFailure: {
      // chat_stream_generator logs the exception and re-raises it: the server drops the stream
      // without [DONE] or an error frame.
      streamed: () => null,
      // openai_chat's `except Exception as e: return self.create_error_response(str(e))`: a 400
      // BadRequestError whatever failed (the executor's message is the simulator's).
      answer: (reply) => sendError(reply, 400, 'Simulated engine failure: the executor failed the request'),
    },
    sendBodyError: (reply, err) => sendValidation(reply, err.kind === 'media-type'
      ? validationText('content-type', "Unsupported Media Type: Only 'application/json' is allowed")
      : validationText('0', 'JSON decode error', 'json_invalid')),
    register(app: FastifyInstance) {
      app.get('/health', async (_req, reply) => (ctx.faults.healthy() ? reply.code(200).send()
        : reply.code(503).send('LLM is unavailable. Please check the server logs for more details.')));
      app.get('/health_generate', async (_req, reply) => ((await healthGenerate())
        ? reply.code(200).send('Generation health check OK') : reply.code(500).send('Generation health check failed')));
      app.get('/v1/models', async (_req, reply) => reply.type('application/json').send(pyJson({
        object: 'list', data: [{ id: ctx.servedModel, object: 'model', created: ctx.startedAt, owned_by: 'tensorrt_llm' }],
      })));

      // GET /metrics: the iteration stats queued since the previous call; every call drains them.
      app.get('/metrics', async (_req, reply) => {
        const stats = iterationStats.drainAll().map((s) => ({
          iter: s.iter, iterLatencyMS: s.iterLatencyMS, numActiveRequests: s.numActiveRequests, numQueuedRequests: s.numQueuedRequests,
          numCompletedRequests: s.numCompletedRequests, maxNumActiveRequests: s.maxNumActiveRequests, gpuMemUsage,
          timestamp: iterTimestamp(wallAtStart + (s.timestampMs - modelAtStart) / ctx.options.timeScale),
          kvCacheStats: s.kvCacheStats, inflightBatchingStats: s.inflightBatchingStats,
        }));
        return reply.type('application/json').send(pyJson(stats));
      });

      // With return_perf_metrics: the Prometheus text, mounted at /prometheus/metrics and below it.
      if (prometheus !== undefined) {
        const { registry } = prometheus;
        const serve = async (_req: unknown, reply: FastifyReply): Promise<FastifyReply> =>
          reply.type(registry.contentType).send(await registry.metrics());
        app.get('/prometheus/metrics', serve);
        app.get('/prometheus/metrics/*', serve);
      }

      // POST /kv_cache_events drains too. Hashes are u64: written as exact JSON integers, as Python does.
      app.post('/kv_cache_events', async (_req, reply) => {
        const window = ctx.profile.engineProfile.maxModelLen;
        return reply.type('application/json').send(pyJson(ctx.engine.getLatestKvEvents().map((e) => kvEventJson(e, window))));
      });

      app.post('/v1/chat/completions', async (request, reply) => {
        let parsed: ReturnType<typeof readRequest>;
        try {
          const o = readBody(request.body);
          parsed = readRequest(o, CHAT_FIELDS);
          parsed.generation.messages = readMessages(o);
        } catch (err) {
          return fieldErrors(reply, err);
        }
        // openai_chat checks no model name: any name is served and echoed back.
        const format = trtllmChatFormat(parsed);
        await serveGeneration(ctx, face, { request, reply, generation: parsed.generation, format, refuse });
        return reply;
      });

      app.post('/v1/completions', async (request, reply) => {
        let parsed: ReturnType<typeof readRequest>;
        try {
          const o = readBody(request.body);
          parsed = readRequest(o, COMPLETION_FIELDS);
          if (typeof o.suffix === 'string' && o.suffix !== '') throw new FieldError('suffix', 'Value error, suffix is not supported');
          Object.assign(parsed.generation, readPrompt(o));
        } catch (err) {
          return fieldErrors(reply, err);
        }
        const format = trtllmCompletionFormat(parsed);
        await serveGeneration(ctx, face, { request, reply, generation: parsed.generation, format, refuse });
        return reply;
      });
    },
  };
  return face;
}
