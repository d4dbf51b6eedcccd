/**
 * A vLLM backend's KV cache, followed through vLLM's own KV-cache events over ZMQ (one subscriber
 * per data-parallel rank; rank r publishes on port + r, vllm/distributed/kv_events.py) into one
 * KvTracker, so the router matches requests exactly (core/routing/exact-prefix.ts).
 *
 * - Engine hashes are namespaced by rank: two ranks holding the same tokens are two engine blocks,
 *   and one rank's eviction leaves the other's copy held.
 * - Blocks keyed by more than their tokens (a LoRA adapter, cache_salt, multimodal inputs) carry
 *   those extra keys into the chain (blockExtra below): a plain prompt never matches them. A
 *   request with a cache_salt is keyed the same way and matches its own salted blocks exactly;
 *   requests with multimodal inputs (whose hashes the gateway cannot compute) go by the
 *   approximate index (core/server/request-tokens.ts).
 * - Only blocks that can serve a request here are tracked: the GPU medium (absent or null on
 *   releases that did not say), full-attention groups, and stored events that carry their
 *   tokens (KV connectors have sent them without: unknowable, skipped).
 * - A resync (a gap the replay could not fill, a publisher restart) clears the backend's picture:
 *   it relearns from the events that follow. While a subscription is down, matching for the
 *   backend falls back to approximate (the view is not live).
 */
import { VllmKvEventSubscriber, type DeliveredBatch } from '../../core/kv-events/vllm-subscriber.js';
import type { KvEvent as VllmKvEvent, EngineHash } from '../../core/kv-events/vllm-events.js';
import { offsetEndpointPort } from '../../core/kv-events/zmtp-endpoint.js';
import type { EngineLoad } from '../../core/plugin/engine-load.js';
import type { PluginLogger } from '../../core/plugin/types.js';
import { TrackedKvCache } from '../../core/routing/kv-cache-view.js';
import { extraKeyText, KvTracker, type KvEvent } from '../../core/routing/kv-tracker.js';
import type { KvEventsSource } from '../http/define.js';

export interface VllmKvEventsOptions {
  endpoint: string;
  replay?: string;
  topic: string;
  blockSize?: number;
  /** Data-parallel ranks publishing on consecutive ports (default 1). */
  dpSize: number;
}

const KEYS = ['endpoint', 'replay', 'topic', 'block_size', 'dp_size'];

export function validateVllmKvEvents(v: unknown): string[] {
  if (v === undefined) return [];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`kv_events: expected { endpoint, replay, topic, block_size, dp_size }, got ${JSON.stringify(v)}`];
  const o = v as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) problems.push(`kv_events.${k}: not a known option (known: ${KEYS.join(', ')})`);
  const endpoint = (k: string) => {
    if (o[k] === undefined) return;
    if (typeof o[k] !== 'string' || !/^(tcp:\/\/[^:]+:\d+|ipc:\/\/.+)$/.test(o[k] as string)) problems.push(`kv_events.${k}: expected tcp://host:port, got ${JSON.stringify(o[k])}`);
    else if ((o[k] as string).includes('*')) problems.push(`kv_events.${k}: the engine binds tcp://*:port; the gateway connects to its address, e.g. tcp://10.0.0.5:5557`);
  };
  if (o.endpoint === undefined) problems.push('kv_events.endpoint: required (the engine\'s ZMQ publisher, e.g. tcp://10.0.0.5:5557)');
  endpoint('endpoint');
  endpoint('replay');
  if (o.topic !== undefined && typeof o.topic !== 'string') problems.push('kv_events.topic: expected a string');
  for (const k of ['block_size', 'dp_size']) {
    if (o[k] !== undefined && !(typeof o[k] === 'number' && Number.isInteger(o[k]) && (o[k] as number) > 0)) problems.push(`kv_events.${k}: expected a positive integer, got ${JSON.stringify(o[k])}`);
  }
  return problems;
}

export function readVllmKvEvents(v: unknown): VllmKvEventsOptions | undefined {
  if (v === undefined) return undefined;
  const o = v as Record<string, unknown>;
  return {
    endpoint: o.endpoint as string,
    replay: typeof o.replay === 'string' ? o.replay : undefined,
    topic: typeof o.topic === 'string' ? o.topic : '',
    blockSize: typeof o.block_size === 'number' ? o.block_size : undefined,
    dpSize: typeof o.dp_size === 'number' ? o.dp_size : 1,
  };
}

const ranked = (rank: number, h: EngineHash): string => `${rank}:${typeof h === 'bigint' ? h.toString() : h}`;

function usable(medium: string | null | undefined): boolean {
  return medium === undefined || medium === null || medium.toUpperCase() === 'GPU';
}

/**
 * What vLLM keyed block `i` of a stored event by besides its tokens, as the tracker's canonical
 * text. vLLM hashes each block as hash((parent, tokens, extra_keys)), the extra keys being, in
 * order, the LoRA adapter's name, multimodal (mm_hash, offset) pairs, the request's cache_salt
 * (first block only) and prompt-embeds digests (vllm/v1/core/kv_cache_utils.py,
 * generate_block_hash_extra_keys). Releases since #33304 publish them per block (extra_keys);
 * before it only the LoRA adapter is known (lora_name, or lora_id before #27577), and it keys
 * every block.
 */
function blockExtra(e: { lora?: string | number | null; extraKeys?: unknown }, i: number): string | undefined {
  if (Array.isArray(e.extraKeys)) {
    const keys: unknown = e.extraKeys[i];
    return Array.isArray(keys) && keys.length > 0 ? extraKeyText(keys) : undefined;
  }
  return e.lora !== undefined && e.lora !== null ? extraKeyText([e.lora]) : undefined;
}

/** vLLM's events of one rank as the tracker's engine-neutral ones (see the header for what is skipped). */
export function trackerEvents(rank: number, events: readonly VllmKvEvent[]): KvEvent[] {
  const out: KvEvent[] = [];
  for (const e of events) {
    if (e.type === 'cleared') {
      // One tracker holds every rank: one rank's reset clears them all (errs toward "not cached").
      out.push({ type: 'cleared' });
    } else if (e.type === 'removed') {
      if (usable(e.medium) && (e.group ?? 0) === 0) out.push({ type: 'removed', hashes: e.hashes.map((h) => ranked(rank, h)) });
    } else if (usable(e.medium) && (e.group ?? 0) === 0 && (e.cacheSpec ?? 'full_attention') === 'full_attention' && e.blocks.length > 0 && e.blocks.every((b) => b.tokens.length > 0)) {
      out.push({
        type: 'stored', parentHash: e.parentHash === null ? null : ranked(rank, e.parentHash),
        blocks: e.blocks.map((b, i) => {
          const extra = blockExtra(e, i);
          return { hash: ranked(rank, b.hash), tokens: b.tokens, ...(extra !== undefined ? { extra } : {}) };
        }),
      });
    }
  }
  return out;
}

export class VllmKvFollower implements KvEventsSource {
  readonly tracker: KvTracker;
  readonly view: TrackedKvCache;
  private readonly subscribers: VllmKvEventSubscriber[] = [];

  constructor(private readonly opts: VllmKvEventsOptions, private readonly backendId: string, private readonly log: PluginLogger) {
    this.tracker = new KvTracker({ blockSize: opts.blockSize });
    this.view = new TrackedKvCache(this.tracker, {
      live: () => this.subscribers.length > 0 && this.subscribers.every((s) => s.status.connected),
      describe: () => ({ source: 'vLLM ZMQ KV events', subscriptions: this.subscribers.map((s) => s.status) }),
    }, true);
  }

  start(): void {
    for (let rank = 0; rank < this.opts.dpSize; rank++) {
      this.subscribers.push(new VllmKvEventSubscriber({
        endpoint: offsetEndpointPort(this.opts.endpoint, rank),
        replayEndpoint: this.opts.replay ? offsetEndpointPort(this.opts.replay, rank) : null,
        topic: this.opts.topic,
        onBatch: (batch: DeliveredBatch) => this.tracker.apply(trackerEvents(rank, batch.events)),
        onResync: (reason, detail) => {
          // The picture can no longer be vouched for: forget it and relearn from what follows.
          this.tracker.apply([{ type: 'cleared' }]);
          this.log.warn({ backend: this.backendId, rank, reason, detail }, 'KV events resynced: exact prefix state cleared');
        },
        log: { warn: (obj, msg) => this.log.warn({ backend: this.backendId, rank, ...obj }, msg) },
      }));
    }
  }

  /** vLLM's block size from its cache config (the metrics), for a tracker not told one (events carry it too). */
  onLoad(load: EngineLoad): void {
    if (load.blockSize) this.tracker.learnBlockSize(load.blockSize);
  }

  close(): void {
    for (const s of this.subscribers) s.close();
  }
}
