/**
 * The kit every engine reached over HTTP is built from. A plugin describes its engine — its
 * `type:`, the HTTP defaults it differs in, where its load comes from, how its error bodies look,
 * its KV-cache events, how requests reach it — and `defineHttpEngine` makes the BackendPlugin.
 * The shared parts (connection pool, header allowlist, health checks, load polling, model
 * discovery, option parsing) live beside this file, composed by HttpEngineBackend; an engine
 * never overrides them.
 */
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import type {
  BackendCapabilities, BackendPlugin, BackendSpec, DispatchCall, DispatchReply, KvCacheView, PluginContext, UpstreamError,
} from '../../core/plugin/types.js';
import type { KvEvent } from '../../core/routing/kv-tracker.js';
import { HttpEngineBackend } from './backend.js';
import type { EngineClient } from './client.js';
import { validateHttpOptions, type HttpBackendOptions } from './options.js';

/** What an engine's parts see of the backend they belong to. */
export interface EngineHandle {
  readonly id: string;
  /** The engine label (HttpEngine.engine, resolved). */
  readonly engine: string;
  readonly spec: BackendSpec;
  readonly ctx: PluginContext;
  readonly options: HttpBackendOptions;
  /** The backend's capabilities: a part may learn the engine's block size or how its load is read. */
  readonly capabilities: BackendCapabilities;
  readonly client: EngineClient;
  models(): readonly string[];
  /** Requests this gateway process has in flight on the engine. */
  inFlight(): number;
  parseError(status: number, body: string): UpstreamError;
}

/** One read of the engine's load; undefined when there is none to read (yet, or here). */
export type LoadReader = () => Promise<EngineLoad | undefined>;

/** How requests reach the engine: passed through to its OpenAI API, or translated (plugins/text-engine). */
export interface EngineDispatch {
  /** Requests in flight there from this process, as this dispatch counts them. */
  readonly inFlight: number;
  dispatch(call: DispatchCall): Promise<DispatchReply>;
  /** Before the first health check (a tokenizer to load, say). */
  start?(): Promise<void>;
  /** After the connection pool has closed. */
  close?(): Promise<void>;
}

/** The engine's KV-cache events, followed for exact prefix routing. */
export interface KvEventsSource {
  readonly view: KvCacheView;
  /** Called first in start(): a subscription made before the engine is asked anything loses no events. */
  start?(): void;
  /** An endpoint polled on an interval once the backend has started. */
  readonly poll?: { intervalMs: number; run(): Promise<void> };
  /** Each load read, before the backend folds it in (the engine's block size, say). */
  onLoad?(load: EngineLoad): void;
  /** Events another gateway replica read from this engine and shared (Backend.applySharedKvEvents). */
  applyShared?(events: readonly KvEvent[]): void;
  close?(): void;
}

/** One engine, described. Only `type` and `engine` are required; the rest defaults to a plain OpenAI-compatible server. */
export interface HttpEngine {
  /** The plugin's `type:` in the config. */
  type: string;
  /** The engine label for metrics and `owned_by`; a function where an option names it. */
  engine: string | ((options: Record<string, unknown>) => string);
  /** HTTP option defaults this engine differs in (plugins/http/options.ts); a user's option wins. */
  defaults?: Partial<HttpBackendOptions> | ((options: Record<string, unknown>) => Partial<HttpBackendOptions>);
  /** The engine's own option keys beside the HTTP ones, and their checks. */
  options?: { keys: readonly string[]; validate(options: Record<string, unknown>): string[] };
  /** The models when `models:` lists none and GET /v1/models would not say. */
  models?(options: Record<string, unknown>): string[];
  /** Throws on a spec that only the whole section shows wrong (the options alone pass). */
  check?(spec: BackendSpec): void;
  /** Where its load comes from; absent: only what this process has in flight there. */
  load?(engine: EngineHandle): LoadReader;
  /** Its error bodies in one shape; absent: what any OpenAI-compatible server may answer. */
  parseError?(status: number, body: string): UpstreamError;
  /** Its KV-cache events, where the options turn them on. */
  kvEvents?(engine: EngineHandle): KvEventsSource | undefined;
  /** The engine's own token ids for a request body (Backend.tokenize). */
  tokenize?(engine: EngineHandle, body: Readonly<Record<string, unknown>>): Promise<number[]>;
  /** How requests reach it; absent: passed through to its OpenAI paths (pass-through.ts). */
  dispatch?(engine: EngineHandle): EngineDispatch;
}

/** The BackendPlugin for one described engine: its options checked, its backends built by the kit. */
export function defineHttpEngine(engine: HttpEngine): BackendPlugin {
  return {
    type: engine.type,
    validate: (options) => [...validateHttpOptions(options, engine.options?.keys), ...(engine.options?.validate(options) ?? [])],
    create: (spec, ctx) => {
      engine.check?.(spec);
      return new HttpEngineBackend(engine, spec, ctx);
    },
  };
}
