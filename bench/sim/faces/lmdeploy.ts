/**
 * The LMDeploy face (v0.16.0): OpenAI routes, the native `/generate`, JSON `/health`, Prometheus
 * `/metrics`, as lmdeploy/serve/openai/ (api_server.py, errors.py, protocol.py,
 * chat_completions/serving.py, endpoints/) writes them.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { GenerationError, GenerationRequest, GenerationStream } from '../generation.js';
import { SSE_DONE, sseData } from '../sse.js';
import { BodyParseError, FieldError, optBool, optInt, optIntList, optNumber, optRecord, optString, pyJson, readBody,
  readCommonSampling, readMessages, readPrompt, shortUuid, unixNow } from './common.js';
import type { Body, Face, FaceContext } from './common.js';
import { serveGeneration } from './serve.js';
import type { GenerationFormat } from './serve.js';
import { createLmdeployMetrics } from './lmdeploy-metrics.js';

export function createLmdeployFace(ctx: FaceContext): Face {
  const metrics = createLmdeployMetrics(ctx);
  ctx.generation.onCompleted((done) => metrics.observe(done));

  // errors.py create_error_response: the flat ErrorResponse, its type from the status.
  const sendError = (reply: FastifyReply, status: number, message: string): FastifyReply => reply.code(status).type('application/json')
    .send(pyJson(errorPayload(status, message)));

  // api_server.py validation_exception_handler: the first pydantic error as an invalid request,
  // 400 "<loc without 'body'>: <msg>" (v0.15 answered FastAPI's 422 {detail, body}).
  const sendValidation = (reply: FastifyReply, location: string, msg: string): FastifyReply =>
    sendError(reply, 400, location === '' ? msg : `${location}: ${msg}`);

  const fieldErrors = (reply: FastifyReply, err: unknown): FastifyReply => {
    if (err instanceof BodyParseError) return face.sendBodyError(reply, err);
    if (err instanceof FieldError) return sendValidation(reply, err.field, err.message);
    throw err;
  };

  /** api_server.py check_request plus the sampling checks of serving_chat_completion.py. */
  const checkRequest = (reply: FastifyReply, o: Body): string | undefined => {
    const model = optString(o, 'model');
    if (model === undefined) throw new FieldError('model', 'Field required');
    if (model !== ctx.servedModel) {
      sendError(reply, 404, `The model ${pyRepr(model)} does not exist.`);
      return undefined;
    }
    const topP = optNumber(o, 'top_p');
    const topK = optInt(o, 'top_k');
    const temperature = optNumber(o, 'temperature');
    const n = optInt(o, 'n');
    let problem: string | undefined;
    if (n !== undefined && n <= 0) problem = `The n ${n} must be a positive int.`;
    else if (topP !== undefined && !(topP > 0 && topP <= 1)) problem = `The top_p ${topP} must be in (0, 1].`;
    else if (topK !== undefined && topK < 0) problem = `The top_k ${topK} cannot be a negative integer.`;
    else if (temperature !== undefined && !(temperature >= 0 && temperature <= 2)) problem = `The temperature ${temperature} must be in [0, 2]`;
    if (problem === undefined) return model;
    sendError(reply, 400, problem);
    return undefined;
  };

  // TurboMind ends a request at session_len rather than refusing it; only a prompt that leaves no
  // room is an error (async_engine.py preprocess: CONTEXT_LENGTH_EXCEEDED, an invalid request).
  const refuse = (reply: FastifyReply, err: GenerationError): FastifyReply => err.kind === 'context-length'
    ? sendError(reply, 400, `Input length (${err.details.promptTokens ?? 0}) must be smaller than the model context length (${err.details.maxModelLen ?? 0}).`)
    : sendError(reply, err.status, err.message);

  const sampling = (o: Body): GenerationRequest => ({ ...readCommonSampling(o, 'min_new_tokens'), contextPolicy: 'clamp' });

  /**
   * UsageInfo.build: prompt_tokens_details always carries cached_tokens (the chat endpoint);
   * completions sum a bare UsageInfo() by hand, with no details. Whole bodies are model_dump(), so
   * the None fields are there as null; stream chunks drop them (exclude_none).
   */
  const usage = (s: GenerationStream, details: boolean, whole: boolean): Record<string, unknown> => ({
    prompt_tokens: s.promptTokens, total_tokens: s.promptTokens + s.completionTokens, completion_tokens: s.completionTokens,
    prompt_tokens_details: details ? { cached_tokens: s.cachedTokens } : whole ? null : undefined,
    completion_tokens_details: whole ? null : undefined,
  });

  // chat_completions/serving.py and endpoints/completions.py: a RequestError after the 200 is
  // written as its payload under "error" (json.dumps), then [DONE], and nothing else follows.
  const errorFrame = (): string => sseData(pyJson({ error: errorPayload(500, ENGINE_FAILURE) }, 'python'));
  const failed = (s: GenerationStream): boolean => s.finish?.reason === 'error';

  const chatFormat = (model: string, stream: boolean, includeUsage: boolean): GenerationFormat => {
    const id = `chatcmpl-${shortUuid()}`;
    const created = unixNow();
    return {
      stream,
      head: () => [],
      // Chunks are model_dump(exclude_none=True) through json.dumps: no finish_reason key until
      // the end, role "assistant" on every delta, "usage": null on every chunk when usage is on.
      chunk: (c) => {
        if (c.finish?.reason === 'error') return [errorFrame()];
        if (c.finish === undefined && c.text === '' && c.tokenIds.length === 0) return [];
        const choice: Record<string, unknown> = { index: 0, delta: { role: 'assistant', content: c.text } };
        if (c.finish !== undefined) choice.finish_reason = c.finish.reason;
        const chunk: Record<string, unknown> = { id, object: 'chat.completion.chunk', created, model, choices: [choice] };
        if (includeUsage) chunk.usage = null;
        return [sseData(pyJson(chunk, 'python'))];
      },
      // The usage chunk is model_dump_json(exclude_none=True): compact separators.
      tail: (s) => [...(includeUsage && !failed(s)
        ? [sseData(pyJson({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usage(s, true, false) }))] : []), SSE_DONE],
      body: (text, s) => pyJson({
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message: { role: 'assistant', content: text, reasoning_content: null, tool_calls: null }, logprobs: null,
          output_token_logprobs: null, finish_reason: s.finish?.reason ?? 'stop', output_ids: null, routed_experts: null }],
        usage: usage(s, true, true),
        service_tier: null,
      }),
    };
  };

  const completionFormat = (id: string, model: string, stream: boolean, includeUsage: boolean): GenerationFormat => {
    const created = unixNow();
    return {
      stream,
      head: () => [],
      chunk: (c) => {
        if (c.finish?.reason === 'error') return [errorFrame()];
        if (c.finish === undefined && c.text === '' && c.tokenIds.length === 0) return [];
        const choice: Record<string, unknown> = { index: 0, text: c.text };
        if (c.finish !== undefined) choice.finish_reason = c.finish.reason;
        const chunk: Record<string, unknown> = { id, object: 'text_completion', created, model, choices: [choice] };
        if (includeUsage) chunk.usage = null;
        return [sseData(pyJson(chunk, 'python'))];
      },
      tail: (s) => [...(includeUsage && !failed(s)
        ? [sseData(pyJson({ id, object: 'text_completion', created, model, choices: [], usage: usage(s, false, false) }, 'python'))] : []), SSE_DONE],
      body: (text, s) => pyJson({
        id, object: 'text_completion', created, model,
        choices: [{ index: 0, text, logprobs: null, finish_reason: s.finish?.reason ?? 'stop' }],
        usage: usage(s, false, true),
      }),
    };
  };

  /** /generate (serving_generate.py): GenerateReqOutput {text, output_ids, meta_info}. */
  const generateFormat = (stream: boolean): GenerationFormat => {
    const output = (text: string, ids: number[], s: GenerationStream, completionTokens: number, finish: string | null): string => pyJson({
      text, output_ids: ids,
      meta_info: { prompt_tokens: s.promptTokens, completion_tokens: completionTokens, finish_reason: finish === null ? null : { type: finish },
        output_token_logprobs: null, routed_experts: null },
    });
    return {
      stream,
      head: () => [],
      chunk: (c, s) => [sseData(output(c.text, c.tokenIds, s, c.completionTokens, c.finish?.reason ?? null))],
      tail: () => [SSE_DONE],
      body: (text, s, ids) => output(text, ids, s, s.completionTokens, s.finish?.reason ?? null),
    };
  };

  const readStreaming = (o: Body): { stream: boolean; includeUsage: boolean } => {
    const options = optRecord(o, 'stream_options');
    // StreamOptions.include_usage defaults to False in LMDeploy.
    return { stream: optBool(o, 'stream') ?? false, includeUsage: options !== undefined && (optBool(options, 'include_usage') ?? false) };
  };

  const face: Face = {
    sendError,
    engineFailure: {
      streamed: () => [errorFrame(), SSE_DONE],
      // create_request_error_response: the same payload as the whole body.
      answer: (reply) => sendError(reply, 500, ENGINE_FAILURE),
    },
    // validate_json_request raises RequestValidationError([message]): a bare string, no location.
    sendBodyError: (reply, err) => err.kind === 'media-type'
      ? sendValidation(reply, '', "Unsupported Media Type: Only 'application/json' is allowed")
      : sendValidation(reply, '0', 'JSON decode error'),
    register(app: FastifyInstance) {
      // v0.15 health monitor snapshot: {status, message}; 503 unless healthy.
      app.get('/health', async (_req, reply) => {
        const { faults } = ctx;
        const body = faults.isStarting() ? { status: 'initializing', message: 'Engine health monitor is starting.' }
          : faults.config.failHealth ? { status: 'unhealthy', message: 'Engine health probe failed: simulated fault.' }
            : { status: 'healthy', message: 'TurboMind engine is healthy.' };
        return reply.code(body.status === 'healthy' ? 200 : 503).type('application/json').send(pyJson(body));
      });

      app.get('/v1/models', async (_req, reply) => reply.type('application/json').send(pyJson({
        object: 'list',
        data: [{ id: ctx.servedModel, object: 'model', created: ctx.startedAt, owned_by: 'lmdeploy', root: ctx.servedModel, parent: null,
          permission: [{ id: `modelperm-${shortUuid()}`, object: 'model_permission', created: ctx.startedAt, allow_create_engine: false,
            allow_sampling: true, allow_logprobs: true, allow_search_indices: true, allow_view: true, allow_fine_tuning: false,
            organization: '*', group: null, is_blocking: false }] }],
      })));

      app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

      app.post('/v1/chat/completions', async (request, reply) => {
        let generation: GenerationRequest;
        let streaming: { stream: boolean; includeUsage: boolean };
        let model: string | undefined;
        try {
          const o = readBody(request.body);
          generation = { ...sampling(o), messages: readMessages(o) };
          streaming = readStreaming(o);
          model = checkRequest(reply, o);
        } catch (err) {
          return fieldErrors(reply, err);
        }
        if (model === undefined) return reply;
        await serveGeneration(ctx, face, { request, reply, generation, format: chatFormat(model, streaming.stream, streaming.includeUsage), refuse });
        return reply;
      });

      app.post('/v1/completions', async (request, reply) => {
        let generation: GenerationRequest;
        let streaming: { stream: boolean; includeUsage: boolean };
        let model: string | undefined;
        let sessionId: number;
        try {
          const o = readBody(request.body);
          generation = { ...sampling(o), ...readPrompt(o) };
          streaming = readStreaming(o);
          sessionId = optInt(o, 'session_id') ?? -1;
          model = checkRequest(reply, o);
        } catch (err) {
          return fieldErrors(reply, err);
        }
        if (model === undefined) return reply;
        // v0.15 completions_v1: request_id = str(request.session_id), so the id is "-1" by default.
        const format = completionFormat(String(sessionId), model, streaming.stream, streaming.includeUsage);
        await serveGeneration(ctx, face, { request, reply, generation, format, refuse });
        return reply;
      });

      app.post('/generate', async (request, reply) => {
        let generation: GenerationRequest;
        let stream: boolean;
        try {
          const o = readBody(request.body);
          const prompt = optString(o, 'prompt');
          const inputIds = optIntList(o, 'input_ids');
          let problem = '';
          if ((prompt !== undefined) === (inputIds !== undefined)) problem = 'You must specify exactly one of prompt or input_ids';
          else if (prompt === '') problem = 'The prompt must not be an empty string';
          else if (inputIds !== undefined && inputIds.length === 0) problem = 'The input_ids must not be an empty list';
          const maxTokens = optInt(o, 'max_tokens') ?? 128;
          if (problem === '' && maxTokens <= 0) problem = `The max_tokens ${maxTokens} must be a positive integer.`;
          if (problem !== '') return sendError(reply, 400, problem);
          const sampled = readCommonSampling(o, 'min_new_tokens');
          generation = { ...sampled, maxTokens, contextPolicy: 'clamp', addSpecialTokens: true };
          if (prompt !== undefined) generation.prompt = prompt;
          if (inputIds !== undefined) generation.promptTokenIds = inputIds;
          stream = optBool(o, 'stream') ?? false;
        } catch (err) {
          return fieldErrors(reply, err);
        }
        await serveGeneration(ctx, face, { request, reply, generation, format: generateFormat(stream), refuse });
        return reply;
      });
    },
  };
  return face;
}

/** Python's repr() of a str, as f'{x!r}' writes it in LMDeploy's messages. */
function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  return `${quote}${s.replace(/\\/g, '\\\\').replace(new RegExp(quote, 'g'), `\\${quote}`)}${quote}`;
}


/** lmdeploy/serve/core/exceptions.py ERROR_MESSAGES[INTERNAL_ERROR]: what an engine failure says. */
const ENGINE_FAILURE = 'An internal server error occurred.';

/**
 * errors.py: the ErrorResponse payload, its type from the status through the error code
 * (_ERROR_CODE_BY_STATUS, _ERROR_TYPE_BY_CODE): 401 authentication_error, 404 not_found_error,
 * 503 and every other 5xx server_error, anything else invalid_request_error.
 */
function errorPayload(status: number, message: string): Record<string, unknown> {
  const type = status === 401 ? 'authentication_error' : status === 404 ? 'not_found_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { message, type, code: status, param: null, object: 'error' };
}
