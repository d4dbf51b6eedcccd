/**
 * A backend reached over HTTP, built from an engine's description (define.ts): one connection
 * pool per upstream with keep-alive, active health checks (passive failures are core's breaker),
 * the engine's load read on an interval, and its KV-cache events where it has them. Requests go
 * through the description's dispatch, OpenAI pass-through by default.
 */
import type {
  Backend, BackendCapabilities, BackendHealth, BackendSpec, DispatchCall, DispatchReply, KvCacheView, LoadSignals, PluginContext,
  UpstreamError,
} from '../../core/plugin/types.js';
import type { KvEvent } from '../../core/routing/kv-tracker.js';
import { EngineClient } from './client.js';
import type { EngineDispatch, EngineHandle, HttpEngine, KvEventsSource, LoadReader } from './define.js';
import { parseOpenAiError } from './errors.js';
import { HealthCheck } from './health.js';
import { LoadPoll } from './load.js';
import { readHttpOptions, type HttpBackendOptions } from './options.js';
import { PassThrough } from './pass-through.js';

export class HttpEngineBackend implements Backend {
  readonly id: string;
  readonly type: string;
  readonly engine: string;
  readonly simulated: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly capabilities: BackendCapabilities;
  // Present only where the engine has them: core asks `if (backend.tokenize)`.
  declare readonly tokenize?: (body: Readonly<Record<string, unknown>>) => Promise<number[]>;
  declare readonly applySharedKvEvents?: (events: readonly KvEvent[]) => void;
  private readonly options: HttpBackendOptions;
  private readonly client: EngineClient;
  private readonly requests: EngineDispatch;
  private readonly healthCheck: HealthCheck;
  private readonly load: LoadPoll;
  private readonly kv?: KvEventsSource;
  private modelNames: string[];
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(private readonly description: HttpEngine, spec: BackendSpec, ctx: PluginContext) {
    const { engine, defaults } = description;
    this.id = spec.id;
    this.type = spec.type;
    this.engine = typeof engine === 'string' ? engine : engine(spec.options);
    this.simulated = spec.simulated;
    this.labels = spec.labels;
    this.modelNames = spec.models ?? description.models?.(spec.options) ?? [];
    const options = readHttpOptions(spec.options, ctx, typeof defaults === 'function' ? defaults(spec.options) : defaults);
    this.options = options;
    // Block size and capacity from the options until the engine reports its own (which wins).
    this.capabilities = { embeddings: options.embeddings, responses: options.responses, kvEvents: false, cachedTokens: options.cachedTokens, blockSize: options.blockSize, kvCapacityTokens: options.kvCapacityTokens };
    this.client = new EngineClient(spec.url, options);
    this.healthCheck = new HealthCheck(this.client, options.healthPath, this.id, ctx.log);

    const handle: EngineHandle = {
      id: this.id, engine: this.engine, spec, ctx, options, capabilities: this.capabilities, client: this.client,
      models: () => this.modelNames,
      inFlight: () => this.requests.inFlight,
      parseError: (status, body) => this.parseError(status, body),
    };
    this.requests = description.dispatch?.(handle) ?? new PassThrough(this.client, options.forwardHeaders);
    this.kv = description.kvEvents?.(handle);
    this.load = new LoadPoll(this.loadReader(description.load?.(handle)), this.capabilities, this.id, ctx.log);
    const { tokenize } = description;
    if (tokenize) this.tokenize = (body) => tokenize(handle, body);
    const kv = this.kv;
    if (kv?.applyShared) this.applySharedKvEvents = (events) => kv.applyShared?.(events);
  }

  /** The engine's load reader (none: no load but ours), telling the KV-events source each read first. */
  private loadReader(read: LoadReader = async () => undefined): LoadReader {
    const kv = this.kv;
    if (!kv?.onLoad) return read;
    return async () => {
      const load = await read();
      if (load) kv.onLoad?.(load);
      return load;
    };
  }

  get kvCache(): KvCacheView | undefined {
    return this.kv?.view;
  }

  models(): readonly string[] {
    return this.modelNames;
  }

  async start(): Promise<void> {
    this.kv?.start?.();
    await this.requests.start?.();
    if (this.modelNames.length === 0) this.modelNames = await this.discoverModels();
    await this.healthCheck.check();
    await this.load.refresh();
    this.every(this.options.healthIntervalMs, () => this.healthCheck.check());
    if (this.options.loadIntervalMs > 0) this.every(this.options.loadIntervalMs, () => this.load.refresh());
    const poll = this.kv?.poll;
    if (poll) this.every(poll.intervalMs, () => poll.run());
  }

  /** `fn` every `ms`, never two at once, none after close. */
  private every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running || this.closed) return;
      running = true;
      fn().finally(() => { running = false; });
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** GET /v1/models, retried while the engine starts (an engine that is still loading refuses). */
  private async discoverModels(): Promise<string[]> {
    const deadline = Date.now() + this.options.discoveryTimeoutMs;
    let lastError = '';
    while (Date.now() < deadline && !this.closed) {
      try {
        const res = await this.client.get('/v1/models');
        if (res.status === 200) {
          const data = (JSON.parse(res.body) as { data?: Array<{ id?: unknown }> }).data ?? [];
          const ids = data.map((m) => m.id).filter((id): id is string => typeof id === 'string');
          if (ids.length > 0) return ids;
          lastError = 'the engine lists no models';
        } else {
          lastError = `GET /v1/models answered ${res.status}`;
        }
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`backend ${this.id}: could not discover models at ${this.client.base.origin}: ${lastError}; list them under \`models:\``);
  }

  health(): BackendHealth {
    return this.healthCheck.health;
  }

  signals(): LoadSignals {
    return this.load.signals(this.requests.inFlight);
  }

  parseError(status: number, body: string): UpstreamError {
    return (this.description.parseError ?? parseOpenAiError)(status, body);
  }

  dispatch(call: DispatchCall): Promise<DispatchReply> {
    return this.requests.dispatch(call);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.kv?.close?.();
    await this.client.close();
    await this.requests.close?.();
  }
}
