/**
 * An emulated vLLM KV-event publisher: the PUB socket and the replay ROUTER of
 * vllm/distributed/kv_events.py ZmqEventPublisher, speaking one release's wire format
 * (vllm-layouts.ts), for an emulated engine face and for tests.
 *
 * As vLLM does: each batch gets the next seq (from 0 for each publisher, so a restart starts
 * over), goes out as `[topic, seq, payload]`, and is kept in a replay buffer of `bufferSteps`
 * batches (oldest evicted). A replay request `[identity, "", start_seq]` (any other frame count
 * is ignored, as vLLM logs and skips it) is answered with every buffered batch from start_seq,
 * then the end marker, in the release's reply layout (vllm-replay.ts). The PUB's HWM is `hwm`
 * (vLLM sets 100,000); the ROUTER keeps libzmq's default HWM of 1000, which vLLM does not change,
 * so a replay to a slow reader can lose messages there as it can from a real engine.
 *
 * For tests, `publish(…, { drop: true })` numbers and buffers a batch without sending it: a
 * message lost on the way, which only a replay can recover.
 */
import type { KvEvent } from '../../../core/kv-events/vllm-events.js';
import { END_SEQ, encodeSeq } from '../../../core/kv-events/vllm-replay.js';
import { PubSocket, RouterSocket } from '../../../core/kv-events/zmtp-server.js';
import { encodeVllmBatch, vllmKvLayout, type VllmKvLayout } from './vllm-layouts.js';

export interface VllmKvPublisherOptions {
  /** Where the PUB binds. Default `tcp://127.0.0.1:0` (a free port). */
  endpoint?: string;
  /** Where the replay ROUTER binds; null (the default): no replay socket. */
  replayEndpoint?: string | null;
  topic?: string;
  /** A release key of VLLM_KV_LAYOUTS, or a layout. Default "0.28". */
  release?: string | VllmKvLayout;
  /** Default 10,000, as vLLM's buffer_steps. */
  bufferSteps?: number;
  /** Stamped into each batch whose layout carries it. Default 0. */
  dpRank?: number;
  /** The PUB's send HWM. Default 100,000, as vLLM's hwm. */
  hwm?: number;
  /** Seconds since the epoch for a batch's ts. Default the wall clock. */
  now?: () => number;
}

export interface PublishOptions {
  /** Number and buffer the batch, but do not send it. */
  drop?: boolean;
  /** The batch's ts (seconds), instead of `now()`. */
  ts?: number;
}

export class VllmKvEventPublisher {
  private seq = 0n;
  private buffer: Array<{ seq: bigint; payload: Buffer }> = [];
  private bufferHead = 0;
  private readonly topic: Buffer;
  readonly layout: VllmKvLayout;
  replaysServed = 0;

  private constructor(
    private readonly pub: PubSocket,
    private readonly router: RouterSocket | null,
    readonly endpoint: string,
    readonly replayEndpoint: string | null,
    private readonly options: VllmKvPublisherOptions,
  ) {
    this.topic = Buffer.from(options.topic ?? '', 'utf8');
    this.layout = typeof options.release === 'object' ? options.release : vllmKvLayout(options.release ?? '0.28');
    router?.onMessage((id, frames) => this.serveReplay(id, frames));
  }

  static async start(options: VllmKvPublisherOptions = {}): Promise<VllmKvEventPublisher> {
    const pub = new PubSocket({ sendHwm: options.hwm ?? 100_000 });
    const endpoint = await pub.bind(options.endpoint ?? 'tcp://127.0.0.1:0');
    let router: RouterSocket | null = null;
    let replayEndpoint: string | null = null;
    if (options.replayEndpoint) {
      router = new RouterSocket();
      try {
        replayEndpoint = await router.bind(options.replayEndpoint);
      } catch (err) {
        await pub.close();
        throw err;
      }
    }
    return new VllmKvEventPublisher(pub, router, endpoint, replayEndpoint, options);
  }

  /** The seq the next batch gets. */
  get nextSeq(): bigint {
    return this.seq;
  }

  get subscribers(): number {
    return this.pub.peerCount;
  }

  get dropped(): number {
    return this.pub.stats.dropped;
  }

  /** Resolves once a subscriber listens to this publisher's topic. */
  waitForSubscriber(timeoutMs?: number): Promise<void> {
    return this.pub.waitForSubscriber(this.topic, timeoutMs);
  }

  /** Encodes and publishes one batch; returns its seq. */
  publish(events: readonly KvEvent[], opts: PublishOptions = {}): bigint {
    const ts = opts.ts ?? (this.options.now ? this.options.now() : Date.now() / 1000);
    return this.publishPayload(encodeVllmBatch(this.layout, { ts, events, dpRank: this.options.dpRank ?? 0 }), opts);
  }

  /** Publishes an already encoded payload (a recorded one, or a malformed one for a test). */
  publishPayload(payload: Buffer, opts: PublishOptions = {}): bigint {
    const seq = this.seq++;
    if (!opts.drop) this.pub.send([this.topic, encodeSeq(seq), payload]);
    this.buffer.push({ seq, payload });
    if (this.buffer.length - this.bufferHead > (this.options.bufferSteps ?? 10_000)) this.bufferHead++;
    if (this.bufferHead > 1024 && this.bufferHead * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.bufferHead);
      this.bufferHead = 0;
    }
    return seq;
  }

  async close(): Promise<void> {
    await Promise.all([this.pub.close(), this.router?.close()]);
  }

  private serveReplay(id: Buffer, frames: Buffer[]): void {
    if (!this.router || frames.length !== 2) return;
    // vLLM reads the start with int.from_bytes(…, "big"), whatever its length.
    const start = frames[1].length === 0 ? 0n : BigInt(`0x${frames[1].toString('hex')}`);
    this.replaysServed++;
    const empty = Buffer.alloc(0);
    for (let i = this.bufferHead; i < this.buffer.length; i++) {
      const { seq, payload } = this.buffer[i];
      if (seq < start) continue;
      const head = this.layout.replayTopicFrame ? [empty, this.topic] : [empty];
      this.router.send(id, [...head, encodeSeq(seq), payload]);
    }
    const endHead = this.layout.replayTopicFrame ? [empty, empty] : [empty];
    this.router.send(id, [...endHead, encodeSeq(END_SEQ), empty]);
  }
}
