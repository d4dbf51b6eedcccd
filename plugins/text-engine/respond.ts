/**
 * Turns one engine answer into the OpenAI wire format: SSE chunks as output arrives (role chunk,
 * content or tool-call deltas, the finish chunk, usage when asked, [DONE]) or one JSON body at the
 * end. Text never splits a UTF-8 character or shows part of a stop string (OutputStream);
 * finish_reason is what really happened — stop, length, tool_calls, abort.
 *
 * One path for every engine that generates text from a prompt: the in-process engine feeds token
 * ids (`onResponse`), the HTTP text engines (Triton, TGI, DeepSpeed-MII) feed the text they answer
 * (`pushText`) and end it with the counts they report, if any; what they do not report is counted
 * with the model's tokenizer.
 *
 * A streamed answer is read as an EventFeed (core/plugin/types.ts: each event goes to the client's
 * socket as it is made) or as the bytes of `body`; whichever the reader takes first. Events made
 * before a reader comes are kept for it.
 */
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { EngineResponse, FinishReason as EngineFinish } from '../../native/types.js';
import type { EventFeed, EventSink, MadeEvent } from '../../core/plugin/types.js';
import type { StreamDecoder } from '../../core/tokenizer/stream-decoder.js';
import { OutputStream, ToolCallStreamer, type StreamDelta } from './output/stream-text.js';
import { parseToolCalls, type ToolCallFormat } from './output/tool-calls.js';
import type { GenerationParams } from './request.js';

/** How the engine's generation ended, before stop strings and tool calls are looked at. */
export type EngineEnd = 'stop' | 'length' | 'abort';

type Finish = EngineEnd | 'tool_calls';

function finishOf(reason: EngineFinish): EngineEnd {
  if (reason === 'length') return 'length';
  if (reason === 'cancelled' || reason === 'error') return 'abort';
  return 'stop';
}

export interface ResponderOptions {
  params: GenerationParams;
  model: string;
  promptTokens: number;
  /** Token ids to text, for an engine that answers in ids; an engine that answers in text has none. */
  decoder?: StreamDecoder;
  stops: string[];
  toolFormat: ToolCallFormat;
  /** The engine request to cancel when a stop string ends the answer. */
  cancel: () => void;
  /** The reader went away before the answer ended (the body was destroyed, the feed cancelled). */
  abandon?: () => void;
  /**
   * The engine says how many prompt tokens its KV cache served (the in-process engine does): usage
   * carries `prompt_tokens_details.cached_tokens`. Text engines over HTTP mostly do not, and a 0
   * would read as a cache miss: their usage carries the details only when `end` is given a count.
   * Default true.
   */
  reportsCachedTokens?: boolean;
}

/** What an engine that answers in text reports at the end (the caller counts what it does not). */
export interface EngineCounts {
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
}

export class Responder implements EventFeed {
  private bodyStream: PassThrough | undefined;
  /** Where a streamed answer's events go; until a reader attaches, they wait in `backlog`. */
  private sink: EventSink | undefined;
  private backlog: MadeEvent[] = [];
  /** The answer ended (`null`) or failed before a reader attached. */
  private endedBeforeSink: Error | null | undefined;
  private readonly id: string;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly output: OutputStream;
  private readonly tools?: ToolCallStreamer;
  /** A whole (non-streamed) answer's text so far. */
  private text = '';
  /** The engine's own output text, stop strings included (text engines' completion count). */
  private rawText = '';
  private completionTokens = 0;
  private promptTokens: number;
  private cachedTokens = 0;
  /** A text engine gave its cached-token count for this answer. */
  private cachedCounted = false;
  private started = false;
  private done = false;
  private readonly finished: Promise<void>;
  private resolveFinished!: () => void;

  constructor(private readonly o: ResponderOptions) {
    this.id = `${o.params.chat ? 'chatcmpl' : 'cmpl'}-${randomUUID().replace(/-/g, '')}`;
    this.promptTokens = o.promptTokens;
    this.output = new OutputStream(o.decoder, o.stops);
    if (o.params.parseTools && o.params.stream) this.tools = new ToolCallStreamer();
    this.finished = new Promise((resolve) => { this.resolveFinished = resolve; });
  }

  /** The answer's bytes: SSE events for a stream, else the JSON body at the end. */
  get body(): PassThrough {
    if (this.bodyStream) return this.bodyStream;
    const body = new PassThrough();
    this.bodyStream = body;
    body.once('close', () => this.o.abandon?.());
    if (this.o.params.stream) {
      this.attach({ event: (e) => body.write(e.raw), end: () => body.end(), fail: (err) => body.destroy(err) });
    }
    return body;
  }

  attach(sink: EventSink): void {
    if (this.sink) throw new Error('Responder: the answer has a reader already');
    this.sink = sink;
    const backlog = this.backlog;
    this.backlog = [];
    for (const e of backlog) sink.event(e);
    if (this.endedBeforeSink === null) sink.end();
    else if (this.endedBeforeSink) sink.fail(this.endedBeforeSink);
  }

  cancel(): void {
    this.o.abandon?.();
  }

  /** Resolves when the final response has been handled. */
  whenFinished(): Promise<void> {
    return this.finished;
  }

  /** The in-process engine's response batch for this request: token ids. */
  onResponse(r: EngineResponse): void {
    if (this.done) return;
    // The engine's own count of prompt tokens served from its KV cache (reused blocks).
    if (r.cachedTokens !== undefined) this.cachedTokens = r.cachedTokens;
    if (r.timings) this.cachedTokens = r.timings.cachedTokens;
    this.completionTokens += r.tokens.length;
    const delta = this.output.push(r.tokens);
    if (delta.text) this.emitText(delta.text);
    if (delta.stopped !== null && !r.isFinal) {
      this.o.cancel(); // the final (cancelled) response follows; it ends the answer as 'stop'
    }
    if (r.isFinal) this.finish(finishOf(r.finishReason));
  }

  /**
   * The next piece of a text engine's output. When a stop string ends the answer, the engine's
   * request is cancelled (`cancel`) and the caller ends it: `end('stop')`.
   */
  pushText(text: string): void {
    if (this.done || text === '') return;
    this.rawText += text;
    const delta = this.output.pushText(text);
    if (delta.text) this.emitText(delta.text);
    if (delta.stopped !== null) this.o.cancel();
  }

  /** Whether a stop string has ended the output (the rest of the engine's answer is discarded). */
  get stopped(): boolean {
    return this.output.stopped !== null;
  }

  /** Everything the text engine answered so far, stop strings included: what its completion count covers. */
  get engineText(): string {
    return this.rawText;
  }

  /** A text engine's answer is over, with its completion tokens (the engine's count or the tokenizer's). */
  end(reason: EngineEnd, counts: EngineCounts & { completionTokens: number }): void {
    if (this.done) return;
    if (counts.promptTokens !== undefined) this.promptTokens = counts.promptTokens;
    if (counts.cachedTokens !== undefined) {
      this.cachedTokens = counts.cachedTokens;
      this.cachedCounted = true;
    }
    this.completionTokens = counts.completionTokens;
    this.finish(reason);
  }

  /** The answer will never be read (the engine refused the request before any output): drop it. */
  discard(): void {
    if (this.done) return;
    this.done = true;
    this.bodyStream?.destroy();
    this.backlog = [];
    this.resolveFinished();
  }

  /**
   * The engine failed after the answer began: the body ends with the error, which the gateway's
   * relay turns into its stream-interrupted error (a streamed answer) or a failed read.
   */
  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    if (!this.o.params.stream) this.body.destroy(err);
    else if (this.sink) this.sink.fail(err);
    else this.endedBeforeSink = err;
    this.resolveFinished();
  }

  private emitText(text: string): void {
    // Only a whole answer needs its text at the end; a stream's goes out piece by piece (kept, it
    // was the whole answer held per stream until it ended).
    if (!this.o.params.stream) {
      this.text += text;
      return;
    }
    const deltas: StreamDelta[] = this.tools ? this.tools.push(text) : [{ content: text }];
    for (const d of deltas) this.chunk(d, null);
  }

  private finish(reason: EngineEnd): void {
    const end = this.output.finish(reason);
    if (end.text) this.emitText(end.text);
    let finish: Finish = end.stopped !== null ? 'stop' : reason;
    if (this.o.params.stream) {
      if (this.tools) {
        const t = this.tools.finish(finish);
        for (const d of t.deltas) this.chunk(d, null);
        finish = t.finishReason;
      }
      this.chunk({}, finish);
      if (this.o.params.includeUsage) {
        const usage = this.usage();
        this.writeEvent({ id: this.id, object: this.chunkObject(), created: this.created, model: this.o.model, choices: [], usage }, { usage, usageOnly: true });
      }
      this.emit({ raw: 'data: [DONE]\n\n', done: true });
      if (this.sink) this.sink.end();
      else this.endedBeforeSink = null;
    } else {
      this.body.end(JSON.stringify(this.finalBody(finish)));
    }
    this.done = true;
    this.resolveFinished();
  }

  private usage(): NonNullable<MadeEvent['usage']> & { total_tokens: number } {
    const usage: NonNullable<MadeEvent['usage']> & { total_tokens: number } = {
      prompt_tokens: this.promptTokens,
      completion_tokens: this.completionTokens,
      total_tokens: this.promptTokens + this.completionTokens,
    };
    if (this.o.reportsCachedTokens !== false || this.cachedCounted) usage.prompt_tokens_details = { cached_tokens: this.cachedTokens };
    return usage;
  }

  private chunkObject(): string {
    return this.o.params.chat ? 'chat.completion.chunk' : 'text_completion';
  }

  private chunk(delta: StreamDelta, finish: Finish | null): void {
    const said: Omit<MadeEvent, 'raw'> = { content: hasContent(delta), finishReason: finish ?? undefined };
    if (!this.o.params.chat) {
      if (delta.content === undefined && finish === null) return;
      this.writeEvent({ id: this.id, object: 'text_completion', created: this.created, model: this.o.model,
        choices: [{ index: 0, text: delta.content ?? '', logprobs: null, finish_reason: finish }] }, said);
      return;
    }
    if (!this.started) {
      this.started = true;
      this.writeEvent({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.o.model,
        choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
    }
    if (delta.content === undefined && delta.tool_calls === undefined && finish === null) return;
    this.writeEvent({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.o.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] }, said);
  }

  private writeEvent(obj: unknown, said: Omit<MadeEvent, 'raw'> = {}): void {
    this.emit({ raw: `data: ${JSON.stringify(obj)}\n\n`, ...said });
  }

  private emit(e: MadeEvent): void {
    if (this.sink) this.sink.event(e);
    else this.backlog.push(e);
  }

  private finalBody(finish: Finish): Record<string, unknown> {
    if (!this.o.params.chat) {
      return { id: this.id, object: 'text_completion', created: this.created, model: this.o.model,
        choices: [{ index: 0, text: this.text, logprobs: null, finish_reason: finish }], usage: this.usage() };
    }
    let message: Record<string, unknown> = { role: 'assistant', content: this.text };
    if (this.o.params.parseTools) {
      const parsed = parseToolCalls(this.o.toolFormat, this.text, { toolNames: this.o.params.toolNames });
      if (parsed.toolCalls.length > 0) {
        message = { role: 'assistant', content: parsed.content, tool_calls: parsed.toolCalls };
        finish = 'tool_calls';
      }
    }
    return { id: this.id, object: 'chat.completion', created: this.created, model: this.o.model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish }], usage: this.usage() };
  }
}

/** What the relay counts as a token (core/server/sse-relay.ts choiceHasContent): text or tool calls. */
function hasContent(d: StreamDelta): boolean {
  return (d.content !== undefined && d.content !== '') || (d.tool_calls !== undefined && d.tool_calls.length > 0);
}
