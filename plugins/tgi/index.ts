/**
 * `type: tgi` — Text Generation Inference's native API, for deployments that do not expose its
 * OpenAI-compatible Messages API: `POST /generate` and `POST /generate_stream` (SSE), health at
 * `GET /health`, models from `GET /v1/models`, load from `GET /metrics`. Shapes as
 * huggingface/text-generation-inference v3.3.7 writes them (router/src/lib.rs GenerateRequest,
 * GenerateParameters, GenerateResponse, Details, StreamResponse, StreamDetails, FinishReason,
 * ErrorResponse; router/src/server.rs generate_stream_internal, the InferError → status map):
 *
 * - the answer's token count is the engine's (`details.generated_tokens`); the prompt's is the
 *   model's tokenizer's on the rendered prompt (TGI's non-streamed details carry no input length);
 * - `finish_reason` `length` | `eos_token` | `stop_sequence` → OpenAI's length | stop;
 * - a refused request on `/generate_stream` is an error *event* after a 200
 *   (`data: {"error", "error_type"}`), answered here with the status `/generate` would have used;
 * - TGI's own statuses are mapped for the gateway: 422 validation → 400, 424 generation → 500.
 *
 * TGI takes at most `max_stop_sequences` (4 by default) stop strings: the request's go first, and
 * every stop string is applied here too, so none is lost in the output.
 */
import { stringErrorShape } from '../http/errors.js';
import { metricsPage } from '../http/load.js';
import { defineTextEngine, eventObject, type EngineOutput, type TextProtocol } from '../text-engine/http-text-engine.js';
import { isRecord } from '../text-engine/prompt/types.js';
import type { EngineEnd } from '../text-engine/respond.js';
import { readTgiLoad } from './load.js';

/** TGI's `--max-stop-sequences` default (launcher/src/main.rs). */
const MAX_STOP_SEQUENCES = 4;

/** server.rs: InferError → status, by the error_type each writes. */
const STATUS_OF_ERROR_TYPE: Record<string, number> = { validation: 422, overloaded: 429, generation: 424, template_error: 422, tool_error: 422 };

function endOf(details: unknown): { end?: EngineEnd; completionTokens?: number } {
  if (!isRecord(details)) return {};
  const reason = details.finish_reason;
  const end: EngineEnd | undefined = reason === 'length' ? 'length' : reason === 'eos_token' || reason === 'stop_sequence' ? 'stop' : undefined;
  const tokens = details.generated_tokens;
  return { end, completionTokens: typeof tokens === 'number' ? tokens : undefined };
}

const tgiProtocol: TextProtocol = {
  streams: true,

  replyStatus(engineStatus: number): number {
    // 422: the request (as this plugin wrote it) is invalid — the client's 400. 424: the model
    // failed while generating — the engine's fault, worth another replica.
    if (engineStatus === 422) return 400;
    if (engineStatus === 424) return 500;
    return engineStatus;
  },

  request(req) {
    const { params } = req;
    const s = params.sampling;
    const parameters: Record<string, unknown> = { details: true, return_full_text: false, stop: req.stop.slice(0, MAX_STOP_SEQUENCES) };
    if (params.maxTokens !== undefined) parameters.max_new_tokens = params.maxTokens;
    // TGI's temperature must be > 0 and top_p < 1: OpenAI's temperature 0 is greedy decoding.
    if (s.temperature !== undefined && s.temperature > 0) {
      parameters.temperature = s.temperature;
      parameters.do_sample = true;
    }
    if (s.topP !== undefined && s.topP < 1) parameters.top_p = s.topP;
    if (s.topK !== undefined) parameters.top_k = s.topK;
    if (s.seed !== undefined) parameters.seed = s.seed;
    if (s.repetitionPenalty !== undefined) parameters.repetition_penalty = s.repetitionPenalty;
    if (s.frequencyPenalty !== undefined) parameters.frequency_penalty = s.frequencyPenalty;
    return { path: req.stream ? '/generate_stream' : '/generate', body: { inputs: req.prompt, parameters } };
  },

  readAnswer(body): EngineOutput {
    const o = JSON.parse(body) as unknown;
    if (!isRecord(o)) return { text: '' };
    const { end, completionTokens } = endOf(o.details);
    return { text: typeof o.generated_text === 'string' ? o.generated_text : '', end, counts: completionTokens === undefined ? undefined : { completionTokens } };
  },

  readEvent(data): EngineOutput | undefined {
    const o = eventObject(data);
    if (!o) return undefined;
    if (typeof o.error === 'string') {
      const type = typeof o.error_type === 'string' ? o.error_type : '';
      return { text: '', error: { status: STATUS_OF_ERROR_TYPE[type] ?? 500, body: data } };
    }
    const token = isRecord(o.token) ? o.token : {};
    // Special tokens (the end-of-sequence token of the last event) are not text.
    const text = token.special === true || typeof token.text !== 'string' ? '' : token.text;
    const { end, completionTokens } = endOf(o.details);
    // The last event carries generated_text (and details when asked): the end, reason or not.
    return { text, end, last: typeof o.generated_text === 'string', counts: completionTokens === undefined ? undefined : { completionTokens } };
  },
};

export default defineTextEngine({
  type: 'tgi',
  engine: 'tgi',
  defaults: { healthPath: '/health' },
  load: metricsPage('/metrics', readTgiLoad),
  // ErrorResponse {"error", "error_type"}: every error TGI writes, before a stream and inside it.
  errorShapes: [stringErrorShape],
  protocol: () => tgiProtocol,
});
