/**
 * `type: trtllm-serve` — load from trtllm-serve's Prometheus page `GET /prometheus/metrics` where
 * the release serves it (non-destructive: every gateway process reads it), else from `GET
 * /metrics`, a JSON list of iteration stats that drains on every read
 * (tensorrt_llm/serve/openai_server.py). Exactly one reader may poll the drained one: with several
 * gateway workers only the one the host marks `drainingReader` does.
 */
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import type { BackendPlugin, BackendSpec, KvCacheView, PluginContext, UpstreamError } from '../../core/plugin/types.js';
import { HttpBackend } from '../openai/http-backend.js';
import { readHttpOptions, validateHttpOptions } from '../openai/options.js';
import { parseTrtllmError } from './errors.js';
import { readTrtllmPrometheus, readTrtllmStats } from './load.js';
import { readKvEvents } from './kv-events.js';
import { KvTracker, type KvEvent } from '../../core/routing/kv-tracker.js';
import { TrackedKvCache } from '../../core/routing/kv-cache-view.js';

export class TrtllmServeBackend extends HttpBackend {
  readonly engine = 'trtllm-serve';
  private last: EngineLoad | undefined;
  /** Which page the load comes from, settled by the first read. */
  private source: 'prometheus' | 'drained' | undefined;
  private progress: string | undefined;

  /** The engine's KV cache per its events (`kv_events:` option), polled by the draining reader. */
  private readonly kv?: {
    tracker: KvTracker; view: TrackedKvCache; intervalMs: number; lastOk: number; lastError?: string; timer?: NodeJS.Timeout;
    /** When this replica last shared (reader) or received (follower) events or a heartbeat. */
    lastShared: number; lastReceived: number;
  };

  constructor(spec: BackendSpec, ctx: PluginContext) {
    super(spec, ctx, readHttpOptions(spec.options, ctx));
    const kv = readKvEventsOption(spec.options.kv_events);
    if (kv) {
      const tracker = new KvTracker({ blockSize: kv.blockSize });
      // Live while polls succeed: a poll that fails, or a reader that stopped, leaves matching approximate.
      const state = { tracker, intervalMs: kv.intervalMs, lastOk: 0, lastShared: 0, lastReceived: 0 } as NonNullable<TrtllmServeBackend['kv']>;
      const fresh = (t: number) => Date.now() - t < Math.max(3000, 4 * state.intervalMs);
      state.view = new TrackedKvCache(tracker, {
        // The reader polls (the endpoint drains); the other replicas follow what it shares.
        live: () => (this.ctx.drainingReader ? fresh(state.lastOk) : fresh(state.lastReceived)),
        describe: () => ({
          source: this.ctx.drainingReader ? 'POST /kv_cache_events (this replica reads it)' : 'shared by the replica that reads POST /kv_cache_events',
          last_poll_ok: state.lastOk ? new Date(state.lastOk).toISOString() : null, last_error: state.lastError,
          last_shared_received: state.lastReceived ? new Date(state.lastReceived).toISOString() : null,
        }),
      });
      this.kv = state;
    }
  }

  get kvCache(): KvCacheView | undefined {
    return this.kv?.view;
  }

  async start(): Promise<void> {
    await super.start();
    const kv = this.kv;
    if (!kv) return;
    let polling = false;
    kv.timer = setInterval(() => {
      if (polling || !this.ctx.drainingReader) return;
      polling = true;
      this.pollKvEvents().finally(() => { polling = false; });
    }, kv.intervalMs);
    kv.timer.unref();
  }

  private async pollKvEvents(): Promise<void> {
    const kv = this.kv!;
    try {
      const res = await this.post('/kv_cache_events', {});
      if (res.status !== 200) throw new Error(`POST /kv_cache_events answered ${res.status}`);
      const events = readKvEvents(res.body);
      kv.tracker.apply(events);
      kv.lastOk = Date.now();
      kv.lastError = undefined;
      // The other gateway replicas follow through the store: every batch, and a heartbeat a second.
      if (events.length > 0 || kv.lastOk - kv.lastShared >= 1000) {
        this.ctx.shareKvEvents?.(this.id, events);
        kv.lastShared = kv.lastOk;
      }
    } catch (err) {
      kv.lastError = err instanceof Error ? err.message : String(err);
    }
  }

  /** Events the reading replica shared: applied as if polled here (their ids catch what was lost). */
  applySharedKvEvents(events: readonly KvEvent[]): void {
    if (!this.kv || this.ctx.drainingReader) return;
    this.kv.tracker.apply(events);
    this.kv.lastReceived = Date.now();
  }

  async close(): Promise<void> {
    if (this.kv?.timer) clearInterval(this.kv.timer);
    await super.close();
  }

  protected async readLoad(): Promise<EngineLoad | undefined> {
    if (this.source !== 'drained') {
      const res = await this.get('/prometheus/metrics');
      if (res.status === 200) {
        this.source = 'prometheus';
        return this.readPrometheus(res.body);
      }
      if (this.source === 'prometheus') throw new Error(`GET /prometheus/metrics answered ${res.status}`);
      this.source = 'drained';
      // One gateway process reads it and shares what it read (the state store's reader lease).
      this.capabilities.loadReadByOne = true;
    }
    // The drained JSON page: one reader only, or iterations are stolen from each other.
    if (!this.ctx.drainingReader) return undefined;
    const res = await this.get('/metrics');
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    this.last = readTrtllmStats(JSON.parse(res.body) as unknown, this.last, this.inFlightHere === 0);
    return this.last;
  }

  private readPrometheus(text: string): EngineLoad {
    const { load, progress } = readTrtllmPrometheus(text);
    // The gauges hold the last iteration's values; no iteration since the last read while
    // nothing of ours is in flight there means the engine is idle (other gateways' requests
    // would have made it iterate).
    const stalled = progress !== undefined && progress === this.progress;
    this.progress = progress;
    return stalled && this.inFlightHere === 0 ? { ...load, running: 0, waiting: 0 } : load;
  }

  parseError(status: number, body: string): UpstreamError {
    return parseTrtllmError(status, body);
  }
}

/** `kv_events: true` or `{ interval_ms, block_size }`: follow the engine's KV-cache events. */
function readKvEventsOption(v: unknown): { intervalMs: number; blockSize?: number } | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return { intervalMs: 100 };
  const o = v as { interval_ms?: number; block_size?: number };
  return { intervalMs: o.interval_ms ?? 100, blockSize: o.block_size };
}

function validateKvEvents(v: unknown): string[] {
  if (v === undefined || typeof v === 'boolean') return [];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`kv_events: expected true, false or { interval_ms, block_size }, got ${JSON.stringify(v)}`];
  const problems: string[] = [];
  for (const [k, x] of Object.entries(v)) {
    if (k !== 'interval_ms' && k !== 'block_size') problems.push(`kv_events.${k}: not a known option (known: interval_ms, block_size)`);
    else if (!(typeof x === 'number' && Number.isInteger(x) && x > 0)) problems.push(`kv_events.${k}: expected a positive integer, got ${JSON.stringify(x)}`);
  }
  return problems;
}

const plugin: BackendPlugin = {
  type: 'trtllm-serve',
  validate: (options) => [...validateHttpOptions(options, ['kv_events']), ...validateKvEvents(options.kv_events)],
  create: (spec, ctx) => new TrtllmServeBackend(spec, ctx),
};
export default plugin;
