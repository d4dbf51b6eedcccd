/**
 * One ZMTP 3.x connection over a connected node:net socket, either side, NULL mechanism.
 *
 * Lifecycle: both sides send their whole greeting at once (libzmq reads the peer's greeting
 * byte by byte and answers as it goes, so this cannot deadlock); once the peer's greeting names
 * NULL we send READY; once the peer's READY names a socket type that may talk to ours, the
 * connection is ready and carries messages. Anything else (another mechanism, an incompatible
 * socket type, a frame over the size limits, no READY within the handshake timeout, silence past
 * the heartbeat timeout) closes it: the socket layer above reconnects or forgets the peer.
 *
 * 3.1 extras handled here: PING is answered with PONG whichever version we greeted with; when
 * the peer speaks 3.1 and `heartbeatIntervalMs` is set we PING it (TTL 0, so libzmq starts no
 * timer of its own) and close if nothing at all arrives for `heartbeatTimeoutMs`. SUBSCRIBE and
 * CANCEL commands are handed to `onSubscription`, like 3.0 subscription messages are by the PUB.
 */
import type { Socket } from 'node:net';
import { FrameDecoder, type ZmtpFrame } from './zmtp-frame-decoder.js';
import {
  FLAG_MORE, ZmtpProtocolError, type ZmtpSocketType, encodeFrameHeader, encodeGreeting, errorCommand,
  isSocketType, parseCommand, parseGreeting, parseMetadata, peersCompatible, pingCommand, pongCommand, readyCommand,
} from './zmtp-wire.js';

export interface ZmtpConnectionOptions {
  type: ZmtpSocketType;
  /** Our `Identity` in READY (DEALER/ROUTER/REQ only). Default empty: the peer ROUTER picks one. */
  identity?: Uint8Array;
  /** The minor version we greet with. Default 1 (3.1). */
  minor?: 0 | 1;
  /** Largest frame accepted. Default 64 MiB. */
  maxFrameBytes?: number;
  /** Largest multipart message accepted, all frames together. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Most frames in one message. Default 64. */
  maxMessageFrames?: number;
  /** Default 10 s (libzmq's ZMQ_HANDSHAKE_IVL is 30 s). */
  handshakeTimeoutMs?: number;
  /** PING a 3.1 peer this often; 0 (the default) never. */
  heartbeatIntervalMs?: number;
  /** Close when nothing arrived for this long while heartbeating. Default 3 × the interval. */
  heartbeatTimeoutMs?: number;
}

export interface ZmtpPeer {
  type: ZmtpSocketType;
  identity: Uint8Array;
  /** The minor version of the peer's greeting (0: 3.0, 1: 3.1). */
  minor: number;
  remote: string;
}

export interface ZmtpConnectionHandlers {
  onReady(peer: ZmtpPeer): void;
  onMessage(frames: Buffer[]): void;
  /** A 3.1 SUBSCRIBE/CANCEL command. */
  onSubscription?(topic: Buffer, subscribe: boolean): void;
  /** The socket's send buffer emptied after a send returned false. */
  onDrain?(): void;
  /** Called once, after the socket is gone. */
  onClose(error: Error | null): void;
}

const MiB = 1024 * 1024;

export class ZmtpConnection {
  private readonly decoder: FrameDecoder;
  private readonly maxMessageBytes: number;
  private readonly maxMessageFrames: number;
  private state: 'greeting' | 'ready-wait' | 'open' | 'closed' = 'greeting';
  private peerInfo: ZmtpPeer | null = null;
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private lastInbound = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private error: Error | null = null;
  private peerMinor = 0;

  constructor(
    private readonly socket: Socket,
    private readonly options: ZmtpConnectionOptions,
    private readonly handlers: ZmtpConnectionHandlers,
  ) {
    this.decoder = new FrameDecoder(options.maxFrameBytes ?? 64 * MiB);
    this.maxMessageBytes = options.maxMessageBytes ?? 64 * MiB;
    this.maxMessageFrames = options.maxMessageFrames ?? 64;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.handlers.onDrain?.());
    socket.on('error', (err) => { this.error ??= err; });
    socket.on('close', () => this.finish());
    const handshakeMs = options.handshakeTimeoutMs ?? 10_000;
    this.timers.push(setTimeout(() => {
      if (this.state !== 'open') this.close(new ZmtpProtocolError(`no handshake within ${handshakeMs} ms`));
    }, handshakeMs).unref());
    socket.write(encodeGreeting(options.minor ?? 1));
  }

  /** The peer's address (the socket may still be connecting when this object is made). */
  get remote(): string {
    return this.socket.remotePort === undefined ? 'local' : `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  get peer(): ZmtpPeer | null {
    return this.peerInfo;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** True while the kernel-side buffer is over its high-water mark (the last send returned false). */
  get congested(): boolean {
    return this.socket.writableNeedDrain;
  }

  /**
   * Sends one multipart message. Returns false if the connection is not open (the message is
   * dropped) or if the socket buffer is now full (the message is queued in the socket: wait for
   * `onDrain` before sending more, or drop).
   */
  send(frames: readonly Uint8Array[]): boolean {
    if (this.state !== 'open' || frames.length === 0) return false;
    this.socket.cork();
    let ok = true;
    frames.forEach((frame, i) => {
      ok = this.socket.write(encodeFrameHeader(frame.length, i < frames.length - 1 ? FLAG_MORE : 0)) && ok;
      if (frame.length > 0) ok = this.socket.write(frame) && ok;
    });
    this.socket.uncork();
    return ok;
  }

  close(error: Error | null = null): void {
    if (this.state === 'closed') return;
    this.error ??= error;
    this.socket.destroy();
  }

  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const t of this.timers) clearTimeout(t);
    this.handlers.onClose(this.error);
  }

  private onData(chunk: Buffer): void {
    this.lastInbound = Date.now();
    try {
      for (const item of this.decoder.push(chunk)) {
        if (this.state === 'closed') return;
        if (item.kind === 'greeting') this.onGreeting(item.bytes);
        else if (item.command) this.onCommand(item.body);
        else this.onDataFrame(item);
      }
    } catch (err) {
      this.close(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private onGreeting(bytes: Buffer): void {
    const greeting = parseGreeting(bytes);
    if (greeting.mechanism !== 'NULL') {
      throw new ZmtpProtocolError(`peer wants the ${greeting.mechanism || '(empty)'} mechanism; only NULL is spoken here`);
    }
    this.peerMinor = greeting.minor;
    this.state = 'ready-wait';
    this.socket.write(readyCommand(this.options.type, this.options.identity));
  }

  private onCommand(body: Buffer): void {
    const { name, data } = parseCommand(body);
    if (this.state === 'ready-wait') {
      if (name === 'ERROR') throw new ZmtpProtocolError(`peer refused the handshake: ${Buffer.from(data.subarray(1)).toString()}`);
      if (name !== 'READY') throw new ZmtpProtocolError(`expected READY, got ${name}`);
      this.onReadyCommand(data);
      return;
    }
    if (this.state !== 'open') throw new ZmtpProtocolError(`command ${name} before the handshake`);
    if (name === 'PING') this.socket.write(pongCommand(data));
    else if (name === 'SUBSCRIBE' || name === 'CANCEL') this.handlers.onSubscription?.(Buffer.from(data), name === 'SUBSCRIBE');
    // PONG needs nothing: any inbound byte already counts as a sign of life. Unknown commands are
    // ignored, as 37/ZMTP asks.
  }

  private onReadyCommand(data: Uint8Array): void {
    const props = parseMetadata(data);
    const typeBytes = props.get('socket-type');
    const type = typeBytes ? Buffer.from(typeBytes).toString('ascii') : '';
    if (!isSocketType(type) || !peersCompatible(this.options.type, type)) {
      this.socket.write(errorCommand('Invalid socket type'));
      throw new ZmtpProtocolError(`a ${this.options.type} socket cannot talk to a peer of type "${type}"`);
    }
    this.state = 'open';
    this.peerInfo = { type, identity: Buffer.from(props.get('identity') ?? []), minor: this.peerMinor, remote: this.remote };
    this.startHeartbeat();
    this.handlers.onReady(this.peerInfo);
  }

  private onDataFrame(frame: ZmtpFrame): void {
    if (this.state !== 'open') throw new ZmtpProtocolError('message before the handshake');
    this.partsBytes += frame.body.length;
    this.parts.push(frame.body);
    if (this.partsBytes > this.maxMessageBytes) throw new ZmtpProtocolError(`message over ${this.maxMessageBytes} bytes`);
    if (this.parts.length > this.maxMessageFrames) throw new ZmtpProtocolError(`message of more than ${this.maxMessageFrames} frames`);
    if (frame.more) return;
    const message = this.parts;
    this.parts = [];
    this.partsBytes = 0;
    this.handlers.onMessage(message);
  }

  private startHeartbeat(): void {
    const every = this.options.heartbeatIntervalMs ?? 0;
    if (every <= 0 || this.peerMinor < 1) return;
    const timeout = this.options.heartbeatTimeoutMs ?? 3 * every;
    const timer = setInterval(() => {
      if (Date.now() - this.lastInbound > timeout) {
        this.close(new ZmtpProtocolError(`peer silent for over ${timeout} ms`));
        return;
      }
      this.socket.write(pingCommand(0, new Uint8Array(0)));
    }, every).unref();
    this.timers.push(timer);
  }
}
