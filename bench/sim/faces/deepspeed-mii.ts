/**
 * The DeepSpeed-MII face: MII's RESTful gateway as deepspeedai/DeepSpeed-MII v0.3.3 serves it
 * (mii/grpc_related/restful_gateway.py: Flask and Flask-RESTful; mii/batching/data_classes.py
 * Response; mii/config.py GenerateParamsConfig; mii/constants.py GenerationFinishReason):
 *
 * - `POST /mii/{deployment_name}` (the served model name) with the client's generate keywords:
 *   `prompts` (a string or a list; one prompt per request here), `max_length` (prompt + output,
 *   default 1024), `max_new_tokens` (default max_length − prompt), `min_new_tokens`, `ignore_eos`,
 *   `do_sample`, `top_p`, `top_k`, `temperature`, `stop`, `return_full_text`, `stream` (the gateway
 *   cannot stream). Answer: a JSON list of `{generated_text, prompt_length, generated_length,
 *   finish_reason}`.
 * - Non-streamed only: the gateway returns `client.generate(**data)`'s whole list.
 * - Flask-RESTful answers any failure (an unknown keyword: GenerateParamsConfig forbids extras)
 *   with 500 `{"message": "Internal Server Error"}`; an unknown path is its 404 message.
 * - `GET /healthz` answers "ok".
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { GenerationRequest } from '../generation.js';
import { BodyParseError, FieldError, optBool, optInt, optNumber, optStopList, pyJson, readBody } from './common.js';
import type { Body, Face, FaceContext } from './common.js';
import { serveGeneration, type GenerationFormat } from './serve.js';

// GenerateParamsConfig's fields, and the client's own `prompts` (extra="forbid" refuses the rest).
const KEYWORDS = new Set(['prompts', 'max_length', 'max_new_tokens', 'min_new_tokens', 'stream', 'ignore_eos', 'return_full_text',
  'do_sample', 'top_p', 'top_k', 'temperature', 'stop']);
const DEFAULT_MAX_LENGTH = 1024;
const NOT_FOUND = 'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.';

export function createDeepspeedMiiFace(ctx: FaceContext): Face {
  const sendError = (reply: FastifyReply, status: number, message: string): FastifyReply =>
    reply.code(status).type('application/json').send(`${pyJson({ message }, 'python')}\n`);
  // Flask-RESTful hides the exception: every failure in the handler is this 500.
  const internalError = (reply: FastifyReply): FastifyReply => sendError(reply, 500, 'Internal Server Error');

  const readRequest = async (o: Body): Promise<{ generation: GenerationRequest; prompt: string; fullText: boolean }> => {
    for (const key of Object.keys(o)) if (!KEYWORDS.has(key)) throw new FieldError(key, 'Extra inputs are not permitted');
    let prompts = o.prompts;
    if (typeof prompts === 'string') prompts = [prompts];
    if (!Array.isArray(prompts) || prompts.length !== 1 || typeof prompts[0] !== 'string') {
      throw new FieldError('prompts', 'the simulated deployment takes one prompt per request');
    }
    const prompt = prompts[0];
    const ids = await ctx.pool.encode(prompt, { addSpecialTokens: true });
    const maxLength = optInt(o, 'max_length', 1) ?? DEFAULT_MAX_LENGTH;
    // check_prompt_length: an assertion, so a 500 like everything else.
    if (maxLength <= ids.length) throw new FieldError('max_length', `max_length (${maxLength}) must be greater than prompt_length (${ids.length})`);
    const maxNew = optInt(o, 'max_new_tokens', 1) ?? maxLength - ids.length;
    if (optBool(o, 'stream') === true) throw new FieldError('stream', 'the RESTful gateway does not stream');
    for (const k of ['top_p', 'temperature']) {
      const v = optNumber(o, k);
      if (v !== undefined && v <= 0) throw new FieldError(k, 'Input should be greater than 0');
    }
    const topK = optInt(o, 'top_k');
    if (topK !== undefined && topK <= 0) throw new FieldError('top_k', 'Input should be greater than 0');
    optBool(o, 'do_sample');
    const generation: GenerationRequest = {
      promptTokenIds: Array.from(ids), maxTokens: Math.min(maxNew, maxLength - ids.length), contextPolicy: 'clamp', includeStopStrInOutput: false,
    };
    const stop = optStopList(o);
    if (stop !== undefined && stop.length > 0) generation.stop = stop;
    const minNew = optInt(o, 'min_new_tokens', 0);
    if (minNew !== undefined) generation.minTokens = minNew;
    const ignoreEos = optBool(o, 'ignore_eos');
    if (ignoreEos !== undefined) generation.ignoreEos = ignoreEos;
    return { generation, prompt, fullText: optBool(o, 'return_full_text') ?? false };
  };

  const format = (prompt: string, fullText: boolean): GenerationFormat => ({
    stream: false,
    head: () => [],
    chunk: () => [],
    tail: () => [],
    // jsonify([r.to_msg_dict()]): Flask's compact JSON with sorted keys, and a newline.
    body: (text, s) => `${JSON.stringify([{
      finish_reason: s.finish?.reason === 'length' ? 'length' : 'stop',
      generated_length: s.completionTokens,
      generated_text: fullText ? prompt + text : text,
      prompt_length: s.promptTokens,
    }])}\n`,
  });

  const face: Face = {
    sendError,
    engineFailure: { streamed: () => null, answer: internalError },
    // request.get_json(): 400 for bytes that are not JSON, 415 for another content type (Flask ≥ 2.3).
    sendBodyError: (reply, err) => (err.kind === 'media-type'
      ? sendError(reply, 415, "Did not attempt to load JSON data because the request Content-Type was not 'application/json'.")
      : sendError(reply, 400, 'The browser (or proxy) sent a request that this server could not understand.')),
    register(app: FastifyInstance) {
      app.get('/healthz', async (_req, reply) => (ctx.faults.healthy()
        ? reply.type('text/html; charset=utf-8').send('ok') : sendError(reply, 503, 'Service Unavailable')));
      app.post('/mii/:deployment', async (request, reply) => {
        const { deployment } = request.params as { deployment: string };
        if (deployment !== ctx.servedModel) return sendError(reply, 404, NOT_FOUND);
        let parsed: Awaited<ReturnType<typeof readRequest>>;
        try {
          parsed = await readRequest(readBody(request.body));
        } catch (err) {
          if (err instanceof BodyParseError) return face.sendBodyError(reply, err);
          if (err instanceof FieldError) return internalError(reply);
          throw err;
        }
        await serveGeneration(ctx, face, { request, reply, generation: parsed.generation, format: format(parsed.prompt, parsed.fullText), refuse: internalError });
        return reply;
      });
    },
  };
  return face;
}
