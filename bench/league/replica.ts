/**
 * One emulated replica of the league's fleet: an engine model on a manual clock, and the
 * Backend-shaped face the router sees — its load signals, its KV capacity, and (for exact
 * profiles) its KV cache as the engine's own events describe it, exactly as the in-process plugin
 * follows them (plugins/trtllm/kv-follower.ts).
 */
import { Engine } from '../../native/engine.js';
import { loadProfile } from '../../native/profiles.js';
import type { EngineProfile, EngineResponse, KvCacheEvent } from '../../native/types.js';
import type { Backend, BackendCapabilities, DispatchReply, LoadSignals } from '../../core/plugin/types.js';
import { KvTracker } from '../../core/routing/kv-tracker.js';
import { TrackedKvCache } from '../../core/routing/kv-cache-view.js';
import { toKvEvent } from '../../plugins/trtllm/kv-follower.js';
import type { ReplicaSpec } from './workload.js';

export const LEAGUE_MODEL = 'league';

/** The engine profile of a replica spec: native/profiles.yaml's, with the spec's KV override. */
export function engineProfileOf(spec: ReplicaSpec): EngineProfile {
  const p = loadProfile(spec.profile).engineProfile;
  return { ...p, numBlocks: spec.numBlocks ?? p.numBlocks, maxModelLen: spec.maxModelLen ?? p.maxModelLen };
}

/** The router's view of a replica: never dispatched to through HTTP; the harness feeds its engine. */
class ReplicaBackend implements Backend {
  readonly type = 'league';
  readonly engine = 'engine-model';
  readonly simulated = true;
  readonly labels = {};
  readonly capabilities: BackendCapabilities;
  current: LoadSignals = { inFlight: 0, updatedAt: 0 };

  constructor(readonly id: string, profile: EngineProfile, readonly kvCache?: TrackedKvCache) {
    this.capabilities = {
      embeddings: false, kvEvents: kvCache !== undefined, blockSize: profile.blockSize,
      kvCapacityTokens: profile.numBlocks * profile.blockSize, cachedTokens: 'reported',
    };
  }

  models(): readonly string[] {
    return [LEAGUE_MODEL];
  }

  async start(): Promise<void> {}

  dispatch(): Promise<DispatchReply> {
    return Promise.reject(new Error('league replicas are driven by the harness, not dispatched to'));
  }

  parseError(): { message: string } {
    return { message: '' };
  }

  signals(): LoadSignals {
    return this.current;
  }

  health(): { status: 'healthy'; since: number } {
    return { status: 'healthy', since: 0 };
  }

  async close(): Promise<void> {}
}

export class Replica {
  readonly engine: Engine;
  readonly backend: ReplicaBackend;
  readonly profile: EngineProfile;
  private readonly tracker?: KvTracker;
  /** Requests sent and not yet answered in full. */
  inFlight = 0;
  /** Requests sent over the run. */
  sent = 0;
  /** The step under way: it ends at `at`, when its responses and KV events become known. */
  pending?: { at: number; responses: EngineResponse[]; events: KvCacheEvent[] };
  /** Engine request id → the workload's request index. */
  readonly byEngineId = new Map<number, number>();

  constructor(readonly spec: ReplicaSpec, exact: boolean) {
    this.profile = engineProfileOf(spec);
    this.engine = new Engine({ profile: this.profile, clock: 'manual', kvEventBufferSize: exact ? 1 << 20 : 0 });
    if (exact) this.tracker = new KvTracker({ blockSize: this.profile.blockSize });
    this.backend = new ReplicaBackend(spec.id, this.profile, this.tracker && new TrackedKvCache(this.tracker));
  }

  /** Load signals as a gateway would read them at `now`: its own in-flight count (all of them when it is the only gateway) and the engine's gauges. */
  refreshSignals(now: number, inFlight = this.inFlight): void {
    const s = this.engine.snapshot();
    this.backend.current = { inFlight, running: s.running, waiting: s.waiting, kvUsage: s.kvUsage, updatedAt: now };
  }

  /** Runs the engine's next iteration; its results are delivered when it ends (`pending.at`). */
  startStep(): void {
    const responses = this.engine.step();
    const events = this.tracker ? this.engine.getLatestKvEvents() : [];
    this.pending = { at: this.engine.nowMs(), responses, events };
  }

  /** The finished step's KV events reach the router's picture of this replica. */
  applyEvents(events: readonly KvCacheEvent[]): void {
    if (this.tracker && events.length > 0) this.tracker.apply(events.map(toKvEvent));
  }

  close(): void {
    this.engine.close();
  }
}
