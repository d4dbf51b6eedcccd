/**
 * The dialect-independent core of an emulated replica: a parsed request becomes prompt tokens
 * (the real chat template and tokenizer, through the pool so long prompts stay off the event
 * loop), waits an API-server cost per request if one was asked for, enters the Engine, and
 * comes back as a stream of text deltas (generation-stream.ts). One Engine listener demultiplexes response
 * batches by request id into per-request streams.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Engine } from '../../native/engine.js';
import type { RequestTimings, ResponseBatch } from '../../native/engine.js';
import type { SimProfile } from '../../native/profiles.js';
import type { TokenizerPool } from '../../core/tokenizer/pool.js';
import { StreamDecoder } from '../../core/tokenizer/stream-decoder.js';
import type { ChatMessage } from '../../core/tokenizer/tokenizer.js';
import { GenerationStream } from './generation-stream.js';

export { GenerationStream };

export type FinishReason = 'stop' | 'length' | 'abort' | 'error';

export interface GenerationRequest {
  /** Chat: rendered with the model's chat template. */
  messages?: ChatMessage[];
  tools?: unknown[];
  addGenerationPrompt?: boolean;
  chatTemplateKwargs?: Record<string, unknown>;
  /** Completions: a text prompt, or prompt token ids. */
  prompt?: string;
  promptTokenIds?: readonly number[];
  addSpecialTokens?: boolean;
  /** Output budget; absent means up to the context limit. */
  maxTokens?: number;
  stop?: readonly string[];
  stopTokenIds?: readonly number[];
  includeStopStrInOutput?: boolean;
  ignoreEos?: boolean;
  minTokens?: number;
  seed?: number;
  /** Engine priority 0..1, higher first. */
  priority?: number;
  n?: number;
  /** When prompt + max_tokens exceeds the context: refuse (vLLM, trtllm) or shorten the budget (LMDeploy). */
  contextPolicy?: 'reject' | 'clamp';
}

export interface GenerationFinish {
  reason: FinishReason;
  /** vLLM's stop_reason: the stop string or stop token id; null for EOS and length. */
  stopReason: string | number | null;
}

export interface GenerationChunk {
  /** New text since the previous chunk ('' while a character or a possible stop string is pending). */
  text: string;
  tokenIds: number[];
  /** Completion tokens so far. */
  completionTokens: number;
  finish?: GenerationFinish;
}

/** What the engine reported once a request left it, for metrics. Times are model ms. */
export interface CompletedRequest {
  reason: FinishReason;
  promptTokens: number;
  /** The output budget the engine was given. */
  maxTokens: number;
  completionTokens: number;
  cachedTokens: number;
  timings: RequestTimings | undefined;
  interTokenLatenciesMs: number[];
}

export type GenerationErrorKind = 'invalid' | 'context-length' | 'overloaded';

/** A request refused before it entered the engine; faces render it in their dialect. */
export class GenerationError extends Error {
  constructor(
    readonly status: number,
    readonly kind: GenerationErrorKind,
    message: string,
    readonly details: { promptTokens?: number; maxTokens?: number; maxModelLen?: number } = {},
  ) {
    super(message);
    this.name = 'GenerationError';
  }
}

export interface GenerationServiceOptions {
  profile: SimProfile;
  pool: TokenizerPool;
  timeScale: number;
  outputTokenPool: Int32Array;
  /** trtllm-serve drains KV events and iteration stats; the other faces keep none. */
  kvEventBufferSize: number;
  iterStatsBufferSize: number;
  /** Salts the engine model's block hashes (a different engine hash per process). */
  blockHashSeed?: bigint;
}

export class GenerationService {
  readonly engine: Engine;
  private readonly active = new Map<number, GenerationStream>();
  private readonly completedListeners: Array<(done: CompletedRequest) => void> = [];
  /** Sim-only: answers queued over HTTP (POST /sim/script), each the output of the next request. */
  private readonly scripted: string[] = [];

  constructor(private readonly opts: GenerationServiceOptions) {
    this.engine = new Engine(
      {
        profile: opts.profile.engineProfile,
        executor: 'model',
        timeScale: opts.timeScale,
        clock: 'real',
        outputTokenPool: opts.outputTokenPool,
        kvEventBufferSize: opts.kvEventBufferSize,
        iterStatsBufferSize: opts.iterStatsBufferSize,
        blockHashSeed: opts.blockHashSeed,
      },
      (batch) => this.dispatch(batch),
    );
  }

  get maxModelLen(): number {
    return this.opts.profile.engineProfile.maxModelLen;
  }

  /** Requests in flight between enqueue and the engine's final response. */
  get inFlight(): number {
    return this.active.size;
  }

  onCompleted(listener: (done: CompletedRequest) => void): void {
    this.completedListeners.push(listener);
  }

  /**
   * Sim-only: the next requests answer these texts, in order (then end of sequence) instead of
   * the engine model's words, so a test can make any face answer a tool call. Timing is still
   * the engine model's. Returns how many answers are queued.
   */
  script(answers: readonly string[]): number {
    this.scripted.push(...answers);
    return this.scripted.length;
  }

  /** Tokenizes, sleeps the front-end overhead (none by default), enqueues. Rejects with GenerationError or on abort. */
  async start(req: GenerationRequest, signal?: AbortSignal): Promise<GenerationStream> {
    if (req.n !== undefined && req.n !== 1) {
      throw new GenerationError(400, 'invalid', `n=${req.n} is not supported by the simulated engine (only n=1)`);
    }
    const receivedAt = performance.now();
    const ids = await this.tokenize(req);
    const maxModelLen = this.maxModelLen;
    const promptTokens = ids.length;
    // vllm/v1/engine/processor.py _validate_model_input
    if (promptTokens === 0) throw new GenerationError(400, 'invalid', 'The decoder prompt cannot be empty');
    let maxTokens = req.maxTokens ?? maxModelLen - promptTokens;
    if (promptTokens >= maxModelLen || (req.contextPolicy !== 'clamp' && promptTokens + maxTokens > maxModelLen)) {
      throw new GenerationError(400, 'context-length', `prompt of ${promptTokens} tokens + ${maxTokens} output tokens exceeds ${maxModelLen}`,
        { promptTokens, maxTokens, maxModelLen });
    }
    maxTokens = Math.min(maxTokens, maxModelLen - promptTokens);
    // The API server's own per-request cost (HTTP, validation, detokenizer setup), in model time.
    // The real time this face already spent on the request (template, tokenizer) is part of that
    // cost: counting it twice would make every replica slower than its profile by a fixed
    // amount of real time, i.e. more the higher the time scale.
    const overheadMs = this.opts.profile.frontendOverheadMs / this.opts.timeScale - (performance.now() - receivedAt);
    if (overheadMs > 0) await sleep(overheadMs, undefined, { signal });
    signal?.throwIfAborted();

    const scripted = this.scripted.shift();
    let id: number;
    try {
      id = this.engine.enqueue({
        inputTokenIds: ids,
        maxTokens,
        endId: this.opts.pool.tokenizer.eosTokenId,
        stopTokenSequences: (req.stopTokenIds ?? []).map((t) => [t]),
        ignoreEos: req.ignoreEos ?? false,
        minTokens: req.minTokens ?? 0,
        streaming: true,
        priority: req.priority ?? 0.5,
        seed: normalizeSeed(req.seed),
        scriptedOutput: scripted === undefined ? undefined : this.opts.pool.tokenizer.encode(scripted, { addSpecialTokens: false }),
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // A full waiting queue (maxQueueSize) or a closing engine is overload; anything else is the request.
      const overloaded = /queue is full|shut down|closed/.test(message);
      throw new GenerationError(overloaded ? 503 : 400, overloaded ? 'overloaded' : 'invalid', message);
    }
    const stream = new GenerationStream(this.engine, id, ids, req, new StreamDecoder(this.opts.pool.tokenizer, {
      skipSpecialTokens: true,
      context: ids,
    }), maxTokens);
    this.active.set(id, stream);
    signal?.addEventListener('abort', () => stream.cancel(), { once: true });
    return stream;
  }

  /** Stops the engine (joining its threads); streams in flight end with "abort". */
  close(): void {
    for (const stream of this.active.values()) stream.cancel();
    this.active.clear();
    this.engine.close();
  }

  /** Template and tokenizer failures (a message the template rejects…) are the request's fault: 400. */
  private async tokenize(req: GenerationRequest): Promise<Int32Array> {
    try {
      return await this.encode(req);
    } catch (err) {
      if (err instanceof GenerationError) throw err;
      throw new GenerationError(400, 'invalid', err instanceof Error ? err.message : String(err));
    }
  }

  private async encode(req: GenerationRequest): Promise<Int32Array> {
    const pool = this.opts.pool;
    if (req.messages !== undefined) {
      const encoded = await pool.encodeChat(req.messages, {
        tools: req.tools,
        addGenerationPrompt: req.addGenerationPrompt ?? true,
        chatTemplateKwargs: req.chatTemplateKwargs,
      });
      return encoded.ids;
    }
    if (req.promptTokenIds !== undefined) return Int32Array.from(req.promptTokenIds);
    if (req.prompt !== undefined) return pool.encode(req.prompt, { addSpecialTokens: req.addSpecialTokens ?? true });
    throw new GenerationError(400, 'invalid', 'either messages or prompt is required');
  }

  private dispatch(batch: ResponseBatch): void {
    for (let i = 0; i < batch.length; i++) {
      const stream = this.active.get(batch.requestIdAt(i));
      if (stream === undefined) continue;
      const response = batch.at(i);
      const done = stream.deliver(response);
      if (done === undefined) continue;
      this.active.delete(response.requestId);
      for (const listener of this.completedListeners) listener(done);
    }
    batch.release();
  }
}

/** OpenAI seeds may be negative or beyond 2^53; the engine takes an unsigned integer. */
function normalizeSeed(seed: number | undefined): number {
  if (seed === undefined || !Number.isFinite(seed)) return 0;
  return Math.abs(Math.trunc(seed)) % Number.MAX_SAFE_INTEGER;
}
