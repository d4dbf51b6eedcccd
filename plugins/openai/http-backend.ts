/**
 * A backend reached over HTTP with an OpenAI-compatible API: one undici Pool per upstream with
 * keep-alive, active health checks plus passive failure counting, and an optional load reader
 * polled on an interval. The engine plugins (vllm, lmdeploy, trtllm-serve) differ only in how they
 * read load, parse errors and check health; the openai plugin uses it as is.
 */
import { Pool, request } from 'undici';
import { encodeBody } from '../../core/plugin/body.js';
import { intervalHitRate, type EngineLoad } from '../../core/plugin/engine-load.js';
import type {
  Backend, BackendCapabilities, BackendHealth, BackendSpec, DispatchCall, DispatchReply, LoadSignals,
  PluginContext, UpstreamError,
} from '../../core/plugin/types.js';
import type { HttpBackendOptions } from './options.js';
import { UpstreamAnswer } from './upstream-answer.js';

const PATHS = { chat: '/v1/chat/completions', completions: '/v1/completions', embeddings: '/v1/embeddings', responses: '/v1/responses' } as const;

/**
 * The client headers an engine gets: an allowlist. What the answer should look like (Accept) and
 * the caller's trace context (W3C traceparent, tracestate, baggage), plus the names a backend's
 * `forward_headers:` option adds. Everything else — credentials (a gateway API key is not the
 * engine's), cookies, the proxy trail (Forwarded, X-Forwarded-*, X-Real-IP), hop-by-hop headers —
 * is the client's business with the gateway: a client cannot speak for the gateway to its engines.
 * The gateway sets Content-Type, X-Request-Id and the backend's own Authorization itself.
 */
const FORWARDED = ['accept', 'traceparent', 'tracestate', 'baggage'];

export abstract class HttpBackend implements Backend {
  readonly id: string;
  readonly type: string;
  abstract readonly engine: string;
  readonly simulated: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly capabilities: BackendCapabilities;
  protected readonly base: URL;
  protected readonly pool: Pool;
  private modelNames: string[];
  private load: EngineLoad = {};
  private loadAt = 0;
  private inFlight = 0;
  private state: BackendHealth = { status: 'unknown', since: Date.now() };
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  /** Client headers passed to the engine (FORWARDED and the backend's forward_headers), lower-case. */
  private readonly forwarded: readonly string[];
  /** The last load read failed: the next failure is not logged again, the next success is. */
  private loadFailing = false;

  constructor(readonly spec: BackendSpec, protected readonly ctx: PluginContext, protected readonly options: HttpBackendOptions) {
    this.id = spec.id;
    this.type = spec.type;
    this.simulated = spec.simulated;
    this.labels = spec.labels;
    this.base = new URL(spec.url);
    this.modelNames = spec.models ?? [];
    this.forwarded = [...new Set([...FORWARDED, ...options.forwardHeaders.map((h) => h.toLowerCase())])];
    // Block size and capacity from the options until the engine reports its own (which wins).
    this.capabilities = { embeddings: options.embeddings, responses: options.responses, kvEvents: false, cachedTokens: options.cachedTokens, blockSize: options.blockSize, kvCapacityTokens: options.kvCapacityTokens };
    this.pool = new Pool(this.base.origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.headersTimeoutMs,
      // A stream may legitimately pause (a long prefill behind a queue); a stalled one is cut
      // after this long without a byte.
      bodyTimeout: options.bodyTimeoutMs,
    });
  }

  /** Requests this process has in flight on the backend (an engine idle for us may be idle). */
  protected get inFlightHere(): number {
    return this.inFlight;
  }

  /** Read the engine's load; undefined when this engine reports none. */
  protected abstract readLoad(): Promise<EngineLoad | undefined>;
  abstract parseError(status: number, body: string): UpstreamError;

  models(): readonly string[] {
    return this.modelNames;
  }

  async start(): Promise<void> {
    if (this.modelNames.length === 0) this.modelNames = await this.discoverModels();
    await this.checkHealth();
    await this.refreshLoad();
    this.every(this.options.healthIntervalMs, () => this.checkHealth());
    if (this.options.loadIntervalMs > 0) this.every(this.options.loadIntervalMs, () => this.refreshLoad());
  }

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
        const res = await this.get('/v1/models');
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
    throw new Error(`backend ${this.id}: could not discover models at ${this.base.origin}: ${lastError}; list them under \`models:\``);
  }

  protected async get(path: string): Promise<{ status: number; body: string }> {
    const res = await request(new URL(path, this.base), {
      method: 'GET', dispatcher: this.pool, headersTimeout: this.options.healthTimeoutMs, bodyTimeout: this.options.healthTimeoutMs,
      headers: this.authHeaders(),
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  /** A small JSON POST outside the request path (tokenize checks and the like). */
  protected async post(path: string, body: unknown): Promise<{ status: number; body: string }> {
    const res = await request(new URL(path, this.base), {
      method: 'POST', dispatcher: this.pool, headersTimeout: this.options.healthTimeoutMs, bodyTimeout: this.options.healthTimeoutMs,
      headers: { 'content-type': 'application/json', ...this.authHeaders() }, body: JSON.stringify(body),
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  protected authHeaders(): Record<string, string> {
    return this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {};
  }

  private async checkHealth(): Promise<void> {
    try {
      const res = await this.get(this.options.healthPath);
      if (res.status >= 200 && res.status < 300) {
        this.setHealth('healthy');
      } else {
        this.setHealth('unhealthy', `health check answered ${res.status}`);
      }
    } catch (err) {
      // /ready shows the reason to anyone who asks: the kind of failure, never the engine's
      // address (`connect ECONNREFUSED 10.0.0.5:8000`); the log line has the whole message.
      const code = (err as { code?: unknown } | null)?.code;
      const message = err instanceof Error ? err.message : String(err);
      if (this.state.status !== 'unhealthy') this.ctx.log.warn({ backend: this.id, err: message }, 'health check failed');
      this.setHealth('unhealthy', `health check failed${typeof code === 'string' ? ` (${code})` : ''}`);
    }
  }

  private async refreshLoad(): Promise<void> {
    try {
      const load = await this.readLoad();
      if (load) {
        // Engines with hit/query counters (vLLM, trtllm-serve, LMDeploy ≥ 0.14) give a rate over
        // the interval since the previous read; older LMDeploy only a lifetime gauge.
        this.load = { ...load, prefixHitRate: load.prefixHitRate ?? intervalHitRate(this.load, load) ?? this.load.prefixHitRate };
        this.loadAt = Date.now();
        if (load.blockSize) this.capabilities.blockSize = load.blockSize;
        if (load.numBlocks && load.blockSize) this.capabilities.kvCapacityTokens = load.numBlocks * load.blockSize;
      }
      if (this.loadFailing) this.ctx.log.info({ backend: this.id }, 'engine load read recovered');
      this.loadFailing = false;
    } catch (err) {
      // Logged once per change, not on every interval: a dead engine would write a line each 500 ms.
      if (!this.loadFailing) this.ctx.log.warn({ backend: this.id, err: err instanceof Error ? err.message : String(err) }, 'engine load read failed');
      this.loadFailing = true;
    }
  }

  private setHealth(status: BackendHealth['status'], reason?: string): void {
    if (this.state.status !== status) {
      this.state = { status, reason, since: Date.now() };
      const log = status === 'healthy' ? this.ctx.log.info : this.ctx.log.warn;
      log.call(this.ctx.log, { backend: this.id, status, reason }, 'backend health changed');
    } else {
      this.state.reason = reason;
    }
  }

  health(): BackendHealth {
    return this.state;
  }

  signals(): LoadSignals {
    return {
      inFlight: this.inFlight,
      running: this.load.running,
      waiting: this.load.waiting,
      kvUsage: this.load.kvUsage,
      prefixHitRate: this.load.prefixHitRate,
      updatedAt: this.loadAt,
    };
  }

  /** The body the engine gets: engine-specific fields pass untouched; subclasses may add. */
  protected prepareBody(call: DispatchCall): Record<string, unknown> {
    return call.body;
  }

  dispatch(call: DispatchCall): Promise<DispatchReply> {
    const payload = encodeBody(this.prepareBody(call));
    // A large body is serialised by the worker that holds it (core/plugin/body.ts).
    return typeof payload === 'string' ? this.send(call, payload) : payload.then((bytes) => this.send(call, bytes));
  }

  private send(call: DispatchCall, payload: string | Uint8Array): Promise<DispatchReply> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': call.requestId, ...this.authHeaders() };
    for (const key of this.forwarded) {
      const v = call.headers[key];
      if (typeof v === 'string') headers[key] = v;
    }
    const { cancel } = call;
    if (cancel.reason) return Promise.reject(cancel.reason);
    this.inFlight++;
    return new Promise((resolve, reject) => {
      const answer = new UpstreamAnswer(
        (err) => (err ? reject(err) : resolve(answer)),
        () => {
          this.inFlight--;
          unsubscribe();
        },
      );
      const unsubscribe = cancel.onCancel((reason) => answer.abort(reason));
      this.pool.dispatch({ path: PATHS[call.endpoint], method: 'POST', headers, body: payload }, answer);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.pool.close();
  }
}
