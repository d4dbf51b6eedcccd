/**
 * The binding side of ZMTP: PUB (fan a message out to every subscriber whose subscription
 * prefixes its first frame) and ROUTER (receive from many peers, reply to one by identity).
 *
 * Slow peers: a message goes straight to the peer's socket while the socket's buffer is under
 * its high-water mark; past it, messages wait in a per-peer queue of at most `sendHwm` messages,
 * and beyond that they are dropped for that peer, whole (ZMQ_SNDHWM semantics for PUB, and for
 * ROUTER without ZMQ_ROUTER_MANDATORY; libzmq's default HWM is 1000). So a subscriber that stops
 * reading costs at most `sendHwm` messages plus one socket buffer, and never slows the others.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ZmtpConnection, type ZmtpConnectionOptions, type ZmtpPeer } from './zmtp-connection.js';
import { formatEndpoint, netAddress, parseEndpoint } from './zmtp-endpoint.js';

export interface ZmtpServerOptions extends Omit<ZmtpConnectionOptions, 'type' | 'identity'> {
  /** Messages queued per peer before further ones are dropped. Default 1000. */
  sendHwm?: number;
}

/** One connected peer and its bounded send queue. */
class Peer {
  private queue: Array<readonly Uint8Array[]> = [];
  dropped = 0;

  constructor(readonly conn: ZmtpConnection, private readonly hwm: number) {}

  /** False when the message was dropped because the peer is HWM messages behind. */
  send(frames: readonly Uint8Array[]): boolean {
    if (this.queue.length === 0 && !this.conn.congested) {
      this.conn.send(frames);
      return true;
    }
    if (this.queue.length >= this.hwm) {
      this.dropped++;
      return false;
    }
    this.queue.push(frames);
    return true;
  }

  flush(): void {
    while (this.queue.length > 0 && !this.conn.congested) {
      const next = this.queue.shift();
      if (next) this.conn.send(next);
    }
  }
}

abstract class ZmtpServer {
  private server: Server | null = null;
  private readonly conns = new Set<ZmtpConnection>();

  protected constructor(private readonly type: 'PUB' | 'ROUTER', protected readonly options: ZmtpServerOptions) {}

  /** Listens on `endpoint` (`tcp://*:0` picks a free port) and returns the endpoint bound. */
  async bind(endpoint: string): Promise<string> {
    if (this.server) throw new Error('already bound');
    const ep = parseEndpoint(endpoint);
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(netAddress(ep), () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (ep.transport === 'tcp' && addr !== null && typeof addr === 'object') return formatEndpoint({ ...ep, port: addr.port });
    return formatEndpoint(ep);
  }

  /** Stops listening and drops every peer. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const conn of this.conns) conn.close();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get peerCount(): number {
    return this.conns.size;
  }

  protected abstract onPeerReady(peer: Peer, info: ZmtpPeer): void;
  protected abstract onPeerMessage(peer: Peer, frames: Buffer[]): void;
  protected onPeerSubscription(_peer: Peer, _topic: Buffer, _subscribe: boolean): void {}
  protected abstract onPeerClosed(peer: Peer): void;

  private accept(socket: Socket): void {
    let peer: Peer | null = null;
    const conn: ZmtpConnection = new ZmtpConnection(socket, { ...this.options, type: this.type }, {
      onReady: (info) => {
        peer = new Peer(conn, this.options.sendHwm ?? 1000);
        this.onPeerReady(peer, info);
      },
      onMessage: (frames) => { if (peer) this.onPeerMessage(peer, frames); },
      onSubscription: (topic, subscribe) => { if (peer) this.onPeerSubscription(peer, topic, subscribe); },
      onDrain: () => peer?.flush(),
      onClose: () => {
        this.conns.delete(conn);
        if (peer) this.onPeerClosed(peer);
      },
    });
    this.conns.add(conn);
  }
}

export interface PubStats {
  peers: number;
  /** Messages dropped, all peers together, because a peer was `sendHwm` messages behind. */
  dropped: number;
}

export class PubSocket extends ZmtpServer {
  private readonly subs = new Map<Peer, Map<string, Buffer>>();
  private droppedGone = 0;

  constructor(options: ZmtpServerOptions = {}) {
    super('PUB', options);
  }

  /** Sends to every subscriber whose subscription prefixes `frames[0]`; returns how many took it. */
  send(frames: readonly Uint8Array[]): number {
    const first = Buffer.from(frames[0].buffer, frames[0].byteOffset, frames[0].byteLength);
    let delivered = 0;
    for (const [peer, topics] of this.subs) {
      let match = false;
      for (const topic of topics.values()) {
        if (topic.length <= first.length && first.subarray(0, topic.length).equals(topic)) {
          match = true;
          break;
        }
      }
      if (match && peer.send(frames)) delivered++;
    }
    return delivered;
  }

  get stats(): PubStats {
    let dropped = this.droppedGone;
    for (const peer of this.subs.keys()) dropped += peer.dropped;
    return { peers: this.subs.size, dropped };
  }

  /** Resolves once some peer subscribes to a prefix of `topic` (for tests and start-up ordering). */
  async waitForSubscriber(topic: string | Uint8Array = '', timeoutMs = 5_000): Promise<void> {
    const t = Buffer.from(topic);
    const deadline = Date.now() + timeoutMs;
    while (![...this.subs.values()].some((ts) => [...ts.values()].some((s) => s.length <= t.length && t.subarray(0, s.length).equals(s)))) {
      if (Date.now() > deadline) throw new Error(`no subscriber for "${t.toString()}" within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  protected onPeerReady(peer: Peer): void {
    this.subs.set(peer, new Map());
  }

  /** 3.0 subscriptions: a message whose first frame starts with 1 (subscribe) or 0 (cancel). */
  protected onPeerMessage(peer: Peer, frames: Buffer[]): void {
    const f = frames[0];
    if (f.length > 0 && (f[0] === 0 || f[0] === 1)) this.onPeerSubscription(peer, f.subarray(1), f[0] === 1);
  }

  protected override onPeerSubscription(peer: Peer, topic: Buffer, subscribe: boolean): void {
    const topics = this.subs.get(peer);
    if (!topics) return;
    if (subscribe) topics.set(topic.toString('hex'), Buffer.from(topic));
    else topics.delete(topic.toString('hex'));
  }

  protected onPeerClosed(peer: Peer): void {
    this.droppedGone += peer.dropped;
    this.subs.delete(peer);
  }
}

export type RouterHandler = (identity: Buffer, frames: Buffer[]) => void;

export class RouterSocket extends ZmtpServer {
  private readonly byId = new Map<string, Peer>();
  private readonly idOf = new Map<Peer, string>();
  // libzmq starts its generated ids at a random integer (router.cpp); so do we.
  private nextId = Math.floor(Math.random() * 0xffffffff);
  private handler: RouterHandler = () => {};

  constructor(options: ZmtpServerOptions = {}) {
    super('ROUTER', options);
  }

  /** Every message arrives prefixed by the identity of the peer that sent it. */
  onMessage(handler: RouterHandler): void {
    this.handler = handler;
  }

  /** Sends to the peer named `identity`; false (message dropped) if it is gone or HWM behind. */
  send(identity: Uint8Array, frames: readonly Uint8Array[]): boolean {
    const peer = this.byId.get(Buffer.from(identity).toString('hex'));
    return peer ? peer.send(frames) : false;
  }

  /**
   * A peer keeps the identity it announced in READY; an empty one gets five octets, a zero and a
   * big-endian counter, as libzmq generates them. A second peer announcing an identity already in
   * use is refused (libzmq ignores it unless ZMQ_ROUTER_HANDOVER).
   */
  protected onPeerReady(peer: Peer, info: ZmtpPeer): void {
    let id: Buffer;
    if (info.identity.length > 0) {
      id = Buffer.from(info.identity);
      if (this.byId.has(id.toString('hex'))) {
        peer.conn.close(new Error('duplicate identity'));
        return;
      }
    } else {
      id = Buffer.alloc(5);
      id.writeUInt32BE(this.nextId >>> 0, 1);
      this.nextId = (this.nextId + 1) >>> 0;
    }
    this.byId.set(id.toString('hex'), peer);
    this.idOf.set(peer, id.toString('hex'));
  }

  protected onPeerMessage(peer: Peer, frames: Buffer[]): void {
    const id = this.idOf.get(peer);
    if (id !== undefined) this.handler(Buffer.from(id, 'hex'), frames);
  }

  protected onPeerClosed(peer: Peer): void {
    const id = this.idOf.get(peer);
    if (id === undefined) return;
    this.idOf.delete(peer);
    this.byId.delete(id);
  }
}
