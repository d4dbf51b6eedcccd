/**
 * Follows one vLLM publisher (one data-parallel rank: its endpoint is the configured port plus
 * the rank, see `offsetEndpointPort`) and hands its KV-event batches to `onBatch`, in seq order,
 * each exactly once, or says `onResync` when it cannot.
 *
 * Invariants:
 * - Batches reach `onBatch` with strictly consecutive seqs between two `onResync` calls. A
 *   consumer clears what it learned from this backend on `onResync` and relearns from the
 *   batches that follow; nothing else is needed for its picture to match the engine's.
 * - A gap (a lost message: the publisher's HWM, a reconnect) is filled from the replay endpoint
 *   when there is one: the request starts at the last seq delivered, and that batch must come
 *   back byte-identical (its SHA-1), which proves the publisher is the same process (a restarted
 *   vLLM counts from 0 again, and its batch of that number is another). When there is no replay
 *   endpoint, or the replay does not cover the gap (the buffer has moved on, the reply has a hole
 *   twice without progress, no END within `replayTimeoutMs`), the subscriber resyncs instead.
 * - A publisher restart is seen as a live seq at or below one already seen live, or as a failed
 *   proof after a reconnect: resync, then (with a replay endpoint) learn the new process's buffer
 *   from seq 0. Without a replay endpoint, a restarted publisher whose counter happens to be
 *   exactly one past ours when we reconnect cannot be told apart; it is the only blind spot.
 * - Bounded memory: live messages that arrive during a replay wait in a queue of at most
 *   `maxPendingBatches` (later ones are dropped, which the next continuity check sees as a gap);
 *   the replay stream is delivered as it arrives, never collected.
 * - `onBatch`/`onResync` run synchronously on the socket's data path; an exception from them is
 *   counted (`callbackErrors`) and logged, and never tears the connection down.
 */
import { createHash } from 'node:crypto';
import { decodeVllmEventBatch, type KvEventBatch } from './vllm-events.js';
import { parseLiveMessage, parseReplayReply, replayRequest } from './vllm-replay.js';
import { DealerSocket, SubSocket, type ZmtpClientOptions } from './zmtp-client.js';

export type DeliveredBatch = KvEventBatch & { seq: bigint; replayed: boolean };

export type ResyncReason = 'gap' | 'publisher-restart' | 'decode-error' | 'replay-failed';

export interface VllmSubscriberLogger {
  warn(obj: object, msg: string): void;
}

export interface VllmSubscriberOptions {
  /** The PUB endpoint, e.g. `tcp://engine-0:5557`. */
  endpoint: string;
  /** The ROUTER endpoint for replays, e.g. `tcp://engine-0:5558`; null: none. */
  replayEndpoint?: string | null;
  /** vLLM's `topic` (default ""); messages under another topic are ignored. */
  topic?: string;
  onBatch(batch: DeliveredBatch): void;
  onResync(reason: ResyncReason, detail: string): void;
  /** Learn the publisher's replay buffer when first connected. Default true (with a replay endpoint). */
  catchUpOnStart?: boolean;
  /** Default 5 s. */
  replayTimeoutMs?: number;
  /** Default 10,000 (vLLM's buffer_steps). */
  maxPendingBatches?: number;
  socket?: ZmtpClientOptions;
  log?: VllmSubscriberLogger;
}

export interface VllmSubscriberStatus {
  endpoint: string;
  replayEndpoint: string | null;
  connected: boolean;
  replayConnected: boolean;
  /** Since when the PUB connection has been down (or never up); null while connected. */
  lostSince: number | null;
  /** PUB connections made, the first included: more than one means reconnects. */
  connects: number;
  /** The seq of the last batch delivered (a plain number: 2^53 batches is never reached). */
  lastSeq: number | null;
  lastBatchAt: number | null;
  mode: 'live' | 'replaying';
  batches: number;
  replayedBatches: number;
  gaps: number;
  replays: number;
  resyncs: number;
  lastResync: { reason: ResyncReason; detail: string; at: number } | null;
  decodeErrors: number;
  malformed: number;
  pendingDropped: number;
  callbackErrors: number;
}

interface Pending {
  seq: bigint;
  payload: Buffer;
}

interface Replay {
  from: bigint;
  /** The batch the reply must start with, byte-identical, when continuity must be proven. */
  proof: { seq: bigint; digest: string } | null;
  sent: boolean;
  holed: boolean;
  delivered: number;
  timer: NodeJS.Timeout;
}

export class VllmKvEventSubscriber {
  private readonly sub: SubSocket;
  private readonly dealer: DealerSocket | null;
  private readonly topic: Buffer;
  private lastSeq: bigint | null = null;
  private lastDigest = '';
  private lastLiveSeq: bigint | null = null;
  private deliveredSinceResync = 0;
  private pending: Pending[] = [];
  private replay: Replay | null = null;
  /** Replay streams still arriving for requests given up on: their frames are skipped. */
  private staleStreams = 0;
  private fruitlessRounds = 0;
  private readonly counts = {
    batches: 0, replayedBatches: 0, gaps: 0, replays: 0, resyncs: 0, decodeErrors: 0, malformed: 0,
    pendingDropped: 0, callbackErrors: 0,
  };
  private lastResync: VllmSubscriberStatus['lastResync'] = null;
  private lastBatchAt: number | null = null;
  private closed = false;

  constructor(private readonly options: VllmSubscriberOptions) {
    this.topic = Buffer.from(options.topic ?? '', 'utf8');
    const replayEndpoint = options.replayEndpoint ?? null;
    this.dealer = replayEndpoint === null ? null : new DealerSocket(replayEndpoint, options.socket, {
      onMessage: (frames) => this.onReplayFrames(frames),
      onConnect: () => this.sendReplayRequest(),
      onDisconnect: () => {
        // Streams on the lost connection will never end; a request in flight is sent again.
        this.staleStreams = 0;
        if (this.replay) this.replay.sent = false;
      },
    });
    this.sub = new SubSocket(options.endpoint, options.socket, {
      onMessage: (frames) => this.onLiveFrames(frames),
      onConnect: () => this.onSubConnect(),
    });
    this.sub.subscribe(this.topic);
  }

  get status(): VllmSubscriberStatus {
    const s = this.sub.status;
    return {
      endpoint: this.options.endpoint,
      replayEndpoint: this.options.replayEndpoint ?? null,
      connected: s.connected,
      replayConnected: this.dealer?.connected ?? false,
      lostSince: s.lostSince,
      connects: s.connects,
      lastSeq: this.lastSeq === null ? null : Number(this.lastSeq),
      lastBatchAt: this.lastBatchAt,
      mode: this.replay ? 'replaying' : 'live',
      ...this.counts,
      lastResync: this.lastResync,
    };
  }

  close(): void {
    this.closed = true;
    if (this.replay) clearTimeout(this.replay.timer);
    this.replay = null;
    this.sub.close();
    this.dealer?.close();
  }

  private onSubConnect(): void {
    if (this.replay) return;
    if (this.lastSeq !== null) {
      // Messages were surely lost while disconnected, and the publisher may be a new process.
      if (this.dealer) this.startReplay(this.lastSeq, true);
    } else if (this.dealer && this.sub.status.connects === 1 && (this.options.catchUpOnStart ?? true)) {
      this.startReplay(0n, false);
    }
  }

  private onLiveFrames(frames: Buffer[]): void {
    const msg = parseLiveMessage(frames);
    if (msg === null || !msg.topic.equals(this.topic)) {
      this.counts.malformed++;
      return;
    }
    const { seq, payload } = msg;
    if (this.lastLiveSeq !== null && seq <= this.lastLiveSeq) {
      this.lastLiveSeq = seq;
      this.pending = [];
      this.abandonReplay();
      this.resync('publisher-restart', `live seq ${seq} after ${this.lastSeq ?? 'nothing'}`);
      if (this.dealer) {
        this.pending.push({ seq, payload });
        this.startReplay(0n, false);
      } else {
        this.accept(seq, payload, false);
      }
      return;
    }
    this.lastLiveSeq = seq;
    if (this.replay) {
      if (this.pending.length < (this.options.maxPendingBatches ?? 10_000)) this.pending.push({ seq, payload });
      else this.counts.pendingDropped++;
      return;
    }
    this.onNext(seq, payload);
  }

  /** A live batch (or one from the queue), in live mode. */
  private onNext(seq: bigint, payload: Buffer): void {
    if (this.lastSeq !== null && seq <= this.lastSeq) return; // already delivered by a replay
    if (this.lastSeq === null || seq === this.lastSeq + 1n) {
      this.accept(seq, payload, false);
      return;
    }
    this.counts.gaps++;
    if (this.dealer) {
      this.pending.unshift({ seq, payload });
      this.startReplay(this.lastSeq, true);
    } else {
      this.resync('gap', `seq ${seq} after ${this.lastSeq}, and no replay endpoint`);
      this.accept(seq, payload, false);
    }
  }

  private startReplay(from: bigint, prove: boolean): void {
    this.counts.replays++;
    const timeoutMs = this.options.replayTimeoutMs ?? 5_000;
    this.replay = {
      from,
      proof: prove && this.lastSeq !== null ? { seq: this.lastSeq, digest: this.lastDigest } : null,
      sent: false,
      holed: false,
      delivered: 0,
      timer: setTimeout(() => this.onReplayTimeout(timeoutMs), timeoutMs),
    };
    this.replay.timer.unref();
    this.sendReplayRequest();
  }

  private sendReplayRequest(): void {
    const r = this.replay;
    if (!r || r.sent || !this.dealer) return;
    r.sent = this.dealer.send(replayRequest(r.from)) || this.dealer.connected;
  }

  private onReplayFrames(frames: Buffer[]): void {
    const reply = parseReplayReply(frames);
    if (this.staleStreams > 0) {
      if (reply.kind === 'end') this.staleStreams--;
      return;
    }
    const r = this.replay;
    if (!r || !r.sent) return;
    if (reply.kind === 'malformed') {
      this.counts.malformed++;
      return;
    }
    if (reply.kind === 'end') {
      this.onReplayEnd(r);
      return;
    }
    if (reply.topic !== null && !reply.topic.equals(this.topic)) return;
    if (r.proof) {
      const proof = r.proof;
      r.proof = null;
      if (reply.seq !== proof.seq) this.failProof('gap', `the replay buffer starts at seq ${reply.seq}, past ${proof.seq}`);
      else if (digest(reply.payload) !== proof.digest) this.failProof('publisher-restart', `seq ${proof.seq} came back with other content`);
      return;
    }
    if (r.holed || (this.lastSeq !== null && reply.seq <= this.lastSeq)) return;
    if (this.lastSeq === null || reply.seq === this.lastSeq + 1n) {
      r.delivered++;
      this.accept(reply.seq, reply.payload, true);
    } else {
      // libzmq's ROUTER drops what exceeds its HWM (vLLM leaves it at 1000): ask again from here.
      r.holed = true;
    }
  }

  private onReplayEnd(r: Replay): void {
    clearTimeout(r.timer);
    this.replay = null;
    if (r.proof) {
      // The same process would still hold the batch it sent last (or later ones, had it moved on).
      this.failProof('publisher-restart', `the replay buffer holds nothing from seq ${r.proof.seq} on`);
      return;
    }
    const next = this.pending[0];
    const behind = next !== undefined && this.lastSeq !== null && next.seq > this.lastSeq + 1n;
    if (r.holed || behind) {
      this.fruitlessRounds = r.delivered > 0 ? 0 : this.fruitlessRounds + 1;
      if (this.fruitlessRounds < 2 && this.lastSeq !== null) {
        this.startReplay(this.lastSeq, false);
        return;
      }
      this.fruitlessRounds = 0;
      this.resync('replay-failed', `replay could not reach seq ${next?.seq ?? 'the end'} from ${this.lastSeq}`);
    }
    this.drainPending();
  }

  /**
   * The reply does not prove continuity: resync, and learn whatever the publisher still buffers.
   * The seqs seen live before belong to the old epoch (or process) and no longer tell restarts.
   */
  private failProof(reason: ResyncReason, detail: string): void {
    this.abandonReplay();
    this.lastLiveSeq = this.pending.at(-1)?.seq ?? null;
    this.resync(reason, detail);
    this.startReplay(0n, false);
  }

  private onReplayTimeout(timeoutMs: number): void {
    if (!this.replay) return;
    this.abandonReplay();
    this.resync('replay-failed', `no replay END within ${timeoutMs} ms`);
    this.drainPending();
  }

  private abandonReplay(): void {
    const r = this.replay;
    if (!r) return;
    clearTimeout(r.timer);
    if (r.sent) this.staleStreams++;
    this.replay = null;
  }

  private drainPending(): void {
    while (this.pending.length > 0 && !this.replay && !this.closed) {
      const p = this.pending.shift();
      if (p) this.onNext(p.seq, p.payload);
    }
  }

  private accept(seq: bigint, payload: Buffer, replayed: boolean): void {
    this.lastSeq = seq;
    this.lastDigest = digest(payload);
    let batch: KvEventBatch;
    try {
      batch = decodeVllmEventBatch(payload);
    } catch (err) {
      this.counts.decodeErrors++;
      // The batch cannot be applied, so the consumer's picture is wrong from here: clear it, and
      // carry on from the next seq.
      this.resync('decode-error', `seq ${seq}: ${(err as Error).message}`);
      this.lastSeq = seq;
      this.lastDigest = digest(payload);
      return;
    }
    this.counts.batches++;
    if (replayed) this.counts.replayedBatches++;
    this.deliveredSinceResync++;
    this.fruitlessRounds = 0;
    this.lastBatchAt = Date.now();
    try {
      this.options.onBatch({ ...batch, seq, replayed });
    } catch (err) {
      this.callbackFailed('onBatch', err);
    }
  }

  private resync(reason: ResyncReason, detail: string): void {
    this.lastSeq = null;
    this.lastDigest = '';
    // Nothing delivered since the start or the last resync: the consumer's picture is empty already.
    if (this.deliveredSinceResync === 0) return;
    this.deliveredSinceResync = 0;
    this.counts.resyncs++;
    this.lastResync = { reason, detail, at: Date.now() };
    this.options.log?.warn({ endpoint: this.options.endpoint, reason, detail }, 'vLLM KV events: resync');
    try {
      this.options.onResync(reason, detail);
    } catch (err) {
      this.callbackFailed('onResync', err);
    }
  }

  private callbackFailed(which: string, err: unknown): void {
    this.counts.callbackErrors++;
    this.options.log?.warn({ endpoint: this.options.endpoint, err }, `vLLM KV events: ${which} threw`);
  }
}

function digest(payload: Uint8Array): string {
  return createHash('sha1').update(payload).digest('hex');
}
