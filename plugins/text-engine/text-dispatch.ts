/**
 * Requests to a text-completion engine (http-text-engine.ts): each OpenAI request made into a
 * prompt on the path the in-process engine uses (prompt-input.ts), sent in the engine's protocol,
 * and its answer — streamed or whole — shaped by the Responder. The model's tokenizer renders the
 * prompt and counts what the engine does not.
 */
import { hasHeldFields, materializeBody } from '../../core/plugin/body.js';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import type { DispatchCall, DispatchReply } from '../../core/plugin/types.js';
import { SseSplitter } from '../../core/server/sse-parser.js';
import { TokenizerPool } from '../../core/tokenizer/pool.js';
import type { EngineDispatch, EngineHandle } from '../http/define.js';
import { errorReply } from './error-reply.js';
import type { EngineOutput, TextProtocol, TextRequest } from './http-text-engine.js';
import { readGenerationConfig, type TextEngineOptions } from './options.js';
import { buildPromptInput } from './prompt-input.js';
import { createPromptBuilder } from './prompt/stylers.js';
import { PromptError, type PromptBuilder } from './prompt/types.js';
import { readParams, RequestError } from './request.js';
import { Responder } from './respond.js';

/** The stop string ended the answer: the engine's request was cut on purpose. */
class StopReached extends Error {
  constructor() {
    super('a stop string ended the answer');
  }
}

export class TextDispatch implements EngineDispatch {
  private readonly tokenizers: TokenizerPool;
  private builder?: PromptBuilder;
  private endId = 0;
  private padId = 0;
  private modelStops: string[] = [];
  private count = 0;

  constructor(private readonly backend: EngineHandle, private readonly protocol: TextProtocol, private readonly text: TextEngineOptions) {
    this.tokenizers = new TokenizerPool({ threads: text.tokenizerParallelism, tokenizerJsonPath: text.tokenizerJson, tokenizerConfigPath: text.tokenizerConfig });
  }

  get inFlight(): number {
    return this.count;
  }

  async start(): Promise<void> {
    await this.tokenizers.ready();
    const tokenizer = this.tokenizers.tokenizer;
    // Every stream's tokens are decoded here, on the event loop: its tables are built now, not at a first token.
    tokenizer.prepareForServing();
    this.builder = createPromptBuilder(this.text.promptStyle, tokenizer);
    const generation = readGenerationConfig(this.text);
    this.endId = this.text.endId ?? generation.eosTokenIds[0] ?? tokenizer.eosTokenId;
    this.padId = this.text.padId ?? generation.padTokenId ?? this.endId;
    // The model's other end-of-sequence tokens (Qwen2.5: <|endoftext|> beside <|im_end|>) end the
    // answer too: an engine given one end id would otherwise run past them.
    const others = generation.eosTokenIds.filter((id) => id !== this.endId);
    this.modelStops = [...others.map((id) => tokenizer.decode([id])).filter((s) => s !== ''), ...this.text.stopWords];
  }

  async close(): Promise<void> {
    await this.tokenizers.close();
  }

  private async prepare(call: DispatchCall): Promise<TextRequest> {
    // These engines take a prompt the gateway renders: a large body's held fields are needed here.
    const params = readParams(hasHeldFields(call.body) ? await materializeBody(call.body) : call.body, call.endpoint === 'chat');
    const input = await buildPromptInput(this.tokenizers, this.builder!, params);
    const prompt = input.text ?? (await this.tokenizers.decode(input.ids));
    const stop = [...new Set([...params.stop, ...input.stopWords, ...this.modelStops])];
    return { params, prompt, promptTokens: input.ids.length, stop, endId: this.endId, padId: this.padId, stream: params.stream && this.protocol.streams };
  }

  async dispatch(call: DispatchCall): Promise<DispatchReply> {
    if (call.cancel.reason) throw call.cancel.reason;
    if (!this.builder) throw new Error(`backend ${this.backend.id} is not started`);
    if (call.endpoint === 'embeddings') return errorReply(404, `${this.backend.engine} serves no embeddings`, null);
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
    this.count++;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      this.count--;
      unsubscribe();
    };
    try {
      const { path, body } = this.protocol.request(req);
      const res = await this.backend.client.pool.request({
        path, method: 'POST', body: JSON.stringify(body), signal: aborter.signal,
        headers: { 'content-type': 'application/json', 'x-request-id': call.requestId, ...this.backend.client.authHeaders() },
      });
      if (res.statusCode !== 200) {
        const text = await res.body.text();
        settle();
        return this.engineError(res.statusCode, text);
      }
      const responder = new Responder({
        params: req.params, model: String(call.body.model ?? this.backend.models()[0]), promptTokens: req.promptTokens,
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
              const out = event.data === undefined ? undefined : this.protocol.readEvent?.(event.data, req);
              if (out === undefined) continue;
              if (out.error) {
                if (started) {
                  failed(new Error(`${this.backend.engine}: ${this.backend.parseError(out.error.status, out.error.body).message}`));
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
      return this.protocol.readAnswer(body, req);
    } catch (err) {
      throw new Error(`${this.backend.engine} answered 200 with a body it should not have (${err instanceof Error ? err.message : String(err)}): ${body.slice(0, 200)}`);
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
    const mapped = this.protocol.replyStatus?.(status) ?? status;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (mapped === 429 || mapped === 503) headers['retry-after'] = '1';
    return { status: mapped, headers, body: Readable.from([body]) };
  }
}
