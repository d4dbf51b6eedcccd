/**
 * One request's output, as an async iterator of text chunks driven by the engine's responses.
 *
 * Text-level stop strings follow vLLM (vllm/v1/engine/detokenizer.py, vllm/sampling_params.py):
 * they are matched on the detokenized text, the text ends before the stop string unless
 * include_stop_str_in_output, the request is aborted in the engine at once, and the finish is
 * "stop" with stop_reason = the string. Streamed text holds back (longest stop - 1) characters so
 * a stop string split across tokens never leaks.
 */
import type { Engine, EngineResponse } from '../../native/engine.js';
import type { StreamDecoder } from '../../core/tokenizer/stream-decoder.js';
import type { CompletedRequest, FinishReason, GenerationChunk, GenerationFinish, GenerationRequest } from './generation.js';

function engineFinish(reason: EngineResponse['finishReason']): FinishReason {
  switch (reason) {
    case 'end-id':
    case 'stop-words':
      return 'stop';
    case 'length':
      return 'length';
    case 'cancelled':
      return 'abort';
    default:
      return 'error';
  }
}

/**
 * One request's output as an async iterator of chunks. Engine responses queue here until pulled;
 * the queue is bounded by the request's own max_tokens, and a consumer that stops pulling (a slow
 * client) is paused by the SSE writer, not buffered elsewhere.
 */
export class GenerationStream implements AsyncIterableIterator<GenerationChunk> {
  readonly promptTokens: number;
  cachedTokens = 0;
  completionTokens = 0;
  private readonly inbox: EngineResponse[] = [];
  private readonly outbox: GenerationChunk[] = [];
  private wake: (() => void) | undefined;
  private heldText = '';
  private finished: GenerationFinish | undefined;
  private engineDone = false;
  private lastTokenMs: number | undefined;
  private readonly itls: number[] = [];
  private readonly stops: readonly string[];
  private readonly holdBack: number;

  constructor(
    private readonly engine: Engine,
    readonly requestId: number,
    readonly promptIds: Int32Array,
    private readonly req: GenerationRequest,
    private readonly decoder: StreamDecoder,
    /** The output budget the engine was given (the request's, or what the context leaves). */
    readonly maxTokens: number,
  ) {
    this.promptTokens = promptIds.length;
    this.stops = (req.stop ?? []).filter((s) => s.length > 0);
    this.holdBack = this.stops.reduce((m, s) => Math.max(m, s.length - 1), 0);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** How the request ended, once it has. */
  get finish(): GenerationFinish | undefined {
    return this.finished;
  }

  async next(): Promise<IteratorResult<GenerationChunk>> {
    for (;;) {
      const chunk = this.outbox.shift();
      if (chunk !== undefined) return { value: chunk, done: false };
      if (this.finished !== undefined) return { value: undefined, done: true };
      const response = this.inbox.shift();
      if (response !== undefined) {
        this.process(response);
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async return(): Promise<IteratorResult<GenerationChunk>> {
    this.cancel();
    return { value: undefined, done: true };
  }

  /** Client gone (or a fault): abort in the engine at once; the stream ends with "abort". */
  cancel(): void {
    if (this.finished === undefined) this.finished = { reason: 'abort', stopReason: null };
    this.abortEngine();
    this.signal();
  }

  /** The engine fails the request (a fault): it is stopped there, and the stream ends with "error". */
  fail(): void {
    if (this.finished === undefined) this.finished = { reason: 'error', stopReason: null };
    this.abortEngine();
    this.signal();
  }

  /** Called by the service's listener. Returns the completion record on the engine's final response. */
  deliver(response: EngineResponse): CompletedRequest | undefined {
    if (response.isFinal) this.engineDone = true;
    if (response.tokens.length > 0 && response.finishReason !== 'cancelled') {
      if (this.lastTokenMs !== undefined) {
        const gap = (response.timeMs - this.lastTokenMs) / response.tokens.length;
        for (let i = 0; i < response.tokens.length; i++) this.itls.push(gap);
      }
      this.lastTokenMs = response.timeMs;
    }
    if (this.finished === undefined) {
      this.inbox.push(response);
      this.signal();
    }
    if (!response.isFinal) return undefined;
    const timings = response.timings;
    return {
      reason: this.finished?.reason ?? engineFinish(response.finishReason),
      promptTokens: this.promptTokens,
      maxTokens: this.maxTokens,
      completionTokens: this.finished !== undefined ? this.completionTokens : this.completionTokens + pendingTokens(this.inbox),
      cachedTokens: timings?.cachedTokens ?? this.cachedTokens,
      timings,
      interTokenLatenciesMs: this.itls,
    };
  }

  private process(response: EngineResponse): void {
    if (response.cachedTokens !== undefined) this.cachedTokens = response.cachedTokens;
    const tokens = response.tokens;
    this.completionTokens += tokens.length;
    // A stop token (EOS or stop_token_ids) ends the output but is not part of its text (vLLM).
    const stoppedByToken = response.isFinal && (response.finishReason === 'end-id' || response.finishReason === 'stop-words');
    const textTokens = stoppedByToken && !this.req.includeStopStrInOutput ? tokens.slice(0, -1) : tokens;
    let text = this.heldText + this.decoder.push(textTokens);
    if (response.isFinal) text += this.decoder.flush();
    this.heldText = '';

    if (this.stops.length > 0 && this.completionTokens >= (this.req.minTokens ?? 0)) {
      const hit = findStop(text, this.stops);
      if (hit !== undefined) {
        const end = hit.index + (this.req.includeStopStrInOutput ? hit.stop.length : 0);
        this.finished = { reason: 'stop', stopReason: hit.stop };
        this.outbox.push({ text: text.slice(0, end), tokenIds: tokens, completionTokens: this.completionTokens, finish: this.finished });
        this.abortEngine();
        return;
      }
    }
    if (!response.isFinal && this.holdBack > 0) {
      const keep = Math.min(this.holdBack, text.length);
      this.heldText = text.slice(text.length - keep);
      text = text.slice(0, text.length - keep);
    }
    const chunk: GenerationChunk = { text, tokenIds: tokens, completionTokens: this.completionTokens };
    if (response.isFinal) {
      const reason = engineFinish(response.finishReason);
      const stopReason = response.finishReason === 'stop-words' ? tokens[tokens.length - 1] ?? null : null;
      this.finished = { reason, stopReason };
      chunk.finish = this.finished;
    }
    this.outbox.push(chunk);
  }

  private abortEngine(): void {
    if (this.engineDone) return;
    try {
      this.engine.cancel(this.requestId);
    } catch {
      // The engine is closed: nothing is left to cancel.
    }
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

function pendingTokens(inbox: readonly EngineResponse[]): number {
  return inbox.reduce((n, r) => n + r.tokens.length, 0);
}

/** Earliest occurrence of any stop string (ties: the longest). */
function findStop(text: string, stops: readonly string[]): { index: number; stop: string } | undefined {
  let best: { index: number; stop: string } | undefined;
  for (const stop of stops) {
    const index = text.indexOf(stop);
    if (index === -1) continue;
    if (best === undefined || index < best.index || (index === best.index && stop.length > best.stop.length)) {
      best = { index, stop };
    }
  }
  return best;
}
