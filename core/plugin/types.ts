/**
 * The backend plugin seam. A plugin has a `type`, validates its own config section, and creates
 * Backends; core never asks which plugin it holds. The built-ins (bin/plugins.ts registers them:
 * core imports none) are vllm, lmdeploy, trtllm-serve, openai, trtllm (in process),
 * triton-trtllm, tgi and deepspeed-mii. A third-party plugin is a module whose default export is
 * a `BackendPlugin`.
 */
import type { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { Cancel } from './cancel.js';
import type { KvEvent } from '../routing/kv-tracker.js';

export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'responses';

/** A backend's view of its own load, refreshed from the engine and from the gateway's own counts. */
export interface LoadSignals {
  /** Requests this gateway process has in flight on the backend. */
  inFlight: number;
  /** Engine-reported running and waiting requests, KV usage 0..1; undefined until first read. */
  running?: number;
  waiting?: number;
  kvUsage?: number;
  /** Engine-reported prefix-cache hit rate 0..1 over the last read interval, when it reports one. */
  prefixHitRate?: number;
  /** When the engine's own numbers were last read (ms since epoch); 0 if never. */
  updatedAt: number;
}

export type HealthStatus = 'healthy' | 'unhealthy' | 'unknown';

export interface BackendHealth {
  status: HealthStatus;
  /** Why, for /ready and logs: "health check 503", "3 consecutive connection failures", … */
  reason?: string;
  since: number;
}

export interface BackendCapabilities {
  embeddings: boolean;
  /**
   * The engine serves the Responses API (`POST /v1/responses`, vLLM's): requests continuing a
   * response (`previous_response_id`) go back to the backend that produced it.
   */
  responses?: boolean;
  /** The engine publishes KV-cache events (exact prefix tracking). */
  kvEvents: boolean;
  /** KV block size in tokens, when known. */
  blockSize?: number;
  /** KV cache capacity in tokens, when the engine reports it (sizes the prefix index). */
  kvCapacityTokens?: number;
  /**
   * How the engine reports cached prompt tokens in `usage.prompt_tokens_details.cached_tokens`:
   * `reported` (an absent count means 0), `unreported` (never trust an absence), or undefined:
   * learned (absent means 0 once the engine has reported a non-zero count).
   */
  cachedTokens?: 'reported' | 'unreported';
  /**
   * The engine's load statistics drain on read (trtllm-serve's JSON /metrics), so exactly one
   * gateway replica reads them and shares what it read through the state store.
   */
  loadReadByOne?: boolean;
}

/** One request on its way to a backend. */
export interface DispatchCall {
  endpoint: Endpoint;
  /** The request body with `model` already rewritten to the engine's own name. */
  body: Record<string, unknown>;
  /**
   * `body` as JSON text made of the client's own bytes, when the gateway changed nothing in it or
   * only added a member in front (a stream's `stream_options`): a plugin that sends the body on as
   * JSON sends this instead of serialising it again (for a prompt of a few thousand tokens, tens of
   * microseconds a request).
   */
  bodyText?: string;
  stream: boolean;
  /**
   * Cancelled when the client goes away or the gateway gives up; must abort the upstream request.
   * `cancel.onCancel(fn)` is the cheap way to follow it; `cancel.signal` is an AbortSignal.
   */
  cancel: Cancel;
  requestId: string;
  /** Client headers worth forwarding (authorization to the engine is the backend's own). */
  headers: IncomingHttpHeaders;
  /**
   * The router's prefix-chunk hashes of this prompt (what it records this backend as holding):
   * always for a backend with `onPrefixRetraction`; for the others, when the route's policy keyed
   * the prompt to choose (the learner keys it after the dispatch otherwise).
   */
  prefixHashes?: readonly number[];
  /** Bytes of prompt text per prefix chunk (the routing config's chunk_bytes). */
  prefixChunkBytes?: number;
}

/**
 * Where a backend sees its engine's KV-cache events, it tells the router which of the prefix
 * chunks it was credited with are gone (evicted), so the router's picture follows the engine's
 * cache instead of a guess.
 */
export type PrefixRetraction = (chunkHashes: readonly number[]) => void;

/**
 * What a backend knows of its engine's KV cache from the engine's own KV-cache events (exact
 * prefix routing). Keys are Switchyard's block keys of token ids (core/routing/kv-tracker.ts
 * blockKey), never an engine's hash; the router keys a request's tokens the same way.
 */
export interface KvCacheView {
  /** Tokens per engine block, once known (from the events or the engine's config). */
  readonly blockSize: number | undefined;
  /** True while the events are flowing: a lost subscription or a resync makes matching approximate. */
  live(): boolean;
  /** Whether some engine block holds this key. */
  holds(key: number): boolean;
  /**
   * The engine keys a request's first block by its `cache_salt` and says so in its events (vLLM),
   * so a salted request can be matched exactly; elsewhere salted requests are matched approximately.
   */
  readonly keysCacheSalt?: boolean;
  /** Hears the block keys the engine's events say it no longer holds (the router drops its own speculation on them). */
  onRemoved?(listener: (keys: readonly number[]) => void): void;
  /** For /admin/routing: the subscription's state and the tracker's counts. */
  describe(): Record<string, unknown>;
}

/** The upstream's answer, before its body is read. */
export interface DispatchReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The answer's bytes as they arrive (streamed answers are relayed from here). */
  body: Readable;
  /**
   * Optional: the whole answer as text, for a plugin that can collect it more cheaply than
   * through `body` (core reads non-streamed answers and error bodies with it when present).
   * A caller uses one of `body`, `text()` and `bytes()`, never two.
   */
  text?(): Promise<string>;
  /**
   * Optional: the whole answer's bytes, undecoded; core relays a non-streamed answer from these
   * when present (no decode and re-encode of every answer). The same rule: one of `body`,
   * `text()` and `bytes()`.
   */
  bytes?(): Promise<Buffer>;
  /**
   * Optional: the whole answer's bytes when it has already ended (as a small answer usually has
   * by the time its status is handled), else undefined. Core relays those in the same call,
   * without waiting for a turn of the microtask queue; `bytes()` is not called after them.
   */
  readyBytes?(): Buffer | undefined;
  /**
   * Optional, streamed chat and completions answers: the answer's SSE events as the plugin makes
   * them, each with what the relay would otherwise parse out of its bytes. A plugin that makes the
   * events itself (an in-process engine) offers this so they go to the client's socket at once,
   * with no stream to pass through and no bytes to cut apart and parse again. The same rule: a
   * caller uses one of `body`, `text()`, `bytes()` and `events`.
   */
  events?: EventFeed;
}

/** One SSE event a plugin made, and what it says (the relay forwards `raw` and reads the rest). */
export interface MadeEvent {
  /** The event as it goes to the client, blank line included: `data: {...}\n\n`. */
  raw: string;
  /** It carries a token: text, reasoning or a tool-call delta (not a role-only or empty delta). */
  content?: boolean;
  /** A choice's finish_reason, when one is set. */
  finishReason?: string;
  usage?: { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } | null };
  /** The usage-only chunk (`"choices":[]`). */
  usageOnly?: boolean;
  /** `data: [DONE]`. */
  done?: boolean;
}

/** Where a feed's events go: called synchronously, in order; `end` or `fail` once, last. */
export interface EventSink {
  event(e: MadeEvent): void;
  end(): void;
  fail(err: Error): void;
}

export interface EventFeed {
  /** Sends the events to `sink`, those made before at once; once per feed. */
  attach(sink: EventSink): void;
  /** The reader has gone: make no more (the plugin cancels the engine's work). */
  cancel(): void;
}

/** An upstream error body, normalised from the engine's dialect. */
export interface UpstreamError {
  message: string;
  type?: string;
  param?: string | null;
  code?: string | number | null;
}

export interface Backend {
  readonly id: string;
  /** The plugin type that created it. */
  readonly type: string;
  /** The engine it fronts, for metrics and `owned_by`: "vllm", "lmdeploy", "trtllm-serve", … */
  readonly engine: string;
  /** True when the engine is an emulated (engine-model) replica. */
  readonly simulated: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly capabilities: BackendCapabilities;
  /** Engine model names served; known after `start()`. */
  models(): readonly string[];
  /** Discover models, begin health checks and load reads. Rejects only on a config error. */
  start(): Promise<void>;
  /**
   * Send one request. Resolves once the upstream's status and headers arrived; rejects on a
   * connection failure or an abort. The body must be consumed or destroyed by the caller.
   */
  dispatch(call: DispatchCall): Promise<DispatchReply>;
  /** Turn an engine's error body into one shape (each engine has its own; REFERENCE §1). */
  parseError(status: number, body: string): UpstreamError;
  signals(): LoadSignals;
  /** Backends with KV-cache events report evicted prefix chunks here (optional). */
  onPrefixRetraction?(listener: PrefixRetraction): void;
  /** The engine's KV cache as its events describe it, for exact prefix routing (optional). */
  readonly kvCache?: KvCacheView;
  /**
   * The engine's own token ids for a request body (`model` rewritten), where the engine can say
   * (vLLM's `/tokenize`): the gateway checks its exact-routing tokens against them (optional).
   */
  tokenize?(body: Readonly<Record<string, unknown>>): Promise<ArrayLike<number>>;
  /**
   * KV-cache events another gateway replica read from this backend's engine (it drains them) and
   * shared through the state store; an empty list is the reader's heartbeat (optional).
   */
  applySharedKvEvents?(events: readonly KvEvent[]): void;
  /** Active health (the engine's health endpoint); passive failures are core's circuit breaker. */
  health(): BackendHealth;
  close(): Promise<void>;
}

/** What core hands a plugin when it creates a backend. */
export interface PluginContext {
  /** Directory of the config file, for relative paths. */
  configDir: string;
  log: PluginLogger;
  limits: { connectTimeoutMs: number; headersTimeoutMs: number };
  /**
   * True in exactly one gateway process: endpoints that drain on read (trtllm-serve's /metrics and
   * /kv_cache_events) must have exactly one reader. Worker 0 of each gateway, and — when several
   * gateways share a Redis store — only the one that holds the store's reader lease. Read it at
   * every use: it changes when the lease moves.
   */
  readonly drainingReader: boolean;
  /**
   * The drain-on-read reader shares the KV-cache events it read from a backend's engine with the
   * other gateway replicas (through the state store); they arrive at applySharedKvEvents.
   */
  shareKvEvents?(backendId: string, events: readonly KvEvent[]): void;
}

export interface PluginLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** A backend's config section after core's checks (id, type, url, models, labels) and the plugin's own. */
export interface BackendSpec {
  id: string;
  type: string;
  url: string;
  models?: string[];
  labels: Record<string, string>;
  /** Everything else in the section, for the plugin to validate. */
  options: Record<string, unknown>;
  /** Set when the gateway started this backend's engine as an emulated replica. */
  simulated: boolean;
}

export interface BackendPlugin {
  readonly type: string;
  /** The engine runs inside the gateway: the backend has no `url`. */
  readonly inProcess?: boolean;
  /**
   * Check the plugin's own options; return error messages naming the key, e.g.
   * ["health_interval_ms: expected a positive integer"]. Empty when valid.
   */
  validate(options: Record<string, unknown>): string[];
  create(spec: BackendSpec, ctx: PluginContext): Backend;
}
