/**
 * The vLLM face: OpenAI routes, `/tokenize`, `/health`, Prometheus `/metrics`, as vLLM's API
 * server (vllm/entrypoints/openai/) writes them.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { GenerationError, GenerationRequest } from '../generation.js';
import { SSE_DONE, sseData } from '../sse.js';
import { BodyParseError, FieldError, hexId, optBool, optInt, optRecord, optString, pyJson, readBody, readCommonSampling,
  readMessages, readPrompt, validationText } from './common.js';
import type { Body, Face, FaceContext } from './common.js';
import { serveGeneration } from './serve.js';
import { vllmRelease } from './releases.js';
import { streamUsage, vllmChatFormat, vllmCompletionFormat } from './vllm-format.js';
import type { StreamUsage, VllmFormatOptions } from './vllm-format.js';
import { createVllmMetrics } from './vllm-metrics.js';

// vllm/entrypoints/openai/serving_engine.py create_error_response: err_type names the error class.
const ERROR_TYPES: Record<number, string> = {
  400: 'BadRequestError', 401: 'UnauthorizedError', 404: 'NotFoundError', 429: 'TooManyRequestsError',
  500: 'InternalServerError', 503: 'ServiceUnavailableError',
};

export function createVllmFace(ctx: FaceContext): Face {
  const release = vllmRelease(ctx.options.release);
  const metrics = createVllmMetrics(ctx, release);
  ctx.generation.onCompleted((done) => metrics.observe(done));

  // vLLM ≥0.10: nested {"error": {message, type, param, code}}, code = the HTTP status.
  const sendError = (reply: FastifyReply, status: number, message: string, type?: string, param: string | null = null): FastifyReply =>
    reply.code(status).type('application/json').send(pyJson({ error: { message, type: type ?? ERROR_TYPES[status] ?? 'BadRequestError', param, code: status } }));

  // api_server.py validation_exception_handler: FastAPI's RequestValidationError becomes 400, type "Bad Request".
  const sendValidation = (reply: FastifyReply, loc: string, msg: string, kind?: string): FastifyReply =>
    sendError(reply, 400, validationText(loc, msg, kind), 'Bad Request');

  const fieldErrors = (reply: FastifyReply, err: unknown): FastifyReply => {
    if (err instanceof BodyParseError) return face.sendBodyError(reply, err);
    if (err instanceof FieldError) return sendValidation(reply, err.field, err.message);
    throw err;
  };

  const checkModel = (reply: FastifyReply, o: Body): string | undefined => {
    const model = optString(o, 'model') ?? ctx.servedModel;
    if (model === ctx.servedModel) return model;
    // serving_engine.py _check_model
    sendError(reply, 404, `The model \`${model}\` does not exist.`, 'NotFoundError', release.notFoundParam);
    return undefined;
  };

  const refuse = (reply: FastifyReply, err: GenerationError): FastifyReply => {
    if (err.kind !== 'context-length') return sendError(reply, err.status, err.message);
    const { promptTokens = 0, maxTokens = 0, maxModelLen = 0 } = err.details;
    // serving_engine.py _validate_input
    const message = promptTokens >= maxModelLen
      ? `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${promptTokens} input tokens. Please reduce the length of the input messages.`
      : `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`;
    return sendError(reply, 400, message);
  };

  /** Stream options, and vLLM's rule that they need stream=true (protocol.py check_stream_options). */
  const readStreaming = (o: Body): { stream: boolean; usage: StreamUsage } => {
    const stream = optBool(o, 'stream') ?? false;
    const options = optRecord(o, 'stream_options');
    if (options !== undefined && !stream) throw new FieldError('stream_options', 'Value error, Stream options can only be defined when `stream=True`.');
    if (o.top_logprobs !== undefined && o.top_logprobs !== null && !o.logprobs) {
      throw new FieldError('top_logprobs', 'Value error, when using `top_logprobs`, `logprobs` must be set to true.');
    }
    if (o.prompt_logprobs !== undefined && o.prompt_logprobs !== null && stream) {
      throw new FieldError('prompt_logprobs', 'Value error, `prompt_logprobs` are not available when `stream=True`.');
    }
    return { stream, usage: stream ? streamUsage(options, ctx.options.enableForceIncludeUsage, release) : { final: false, continuous: false } };
  };

  const sampling = (o: Body): GenerationRequest => {
    const req = readCommonSampling(o, 'min_tokens');
    // vLLM priority: lower runs first (any int); the engine takes 0..1, higher first.
    const priority = optInt(o, 'priority');
    if (priority !== undefined) req.priority = 1 / (1 + Math.exp(priority));
    return { ...req, contextPolicy: 'reject' };
  };

  // create_streaming_error_response: json.dumps(ErrorResponse(...).model_dump()), Python's
  // separators, then the generator still writes [DONE].
  const streamErrorFrame = (): string => sseData(pyJson({ error: { message: release.streamError.message, type: release.streamError.type,
    param: null, code: release.streamError.code } }, 'python'));

  const formatOptions = (id: string, model: string, streaming: { stream: boolean; usage: StreamUsage }): VllmFormatOptions =>
    ({ id, model, ...streaming, promptTokensDetails: ctx.options.enablePromptTokensDetails });

  const face: Face = {
    sendError: (reply, status, message) => sendError(reply, status, message),
    engineFailure: {
      streamed: () => [streamErrorFrame(), SSE_DONE],
      // GenerationError in a whole request: create_error_response with its 500 (0.10: unverified).
      answer: (reply) => sendError(reply, 500, release.streamError.message, 'InternalServerError'),
    },
    sendBodyError: (reply, err) => err.kind === 'media-type'
      ? sendValidation(reply, 'content-type', "Unsupported Media Type: Only 'application/json' is allowed")
      : sendValidation(reply, '0', 'JSON decode error', 'json_invalid'),
    register(app: FastifyInstance) {
      app.get('/health', async (_req, reply) => reply.code(ctx.faults.healthy() ? 200 : 503).send());

      app.get('/v1/models', async (_req, reply) => reply.type('application/json').send(pyJson({
        object: 'list',
        data: [{
          id: ctx.servedModel, object: 'model', created: ctx.startedAt, owned_by: 'vllm', root: ctx.profile.model, parent: null,
          max_model_len: ctx.profile.engineProfile.maxModelLen,
          permission: [{ id: `modelperm-${hexId()}`, object: 'model_permission', created: ctx.startedAt, allow_create_engine: false,
            allow_sampling: true, allow_logprobs: true, allow_search_indices: false, allow_view: true, allow_fine_tuning: false,
            organization: '*', group: null, is_blocking: false }],
        }],
      })));

      app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

      app.post('/tokenize', async (request, reply) => {
        try {
          const o = readBody(request.body);
          let tokens: Int32Array;
          if (o.messages !== undefined) {
            tokens = (await ctx.pool.encodeChat(readMessages(o), {
              addGenerationPrompt: optBool(o, 'add_generation_prompt') ?? true,
              chatTemplateKwargs: optRecord(o, 'chat_template_kwargs'),
            })).ids;
          } else {
            const prompt = optString(o, 'prompt');
            if (prompt === undefined) throw new FieldError('prompt', 'Field required');
            tokens = await ctx.pool.encode(prompt, { addSpecialTokens: optBool(o, 'add_special_tokens') ?? true });
          }
          return await reply.type('application/json').send(pyJson({
            count: tokens.length, max_model_len: ctx.profile.engineProfile.maxModelLen, tokens: Array.from(tokens), token_strs: null,
          }));
        } catch (err) {
          return fieldErrors(reply, err);
        }
      });

      app.post('/v1/chat/completions', async (request, reply) => {
        let generation: GenerationRequest;
        let streaming: { stream: boolean; usage: StreamUsage };
        let o: Body;
        try {
          o = readBody(request.body);
          generation = { ...sampling(o), messages: readMessages(o) };
          streaming = readStreaming(o);
        } catch (err) {
          return fieldErrors(reply, err);
        }
        const model = checkModel(reply, o);
        if (model === undefined) return reply;
        const format = vllmChatFormat(formatOptions(`chatcmpl-${hexId()}`, model, streaming), streamErrorFrame);
        await serveGeneration(ctx, face, { request, reply, generation, format, refuse });
        return reply;
      });

      app.post('/v1/completions', async (request, reply) => {
        let generation: GenerationRequest;
        let streaming: { stream: boolean; usage: StreamUsage };
        let o: Body;
        try {
          o = readBody(request.body);
          // CompletionRequest.max_tokens defaults to 16 (protocol.py).
          generation = { maxTokens: 16, ...sampling(o), ...readPrompt(o) };
          streaming = readStreaming(o);
        } catch (err) {
          return fieldErrors(reply, err);
        }
        const model = checkModel(reply, o);
        if (model === undefined) return reply;
        const format = vllmCompletionFormat(formatOptions(`cmpl-${hexId()}`, model, streaming), streamErrorFrame);
        await serveGeneration(ctx, face, { request, reply, generation, format, refuse });
        return reply;
      });
    },
  };
  return face;
}
