/**
 * A text-completion engine reached over HTTP — Triton's generate extension, TGI's native API,
 * DeepSpeed-MII's REST server — behind the OpenAI endpoints. Such an engine takes a prompt and
 * answers text, so the OpenAI side is built here, on the path the in-process engine uses: the
 * prompt from the model's chat template or a built-in styler (prompt-input.ts), the answer shaped
 * by the Responder (stop strings never shown, tool calls parsed, finish reasons, usage). What the
 * engine does not report (Triton reports no token counts) is counted with the model's tokenizer.
 *
 * Health, load reads and the connection pool are HttpBackend's; a plugin supplies its engine's
 * request and answer shapes. An engine error before any output answers with the engine's status
 * and body (parseError reads it into the gateway's catalogue); one after output has gone out ends
 * the stream with the gateway's stream-interrupted error.
 */
import { hasHeldFields, materializeBody } from '../../core/plugin/body.js';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import type { BackendSpec, DispatchCall, DispatchReply, LoadSignals, PluginContext, UpstreamError } from '../../core/plugin/types.js';
import { SseSplitter } from '../../core/server/sse-parser.js';
import { TokenizerPool } from '../../core/tokenizer/pool.js';
import { nestedErrorShape, parseErrorBody, type ErrorShape } from '../openai/errors.js';
import { HttpBackend } from '../openai/http-backend.js';
import type { HttpBackendOptions } from '../openai/options.js';
import { errorReply } from './error-reply.js';
import { readGenerationConfig, type TextEngineOptions } from './options.js';
import { buildPromptInput } from './prompt-input.js';
import { createPromptBuilder } from './prompt/stylers.js';
import { isRecord, PromptError, type PromptBuilder } from './prompt/types.js';
import { readParams, RequestError, type GenerationParams } from './request.js';
import { Responder, type EngineCounts, type EngineEnd } from './respond.js';

/** One OpenAI request, made ready for an engine that takes a prompt. */
export interface TextRequest {
  params: GenerationParams;
  /** The prompt text the engine gets. */
  prompt: string;
  /** Its tokens under the model's tokenizer (usage, and engines that need a total length). */
  promptTokens: number;
  /** Stop strings: the request's, the styler's, the `stop_words` option's, the model's other end-of-sequence tokens. */
  stop: string[];
  /** The model's end-of-sequence id and pad id (option, generation_config.json, then the tokenizer's). */
  endId: number;
  padId: number;
  /** The engine streams this answer (the client asked and the engine can). */
  stream: boolean;
}

/** One piece of an engine's answer: a streamed event's or a whole body's. */
export interface EngineOutput {
  text: string;
  /** On the last piece, when the engine says how generation ended. */
  end?: EngineEnd;
  /** The engine's last piece, where its stream says so (else its end does). */
  last?: boolean;
  /** The counts the engine reports, if any. */
  counts?: EngineCounts;
  /** The engine answered an error instead (an SSE error event): its status and body. */
  error?: { status: number; body: string };
}

/** The stop string ended the answer: the engine's request was cut on purpose. */
class StopReached extends Error {
  constructor() {
    super('a stop string ended the answer');
  }
}

/** An SSE event's data as a JSON object; undefined for anything else (a keep-alive, a partial line). */
export function eventObject(data: string): Record<string, unknown> | undefined {
  let o: unknown;
  try {
    o = JSON.parse(data);
  } catch {
    return undefined;
  }
  return isRecord(o) ? o : undefined;
}

export abstract class TextEngineBackend extends HttpBackend {
  /** The engine can stream an answer (DeepSpeed-MII's REST server cannot). */
  protected abstract readonly streams: boolean;
  /** How the engine's error bodies look, tried after OpenAI's nested shape (the plugin's own errors). */
  protected abstract readonly errorShapes: readonly ErrorShape[];
  protected readonly tokenizers: TokenizerPool;
  private builder?: PromptBuilder;
  private endId = 0;
  private padId = 0;
  private modelStops: string[] = [];
  private textInFlight = 0;

  /**
   * @param reportsCachedTokens the engine's answers say how much of the prompt its cache served
   *   (Triton with kv_cache_reuse_stats); else an absent count is never read as a miss.
   */
  constructor(spec: BackendSpec, ctx: PluginContext, http: HttpBackendOptions, protected readonly text: TextEngineOptions, reportsCachedTokens = false) {
    super(spec, ctx, { ...http, cachedTokens: http.cachedTokens ?? (reportsCachedTokens ? undefined : 'unreported') });
    this.tokenizers = new TokenizerPool({ threads: text.tokenizerParallelism, tokenizerJsonPath: text.tokenizerJson, tokenizerConfigPath: text.tokenizerConfig });
  }

  /** The engine's request for one prepared OpenAI request: path and JSON body. */
  protected abstract engineRequest(req: TextRequest): { path: string; body: Record<string, unknown> };
  /** A whole (non-streamed) 200 answer. */
  protected abstract readAnswer(body: string, req: TextRequest): EngineOutput;
  /** One SSE event's data of a streamed answer; undefined for an event without output. */
  protected abstract readEvent(data: string, req: TextRequest): EngineOutput | undefined;

  /** The status the gateway sees for an engine's error status (an engine's own codes mapped onto HTTP's usual ones). */
  protected replyStatus(engineStatus: number): number {
    return engineStatus;
  }

  async start(): Promise<void> {
    await this.tokenizers.ready();
    const tokenizer = this.tokenizers.tokenizer;
    this.builder = createPromptBuilder(this.text.promptStyle, tokenizer);
    const generation = readGenerationConfig(this.text);
    this.endId = this.text.endId ?? generation.eosTokenIds[0] ?? tokenizer.eosTokenId;
    this.padId = this.text.padId ?? generation.padTokenId ?? this.endId;
    // The model's other end-of-sequence tokens (Qwen2.5: <|endoftext|> beside <|im_end|>) end the
    // answer too: an engine given one end id would otherwise run past them.
    const others = generation.eosTokenIds.filter((id) => id !== this.endId);
    this.modelStops = [...others.map((id) => tokenizer.decode([id])).filter((s) => s !== ''), ...this.text.stopWords];
    await super.start();
  }

  async close(): Promise<void> {
    await super.close();
    await this.tokenizers.close();
  }

  signals(): LoadSignals {
    return { ...super.signals(), inFlight: this.textInFlight };
  }

  parseError(status: number, body: string): UpstreamError {
    return parseErrorBody(status, body, [nestedErrorShape, ...this.errorShapes]);
  }

  private async prepare(call: DispatchCall): Promise<TextRequest> {
    // These engines take a prompt the gateway renders: a large body's held fields are needed here.
    const params = readParams(hasHeldFields(call.body) ? await materializeBody(call.body) : call.body, call.endpoint === 'chat');
    const input = await buildPromptInput(this.tokenizers, this.builder!, params);
    const prompt = input.text ?? (await this.tokenizers.decode(input.ids));
    const stop = [...new Set([...params.stop, ...input.stopWords, ...this.modelStops])];
    return { params, prompt, promptTokens: input.ids.length, stop, endId: this.endId, padId: this.padId, stream: params.stream && this.streams };
  }

  async dispatch(call: DispatchCall): Promise<DispatchReply> {
    if (call.cancel.reason) throw call.cancel.reason;
    if (!this.builder) throw new Error(`backend ${this.id} is not started`);
    if (call.endpoint === 'embeddings') return errorReply(404, `${this.engine} serves no embeddings`, null);
    let req: TextRequest;
    try {
      req = await this.prepare(call);
    } catch (err) {
      if (err instanceof RequestError) return errorReply(err.status, err.message, err.param);
      if (err instanceof PromptError) return errorReply(400, err.message, err.param ?? null);
      throw err;
    }
    if (call.cancel.reason) throw call.cancel.reason;

    const aborter = new AbortController();
    const unsubscribe = call.cancel.onCancel((reason) => aborter.abort(reason));
    this.textInFlight++;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      this.textInFlight--;
      unsubscribe();
    };
    try {
      const { path, body } = this.engineRequest(req);
      const res = await this.pool.request({
        path, method: 'POST', body: JSON.stringify(body), signal: aborter.signal,
        headers: { 'content-type': 'application/json', 'x-request-id': call.requestId, ...this.authHeaders() },
      });
      if (res.statusCode !== 200) {
        const text = await res.body.text();
        settle();
        return this.engineError(res.statusCode, text);
      }
      const responder = new Responder({
        params: req.params, model: String(call.body.model ?? this.models()[0]), promptTokens: req.promptTokens,
        stops: req.stop, toolFormat: this.text.promptStyle, cancel: () => aborter.abort(new StopReached()), reportsCachedTokens: false,
      });
      // In flight until the answer's body closes: read to its end, or dropped by a reader that
      // went away — which stops the engine's generation too.
      responder.body.once('close', () => {
        aborter.abort(new Error('the answer was closed'));
        settle();
      });
      if (req.stream) return await this.relayStream(res.body, req, responder, aborter.signal);
      const out = this.readWhole(await res.body.text(), req);
      if (out.error) {
        settle();
        return this.engineError(out.error.status, out.error.body);
      }
      responder.pushText(out.text);
      await this.end(responder, req, out);
      return this.reply(req, responder);
    } catch (err) {
      settle();
      throw err;
    }
  }

  /**
   * Reads the engine's SSE answer into the Responder; resolves with the reply at the first output
   * (or the engine's error, before any), and keeps reading until the engine's last event. A slow
   * client pauses the reading (the Responder's body drains first).
   */
  private relayStream(source: AsyncIterable<Buffer>, req: TextRequest, responder: Responder, signal: AbortSignal): Promise<DispatchReply> {
    return new Promise((resolve, reject) => {
      let started = false;
      const start = (): void => {
        if (!started) {
          started = true;
          resolve(this.reply(req, responder));
        }
      };
      const failed = (err: Error): void => {
        if (started) responder.fail(err);
        else reject(err);
      };
      const read = async (): Promise<void> => {
        const splitter = new SseSplitter();
        let last: EngineOutput | undefined;
        try {
          outer: for await (const chunk of source) {
            for (const event of splitter.push(chunk)) {
              const out = event.data === undefined ? undefined : this.readEvent(event.data, req);
              if (out === undefined) continue;
              if (out.error) {
                if (started) {
                  failed(new Error(`${this.engine}: ${this.parseError(out.error.status, out.error.body).message}`));
                } else {
                  started = true;
                  resolve(this.engineError(out.error.status, out.error.body));
                  responder.discard();
                }
                return;
              }
              responder.pushText(out.text);
              start();
              last = out;
              if (out.end !== undefined || out.last === true || responder.stopped) break outer;
              if (responder.body.writableNeedDrain) await once(responder.body, 'drain', { signal });
            }
          }
        } catch (err) {
          // Cut on purpose by a stop string: the answer is complete.
          if (!responder.stopped || !(signal.reason instanceof StopReached)) {
            failed(err instanceof Error ? err : new Error(String(err)));
            return;
          }
        }
        start();
        await this.end(responder, req, responder.stopped ? { text: '' } : last ?? { text: '' });
      };
      read().catch(failed);
    });
  }

  /** The whole answer; one that is not the engine's JSON is the engine's failure, not a bug here. */
  private readWhole(body: string, req: TextRequest): EngineOutput {
    try {
      return this.readAnswer(body, req);
    } catch (err) {
      throw new Error(`${this.engine} answered 200 with a body it should not have (${err instanceof Error ? err.message : String(err)}): ${body.slice(0, 200)}`);
    }
  }

  /** Ends the answer with the engine's counts, else the tokenizer's, and its finish reason, else the count's. */
  private async end(responder: Responder, req: TextRequest, out: EngineOutput): Promise<void> {
    const completionTokens = out.counts?.completionTokens
      ?? (await this.tokenizers.encode(responder.engineText, { addSpecialTokens: false })).length;
    const { maxTokens } = req.params;
    const reason = responder.stopped ? 'stop' : out.end ?? (maxTokens !== undefined && completionTokens >= maxTokens ? 'length' : 'stop');
    responder.end(reason, { ...out.counts, completionTokens });
  }

  private reply(req: TextRequest, responder: Responder): DispatchReply {
    return { status: 200, headers: { 'content-type': req.params.stream ? 'text/event-stream' : 'application/json' }, body: responder.body };
  }

  private engineError(status: number, body: string): DispatchReply {
    const mapped = this.replyStatus(status);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (mapped === 429 || mapped === 503) headers['retry-after'] = '1';
    return { status: mapped, headers, body: Readable.from([body]) };
  }
}
