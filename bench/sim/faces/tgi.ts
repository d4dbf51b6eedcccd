/**
 * The TGI face: Text Generation Inference's native API as huggingface/text-generation-inference
 * v3.3.7 writes it (router/src/lib.rs GenerateRequest, GenerateParameters, GenerateResponse,
 * Details, StreamResponse, StreamDetails, FinishReason, Info, ErrorResponse; router/src/server.rs
 * generate, generate_stream_internal, health, the InferError → status map; router/src/validation.rs
 * for the parameter checks):
 *
 * - `POST /generate`: `{"generated_text", "details"?}`; `POST /generate_stream`: one SSE event per
 *   token `{"index", "token": {id, text, logprob, special}, "generated_text": null, "details": null}`,
 *   the last with the whole text and, when asked, `{finish_reason, generated_tokens, seed,
 *   input_length}`. No [DONE].
 * - A refused request on /generate_stream is a 200 whose only event is the error.
 * - Errors `{"error", "error_type"}`: 422 validation, 424 generation, 429 overloaded.
 * - Stop sequences stay in the text (finish_reason stop_sequence).
 * - `GET /health`, `GET /info`, `GET /v1/models`, Prometheus `GET /metrics` (queue and batch size).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerationChunk, GenerationError, GenerationRequest, GenerationStream } from '../generation.js';
import { sseData } from '../sse.js';
import { BodyParseError, FieldError, isRecord, optBool, optInt, optNumber, pyJson, readBody } from './common.js';
import type { Body, Face, FaceContext } from './common.js';
import { serveGeneration, type GenerationFormat } from './serve.js';

/** launcher/src/main.rs defaults. */
const MAX_STOP_SEQUENCES = 4;
const MAX_CONCURRENT_REQUESTS = 128;

const ERROR_TYPE_OF_STATUS: Record<number, string> = { 422: 'validation', 424: 'generation', 429: 'overloaded', 500: 'incomplete_generation' };

/** A validation error, with TGI's wording (validation.rs ValidationError, prefixed by InferError's). */
class TgiValidation extends Error {}

function finishReason(s: GenerationStream): string {
  const f = s.finish;
  if (f?.reason === 'length') return 'length';
  return typeof f?.stopReason === 'string' ? 'stop_sequence' : 'eos_token';
}

export function createTgiFace(ctx: FaceContext): Face {
  const sendError = (reply: FastifyReply, status: number, message: string, type?: string): FastifyReply =>
    reply.code(status).type('application/json').send(pyJson({ error: message, error_type: type ?? ERROR_TYPE_OF_STATUS[status] ?? 'generation' }));
  const validation = (message: string): string => `Input validation error: ${message}`;

  const readParameters = (o: Body): { generation: GenerationRequest; details: boolean; seed: number } => {
    const inputs = o.inputs;
    if (typeof inputs !== 'string') throw new FieldError('inputs', 'missing field `inputs`');
    if (inputs === '') throw new TgiValidation('`inputs` cannot be empty');
    const p = o.parameters === undefined || o.parameters === null ? {} : o.parameters;
    if (!isRecord(p)) throw new FieldError('parameters', 'invalid type: expected struct GenerateParameters');
    const temperature = optNumber(p, 'temperature');
    if (temperature !== undefined && temperature <= 0) throw new TgiValidation('`temperature` must be strictly positive');
    const topP = optNumber(p, 'top_p');
    if (topP !== undefined && (topP <= 0 || topP >= 1)) throw new TgiValidation('`top_p` must be > 0.0 and < 1.0');
    const topK = optInt(p, 'top_k');
    if (topK !== undefined && topK <= 0) throw new TgiValidation('`top_k` must be strictly positive');
    const penalty = optNumber(p, 'repetition_penalty');
    if (penalty !== undefined && penalty <= 0) throw new TgiValidation('`repetition_penalty` must be strictly positive');
    const maxNew = optInt(p, 'max_new_tokens');
    if (maxNew !== undefined && maxNew <= 0) throw new TgiValidation('`max_new_tokens` must be strictly positive');
    const stop = p.stop ?? [];
    if (!Array.isArray(stop) || !stop.every((s) => typeof s === 'string')) throw new FieldError('stop', 'invalid type: expected a sequence of strings');
    if (stop.length > MAX_STOP_SEQUENCES) throw new TgiValidation(`\`stop\` supports up to ${MAX_STOP_SEQUENCES} stop sequences. Given: ${stop.length}`);
    const seed = optInt(p, 'seed', 0) ?? Math.floor(Math.random() * 2 ** 32);
    const generation: GenerationRequest = { prompt: inputs, addSpecialTokens: true, contextPolicy: 'reject', includeStopStrInOutput: true, seed };
    if (maxNew !== undefined) generation.maxTokens = maxNew;
    if (stop.length > 0) generation.stop = stop as string[];
    return { generation, details: optBool(p, 'details') ?? false, seed };
  };

  const token = (c: GenerationChunk): Record<string, unknown> => {
    const id = c.tokenIds[c.tokenIds.length - 1] ?? 0;
    return { id, text: c.text, logprob: -0.25, special: ctx.pool.tokenizer.specialTokenIds.has(id) };
  };

  const format = (stream: boolean, details: boolean, seed: number): GenerationFormat => {
    let index = 0;
    let text = '';
    return {
      stream,
      head: () => [],
      chunk: (c, s) => {
        if (c.text === '' && c.finish === undefined) return [];
        index++;
        text += c.text;
        const last = c.finish !== undefined;
        return [sseData(pyJson({
          index, token: token(c), generated_text: last ? text : null,
          details: last && details ? { finish_reason: finishReason(s), generated_tokens: s.completionTokens, seed, input_length: s.promptTokens } : null,
        }))];
      },
      tail: () => [],
      body: (whole, s, ids) => pyJson({
        generated_text: whole,
        details: details ? {
          finish_reason: finishReason(s), generated_tokens: s.completionTokens, seed, prefill: [],
          tokens: ids.map((id) => ({ id, text: ctx.pool.tokenizer.decode([id]), logprob: -0.25, special: ctx.pool.tokenizer.specialTokenIds.has(id) })),
        } : undefined,
      }),
    };
  };

  const generate = async (request: FastifyRequest, reply: FastifyReply, stream: boolean): Promise<FastifyReply> => {
    let parsed: ReturnType<typeof readParameters>;
    // A refused /generate_stream request is a 200 stream of one error event (server.rs generate_stream).
    const refuseWith = (status: number, message: string): FastifyReply => (stream
      ? reply.code(200).type('text/event-stream').send(sseData(pyJson({ error: message, error_type: ERROR_TYPE_OF_STATUS[status] ?? 'generation' })))
      : sendError(reply, status, message));
    try {
      parsed = readParameters(readBody(request.body));
    } catch (err) {
      if (err instanceof BodyParseError) return face.sendBodyError(reply, err);
      // serde's rejection of the body: axum's 422, plain text.
      if (err instanceof FieldError) return reply.code(422).type('text/plain; charset=utf-8').send(`Failed to deserialize the JSON body into the target type: ${err.field}: ${err.message}`);
      if (err instanceof TgiValidation) return refuseWith(422, validation(err.message));
      throw err;
    }
    const refuse = (_reply: FastifyReply, err: GenerationError): FastifyReply => {
      if (err.kind === 'overloaded') return refuseWith(429, 'Model is overloaded');
      if (err.kind !== 'context-length') return refuseWith(422, validation(err.message));
      const { promptTokens = 0, maxTokens = 0, maxModelLen = 0 } = err.details;
      return refuseWith(422, validation(`\`inputs\` tokens + \`max_new_tokens\` must be <= ${maxModelLen}. Given: ${promptTokens} \`inputs\` tokens and ${maxTokens} \`max_new_tokens\``));
    };
    await serveGeneration(ctx, face, { request, reply, generation: parsed.generation, format: format(stream, parsed.details, parsed.seed), refuse });
    return reply;
  };

  const face: Face = {
    sendError: (reply, status, message) => sendError(reply, status, message),
    engineFailure: {
      streamed: () => [sseData(pyJson({ error: 'Request failed during generation: Simulated engine failure', error_type: 'generation' }))],
      answer: (reply) => sendError(reply, 424, 'Request failed during generation: Simulated engine failure', 'generation'),
    },
    // axum's Json extractor: 415 without a JSON content type, 400 for bytes that are not JSON (plain text).
    sendBodyError: (reply, err) => (err.kind === 'media-type'
      ? reply.code(415).type('text/plain; charset=utf-8').send('Expected request with `Content-Type: application/json`')
      : reply.code(400).type('text/plain; charset=utf-8').send(`Failed to parse the request body as JSON: ${err.message}`)),
    register(app: FastifyInstance) {
      app.get('/health', async (_req, reply) => (ctx.faults.healthy() ? reply.code(200).send()
        : sendError(reply, 503, 'unhealthy', 'healthcheck')));
      app.get('/info', async (_req, reply) => reply.type('application/json').send(pyJson({
        model_id: ctx.servedModel, model_sha: null, model_pipeline_tag: 'text-generation', max_concurrent_requests: MAX_CONCURRENT_REQUESTS,
        max_best_of: 2, max_stop_sequences: MAX_STOP_SEQUENCES, max_input_tokens: ctx.profile.engineProfile.maxModelLen - 1,
        max_total_tokens: ctx.profile.engineProfile.maxModelLen, validation_workers: 2, max_client_batch_size: 4,
        router: 'text-generation-router', version: '3.3.7', sha: null, docker_label: null,
      })));
      app.get('/v1/models', async (_req, reply) => reply.type('application/json').send(pyJson({
        // openai_get_model_info: created is 0 (a TODO upstream), owned_by the model id.
        object: 'list', data: [{ id: ctx.servedModel, object: 'model', created: 0, owned_by: ctx.servedModel }],
      })));
      app.get('/metrics', async (_req, reply) => {
        const s = ctx.engine.snapshot();
        return reply.type('text/plain; charset=utf-8').send(['# TYPE tgi_queue_size gauge', `tgi_queue_size ${s.waiting}`,
          '# TYPE tgi_batch_current_size gauge', `tgi_batch_current_size ${s.running}`, ''].join('\n'));
      });
      app.post('/generate', (request, reply) => generate(request, reply, false));
      app.post('/generate_stream', (request, reply) => generate(request, reply, true));
    },
  };
  return face;
}
