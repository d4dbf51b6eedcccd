/**
 * `type: trtllm` — an engine inside the gateway process, no HTTP hop: the tokenizer (a worker
 * pool), the prompt (the model's chat template or a built-in styler), the engine (native addon),
 * and the response (OpenAI SSE or JSON, tool calls parsed) all run here. `executor: model` runs
 * the engine model (simulated; for machines without a GPU and the embedded default);
 * `executor: tensorrt-llm` runs TensorRT-LLM's Executor (only in a TRTLLM_ROOT build).
 *
 * With `workers: N`, every worker process would create its own engine: one GPU engine per
 * process. Give each worker its own GPU (CUDA_VISIBLE_DEVICES per worker) or keep workers: 1
 * for a trtllm backend.
 */
import path from 'node:path';
import { hasHeldFields, materializeBody } from '../../core/plugin/body.js';
import { randomBytes } from 'node:crypto';
import { Engine, isQueueFull } from '../../native/engine.js';
import { loadProfile } from '../../native/profiles.js';
import type { EngineProfile, EngineSnapshot, ResponseBatch } from '../../native/types.js';
import type {
  Backend, BackendCapabilities, BackendHealth, BackendPlugin, BackendSpec, DispatchCall, DispatchReply, LoadSignals,
  PluginContext, PrefixRetraction, UpstreamError, KvCacheView,
} from '../../core/plugin/types.js';
import { TokenizerPool } from '../../core/tokenizer/pool.js';
import { StreamDecoder } from '../../core/tokenizer/stream-decoder.js';
import { buildOutputTokenPool } from '../../native/word-pool.js';
import { parseOpenAiError } from '../http/errors.js';
import { readTrtllmOptions, validateTrtllmOptions, type TrtllmOptions } from './options.js';
import { createPromptBuilder } from '../text-engine/prompt/stylers.js';
import { PromptError, type PromptBuilder } from '../text-engine/prompt/types.js';
import { readParams, RequestError } from '../text-engine/request.js';
import { Responder } from '../text-engine/respond.js';
import { buildPromptInput } from '../text-engine/prompt-input.js';
import { errorReply } from '../text-engine/error-reply.js';
import { blockStartChunks } from './prefix-links.js';
import { KvFollower } from './kv-follower.js';
import { TrackedKvCache } from '../../core/routing/kv-cache-view.js';
import { prefixKeyOfText } from '../../core/routing/prefix-key.js';

/** Test hooks, set only programmatically (never from configuration or a request). */
export interface TrtllmTestHooks {
  /** The model's answer to these messages, scripted (then end of sequence); undefined = the engine model's own. */
  script?: (messages: readonly unknown[]) => string | undefined;
}

/** At most this many engine responses are handed to their requests per turn of the event loop (onBatch)… */
const RESPONSES_PER_TURN = 512;
/**
 * …and for at most this long (the clock read every RESPONSES_PER_CLOCK_READ): a slow machine or a
 * costly stream still yields. A streamed answer's events go to the client's socket within the
 * slice (the relay takes them from the Responder's EventFeed, core/server/sse-relay.ts relayFeed),
 * so the clock sees a token's whole work: decode, frame, observe, write. (Before, the relay read
 * each answer through a stream and did its share — split, parse, write, about twice as much — in
 * its own slices, core/server/turns.ts; at 10,000 streams event-loop lag p99 in the median second
 * read 36 ms with 4 ms slices here, 25 ms with 2 ms, 20 ms with 1 ms.)
 */
const TURN_BUDGET_MS = 1;
const RESPONSES_PER_CLOCK_READ = 32;

export class TrtllmBackend implements Backend {
  readonly id: string;
  readonly type = 'trtllm';
  readonly engine = 'trtllm';
  readonly simulated: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly capabilities: BackendCapabilities = { embeddings: false, kvEvents: true };
  private readonly opts: TrtllmOptions;
  private modelNames: string[];
  private pool?: TokenizerPool;
  private runtime?: Engine;
  private profile?: EngineProfile;
  private builder?: PromptBuilder;
  private readonly handlers = new Map<number, Responder>();
  /** Engine responses not yet handed to their requests (onBatch), and how far into the first batch. */
  private readonly undelivered: ResponseBatch[] = [];
  private deliveredOfFirst = 0;
  private inFlight = 0;
  private kv?: KvFollower;
  private retraction?: PrefixRetraction;
  private eventTimer?: NodeJS.Timeout;
  private kvView?: TrackedKvCache;
  private state: BackendHealth = { status: 'unknown', since: Date.now() };

  constructor(spec: BackendSpec, private readonly ctx: PluginContext, private readonly hooks: TrtllmTestHooks = {}) {
    this.id = spec.id;
    this.opts = readTrtllmOptions(spec.options);
    this.simulated = this.opts.executor === 'model';
    this.labels = spec.labels;
    this.modelNames = spec.models ?? [];
  }

  models(): readonly string[] {
    return this.modelNames;
  }

  async start(): Promise<void> {
    const o = this.opts;
    this.pool = new TokenizerPool({
      threads: o.tokenizerParallelism, tokenizerJsonPath: o.tokenizerJson, tokenizerConfigPath: o.tokenizerConfig, forceTokens: o.forceTokens,
    });
    await this.pool.ready();
    const tokenizer = this.pool.tokenizer;
    // Every stream's tokens are decoded here, on the event loop: its tables are built now, not at a first token.
    tokenizer.prepareForServing();
    this.builder = createPromptBuilder(o.promptStyle, tokenizer);
    if (o.executor === 'model') {
      // A profiles file of the operator's own models their hardware; the shipped one is the default.
      const sim = loadProfile(o.profile!, o.profilesFile === undefined ? undefined : path.resolve(this.ctx.configDir, o.profilesFile));
      this.profile = {
        ...sim.engineProfile,
        enablePrefixCaching: o.enableKvCacheReuse,
        schedulerPolicy: o.schedulerPolicy ?? sim.engineProfile.schedulerPolicy,
        maxBatchSize: o.maxBatchSize ?? sim.engineProfile.maxBatchSize,
        chunkedPrefill: o.enableChunkedContext ?? sim.engineProfile.chunkedPrefill,
        numBlocks: o.kvCacheMaxTokens === undefined ? sim.engineProfile.numBlocks
          : Math.min(sim.engineProfile.numBlocks, Math.ceil(o.kvCacheMaxTokens / sim.engineProfile.blockSize)),
        maxNumTokens: o.maxNumTokens ?? sim.engineProfile.maxNumTokens,
        maxQueueSize: o.maxQueueSize ?? sim.engineProfile.maxQueueSize,
      };
      if (this.modelNames.length === 0) this.modelNames = [sim.model];
    } else {
      // The TensorRT-LLM executor reads its KV size and block size from the engine directory and
      // GPU memory: blockSize and numBlocks below are placeholders the executor ignores, never
      // published (capabilities stay undefined until the engine reports them; learnCapacity).
      // The addon rejects this executor in builds without TensorRT-LLM (validation says so first).
      this.profile = { name: o.engineDir!, blockSize: 1, numBlocks: 1, maxBatchSize: o.maxBatchSize ?? 256,
        // TensorRT-LLM's build default max_num_tokens; a larger value than the engine's is refused.
        maxNumTokens: o.maxNumTokens ?? 8192, chunkedPrefill: o.enableChunkedContext ?? false, enablePrefixCaching: o.enableKvCacheReuse,
        schedulerPolicy: o.schedulerPolicy ?? 'guaranteed-no-evict', stepBaseMs: 0, stepPerSeqMs: 0, stepPerPrefillTokenMs: 0,
        stepPerKvTokenMs: 0, maxModelLen: 32768, maxQueueSize: o.maxQueueSize ?? 0 };
      if (this.modelNames.length === 0) throw new Error(`backend ${this.id}: list the served model name under models:`);
    }
    this.runtime = new Engine({
      profile: this.profile,
      executor: o.executor,
      engineDir: o.engineDir,
      kvCacheFreeGpuMemoryFraction: o.kvCacheFreeGpuMemoryFraction,
      timeScale: o.timeScale,
      outputTokenPool: buildOutputTokenPool(tokenizer),
      kvEventBufferSize: o.kvEventBuffer,
      // The engine model names its blocks with a per-process salt, as real engines may: nothing
      // here may depend on recomputing an engine's block hashes.
      blockHashSeed: o.executor === 'model' ? randomBytes(8).readBigUInt64LE() : undefined,
    }, (batch) => this.onBatch(batch));
    if (o.executor === 'model') {
      this.capabilities.blockSize = this.profile.blockSize;
      this.capabilities.kvCapacityTokens = this.profile.numBlocks * this.profile.blockSize;
    }
    if (o.kvEventBuffer > 0 && o.enableKvCacheReuse) {
      // The engine's KV events drive the router's picture of this backend's cache.
      const kv = new KvFollower(this.runtime, this.capabilities.blockSize);
      if (this.retraction) kv.onRetraction(this.retraction);
      this.kv = kv;
      this.eventTimer = setInterval(() => kv.poll(), 50);
      this.eventTimer.unref();
    }
    this.state = { status: 'healthy', since: Date.now() };
    this.ctx.log.info({ backend: this.id, executor: o.executor, profile: this.profile.name, simulated: this.simulated }, 'in-process engine started');
  }

  /**
   * An engine step answers every request in its batch at once: thousands of responses, each
   * decoded, framed and written to its client. Handed over in one go, they would hold the event
   * loop for hundreds of milliseconds (10,000 streams: ~0.5 s a step), stalling every other
   * request, timer and health check; so they are handed over in slices of RESPONSES_PER_TURN or
   * TURN_BUDGET_MS, whichever ends first, the event loop turning between slices. A request's
   * responses stay in order (one queue).
   */
  private onBatch(batch: ResponseBatch): void {
    this.undelivered.push(batch);
    if (this.undelivered.length === 1) this.deliver();
  }

  private deliver(): void {
    const until = performance.now() + TURN_BUDGET_MS;
    let budget = RESPONSES_PER_TURN;
    while (this.undelivered.length > 0 && budget > 0) {
      const batch = this.undelivered[0];
      const end = Math.min(batch.length, this.deliveredOfFirst + budget, this.deliveredOfFirst + RESPONSES_PER_CLOCK_READ);
      for (let i = this.deliveredOfFirst; i < end; i++) {
        // A response is made a JS object only here, as its turn comes (native/types.ts ResponseBatch).
        const h = this.handlers.get(batch.requestIdAt(i));
        if (!h) continue;
        const r = batch.at(i);
        if (r.isFinal) this.handlers.delete(r.requestId);
        h.onResponse(r);
      }
      budget -= end - this.deliveredOfFirst;
      this.deliveredOfFirst = end;
      if (end === batch.length) {
        this.undelivered.shift();
        batch.release();
        this.deliveredOfFirst = 0;
      }
      if (performance.now() >= until) break;
    }
    if (this.undelivered.length > 0) setImmediate(() => this.deliver());
  }

  /** Prefix chunk runs retracted from the router after engine evictions (for tests and admin). */
  get kvRetractions(): number {
    return this.kv?.links.retracted ?? 0;
  }

  /** Engine blocks linked to router chunks by exact byte offsets (the route renders this model's template). */
  get kvExactLinks(): number {
    return this.kv?.links.exactLinks ?? 0;
  }

  /** The KV tracker's counters (events, stored, removed, gaps…), for tests and admin. */
  get kvStats(): Readonly<Record<string, number>> | undefined {
    return this.kv?.tracker.stats;
  }

  /** The engine's KV cache per its events, for exact prefix routing (in process: always flowing). */
  get kvCache(): KvCacheView | undefined {
    if (!this.kv) return undefined;
    this.kvView ??= new TrackedKvCache(this.kv.tracker);
    return this.kvView;
  }

  onPrefixRetraction(listener: PrefixRetraction): void {
    this.retraction = listener;
    this.kv?.onRetraction(listener);
  }

  async dispatch(call: DispatchCall): Promise<DispatchReply> {
    if (!this.runtime || !this.pool || !this.builder || !this.profile) throw new Error(`backend ${this.id} is not started`);
    if (call.endpoint === 'embeddings') return errorReply(404, 'this engine serves no embeddings', null);
    try {
      return await this.generate(call);
    } catch (err) {
      if (err instanceof RequestError) return errorReply(err.status, err.message, err.param);
      if (err instanceof PromptError) return errorReply(400, err.message, err.param ?? null);
      throw err;
    }
  }

  /**
   * Where each engine block starts in the router's chunks, when the router keyed this very prompt
   * text (its chunk hashes are those of our text) and the tokenizer can say which bytes each token
   * covers; undefined otherwise (the tracker then maps proportionally).
   */
  private exactBlockStarts(call: DispatchCall, text: string | undefined, textIds: number[]): number[] | undefined {
    const hashes = call.prefixHashes;
    const blockSize = this.kv?.tracker.blockSize;
    if (!blockSize || text === undefined || !hashes || hashes.length === 0 || !call.prefixChunkBytes) return undefined;
    // A text of another length cannot be the router's: skip hashing it again.
    if (Math.floor(Buffer.byteLength(text) / call.prefixChunkBytes) !== hashes.length) return undefined;
    const own = prefixKeyOfText(text, call.prefixChunkBytes, typeof call.body.cache_salt === 'string' ? call.body.cache_salt : undefined).hashes;
    if (own.length !== hashes.length || own.some((h, i) => h !== hashes[i])) return undefined;
    const bytes = this.pool!.tokenizer.tokenByteLengths(textIds);
    if (!bytes) return undefined;
    return blockStartChunks(bytes, this.opts.prefixTokensId.length, blockSize, call.prefixChunkBytes);
  }

  private async generate(call: DispatchCall): Promise<DispatchReply> {
    // These engines take a prompt the gateway renders: a large body's held fields are needed here.
    const params = readParams(hasHeldFields(call.body) ? await materializeBody(call.body) : call.body, call.endpoint === 'chat');
    const tokenizer = this.pool!.tokenizer;
    const input = await buildPromptInput(this.pool!, this.builder!, params);
    let ids = input.ids;
    const { text, stopWords } = input;
    const blockStarts = this.exactBlockStarts(call, text, ids);
    ids = [...this.opts.prefixTokensId, ...ids, ...this.opts.suffixTokensId];
    const maxLen = this.profile!.maxModelLen;
    const maxTokens = params.maxTokens ?? maxLen - ids.length;
    if (ids.length + maxTokens > maxLen) {
      throw new RequestError(`This model's maximum context length is ${maxLen} tokens; the prompt has ${ids.length} and max_tokens is ${maxTokens}`, 'max_tokens');
    }
    if (call.cancel.aborted) throw new Error('aborted before the engine saw the request');
    const scripted = this.hooks.script?.(params.messages ?? []);
    const requestId = this.enqueue({
      inputTokenIds: Int32Array.from(ids), maxTokens, endId: tokenizer.eosTokenId,
      stopTokenSequences: params.stopTokenIds.map((t) => [t]), ignoreEos: params.ignoreEos, minTokens: params.minTokens,
      streaming: true, ...params.sampling,
      scriptedOutput: scripted === undefined ? undefined : tokenizer.encode(scripted, { addSpecialTokens: false }),
    });
    const responder = new Responder({
      params, model: String(call.body.model ?? this.modelNames[0]), promptTokens: ids.length,
      decoder: new StreamDecoder(tokenizer, { skipSpecialTokens: true, context: ids }),
      stops: [...params.stop, ...stopWords], toolFormat: this.opts.promptStyle,
      cancel: () => this.runtime?.cancel(requestId),
      // A reader that goes away (client gone) cancels the engine request too.
      abandon: () => this.runtime?.cancel(requestId),
    });
    this.handlers.set(requestId, responder);
    this.kv?.link(ids, call.prefixHashes, blockStarts);
    this.inFlight++;
    const onAbort = () => this.runtime?.cancel(requestId);
    const unsubscribe = call.cancel.onCancel(onAbort);
    void responder.whenFinished().then(() => {
      this.inFlight--;
      unsubscribe();
    });
    if (!params.stream) await responder.whenFinished();
    return {
      status: 200,
      headers: { 'content-type': params.stream ? 'text/event-stream' : 'application/json' },
      // Made when read: a stream's reader takes `events` (each event straight to the client) or this.
      get body() { return responder.body; },
      events: params.stream ? responder : undefined,
    };
  }

  /**
   * The engine refuses a request it can never serve (400), or cannot take now: a full queue is a
   * 429, which the gateway retries on another backend and else answers as upstream_rate_limited;
   * a closing engine is a 503. Neither marks the backend broken.
   */
  private enqueue(request: Parameters<Engine['enqueue']>[0]): number {
    try {
      return this.runtime!.enqueue(request);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new RequestError(message, null, isQueueFull(err) ? 429 : /shut down|closed/.test(message) ? 503 : 400);
    }
  }

  parseError(status: number, body: string): UpstreamError {
    return parseOpenAiError(status, body);
  }

  signals(): LoadSignals {
    if (!this.runtime) return { inFlight: this.inFlight, updatedAt: 0 };
    const s = this.runtime.snapshot();
    this.learnCapacity(s);
    return { inFlight: this.inFlight, running: s.running, waiting: s.waiting, kvUsage: s.kvUsage,
      prefixHitRate: s.prefixQueryTokens > 0 ? s.prefixHitTokens / s.prefixQueryTokens : undefined, updatedAt: Date.now() };
  }

  /**
   * TensorRT-LLM's KV size and block size come from the engine, not the config: they become
   * capabilities once its iteration stats (or KV events) report them. Undefined until then — a
   * wrong number would make the router think the cache full or empty.
   */
  private learnCapacity(s: EngineSnapshot): void {
    if (this.opts.executor === 'model') return;
    const blockSize = s.blockSize > 0 ? s.blockSize : this.kv?.tracker.blockSize;
    const numBlocks = s.numBlocks > 0 ? s.numBlocks : this.kv?.tracker.numBlocks;
    if (blockSize) {
      this.capabilities.blockSize = blockSize;
      this.kv?.tracker.learnBlockSize(blockSize);
    }
    if (blockSize && numBlocks) this.capabilities.kvCapacityTokens = numBlocks * blockSize;
  }

  health(): BackendHealth {
    return this.state;
  }

  async close(): Promise<void> {
    this.state = { status: 'unhealthy', reason: 'closed', since: Date.now() };
    if (this.eventTimer) clearInterval(this.eventTimer);
    this.runtime?.close();
    await this.pool?.close();
  }
}

const plugin: BackendPlugin = {
  type: 'trtllm',
  inProcess: true,
  validate: validateTrtllmOptions,
  create: (spec, ctx) => new TrtllmBackend(spec, ctx),
};
export default plugin;
