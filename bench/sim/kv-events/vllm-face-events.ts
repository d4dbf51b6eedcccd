/**
 * The emulated vLLM replica's KV-cache events, published as vLLM publishes them: the engine model's
 * stored / removed / cleared events, drained every few milliseconds, become one EventBatch per
 * drain on a ZMQ PUB socket (with a ROUTER replay socket), in the wire layout of the release the
 * face mirrors (vllm/distributed/kv_events.py ZmqEventPublisher). Enabled as vLLM is, with
 * `--kv-events-config '{"enable_kv_cache_events": true, "publisher": "zmq", "endpoint":
 * "tcp://*:5557", "replay_endpoint": "tcp://*:5558"}'`. The engine model salts its block hashes
 * per process, as vLLM's do without PYTHONHASHSEED: they are never Switchyard's.
 */
import type { Engine } from '../../../native/engine.js';
import type { KvCacheEvent } from '../../../native/types.js';
import type { KvEvent } from '../../../core/kv-events/vllm-events.js';
import { VllmKvEventPublisher } from './vllm-publisher.js';

export interface KvEventsConfig {
  endpoint: string;
  replayEndpoint?: string;
  topic?: string;
}

/** vLLM's `--kv-events-config` JSON (vllm/config/kv_events.py KVEventsConfig); undefined when events are off. */
export function parseKvEventsConfig(text: string): KvEventsConfig | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (err) {
    throw new Error(`--kv-events-config: not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error('--kv-events-config: expected a JSON object');
  const c = o as Record<string, unknown>;
  if (c.enable_kv_cache_events !== true) return undefined;
  if (c.publisher !== undefined && c.publisher !== 'zmq') throw new Error(`--kv-events-config: publisher ${JSON.stringify(c.publisher)}: the sim publishes over zmq only`);
  const str = (k: string) => (typeof c[k] === 'string' && c[k] !== '' ? (c[k] as string) : undefined);
  return { endpoint: str('endpoint') ?? 'tcp://*:5557', replayEndpoint: str('replay_endpoint'), topic: str('topic') ?? '' };
}

/** `tcp://*:5557` binds on the sim's host (loopback unless told otherwise). */
function bindable(endpoint: string, host: string): string {
  return endpoint.replace(/^tcp:\/\/(\*|0\.0\.0\.0|\[::\]|::)(?=:)/, `tcp://${host}`);
}

function toVllm(e: KvCacheEvent): KvEvent | undefined {
  switch (e.type) {
    case 'stored':
      return { type: 'stored', parentHash: e.parentHash, blocks: e.blocks.map((b) => ({ hash: b.blockHash, tokens: b.tokens })), lora: null, medium: 'GPU' };
    case 'removed':
      return { type: 'removed', hashes: e.blockHashes, medium: 'GPU' };
    case 'cleared':
      return { type: 'cleared' };
    default:
      return undefined; // vLLM has no created / updated events
  }
}

export class VllmFaceEvents {
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly engine: Engine, readonly publisher: VllmKvEventPublisher, intervalMs: number) {
    this.timer = setInterval(() => this.drain(), intervalMs);
    this.timer.unref();
  }

  static async start(engine: Engine, config: KvEventsConfig, host: string, release: string, intervalMs = 10): Promise<VllmFaceEvents> {
    const publisher = await VllmKvEventPublisher.start({
      endpoint: bindable(config.endpoint, host),
      replayEndpoint: config.replayEndpoint ? bindable(config.replayEndpoint, host) : null,
      topic: config.topic,
      release,
    });
    return new VllmFaceEvents(engine, publisher, intervalMs);
  }

  private drain(): void {
    const events = this.engine.getLatestKvEvents().map(toVllm).filter((e): e is KvEvent => e !== undefined);
    if (events.length > 0) this.publisher.publish(events);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.publisher.close();
  }
}
