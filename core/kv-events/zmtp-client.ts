/**
 * The connecting side of ZMTP: SUB (to follow a publisher) and DEALER (to ask a ROUTER),
 * each holding at most one connection to one endpoint and reconnecting when it is lost.
 *
 * Reconnect: the first retry waits `reconnectMinMs` (libzmq's ZMQ_RECONNECT_IVL default, 100 ms),
 * each failure doubles the wait up to `reconnectMaxMs`, and a completed handshake resets it.
 * Nothing is queued while disconnected: `send` returns false (unlike libzmq's DEALER, which
 * queues up to its HWM), because the one caller here, a replay request, is only meaningful on
 * the connection it will be answered on.
 */
import { connect as netConnect } from 'node:net';
import { ZmtpConnection, type ZmtpConnectionOptions, type ZmtpPeer } from './zmtp-connection.js';
import { netAddress, parseEndpoint, type ZmtpEndpoint } from './zmtp-endpoint.js';
import { subscriptionMessage } from './zmtp-wire.js';

export interface ZmtpClientOptions extends Omit<ZmtpConnectionOptions, 'type'> {
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export interface ZmtpClientEvents {
  onMessage?(frames: Buffer[]): void;
  /** The handshake completed (after every reconnect too). */
  onConnect?(peer: ZmtpPeer): void;
  /** An open connection ended; a reconnect is scheduled unless the socket was closed. */
  onDisconnect?(error: Error | null): void;
}

export interface ZmtpClientStatus {
  endpoint: string;
  connected: boolean;
  /** When the current connection's handshake completed. */
  connectedSince: number | null;
  /** Since when there has been no connection (the loss, or the first attempt): null while connected. */
  lostSince: number | null;
  /** Handshakes completed, the first included. */
  connects: number;
  /** The last error that ended or refused a connection (kept after a successful reconnect). */
  lastError: string | null;
}

class ZmtpClient {
  private readonly ep: ZmtpEndpoint;
  private conn: ZmtpConnection | null = null;
  private retry: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  private readonly stat: ZmtpClientStatus;

  constructor(
    private readonly type: 'SUB' | 'DEALER',
    readonly endpoint: string,
    private readonly options: ZmtpClientOptions,
    private readonly events: ZmtpClientEvents,
    private readonly onOpen: (conn: ZmtpConnection) => void,
  ) {
    this.ep = parseEndpoint(endpoint);
    if (this.ep.transport === 'tcp' && this.ep.host === null) throw new Error(`cannot connect to "${endpoint}": name a host`);
    this.stat = { endpoint, connected: false, connectedSince: null, lostSince: Date.now(), connects: 0, lastError: null };
    this.dial();
  }

  get status(): ZmtpClientStatus {
    return { ...this.stat };
  }

  get connection(): ZmtpConnection | null {
    return this.conn?.isOpen ? this.conn : null;
  }

  /** Drops the current connection (if any) and dials again after the shortest wait, as after a loss. */
  reconnect(): void {
    if (this.closed) return;
    this.failures = 0;
    if (this.conn) this.conn.close(new Error('reconnect requested'));
    else if (this.retry) {
      clearTimeout(this.retry);
      this.retry = null;
      this.dial();
    }
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.conn?.close();
  }

  private dial(): void {
    this.retry = null;
    if (this.closed) return;
    const socket = netConnect(netAddress(this.ep));
    let opened = false;
    this.conn = new ZmtpConnection(socket, { ...this.options, type: this.type }, {
      onReady: (peer) => {
        opened = true;
        this.failures = 0;
        Object.assign(this.stat, { connected: true, connectedSince: Date.now(), lostSince: null });
        this.stat.connects++;
        if (this.conn) this.onOpen(this.conn);
        this.events.onConnect?.(peer);
      },
      onMessage: (frames) => this.events.onMessage?.(frames),
      onClose: (error) => {
        this.conn = null;
        if (error) this.stat.lastError = error.message;
        if (opened) {
          Object.assign(this.stat, { connected: false, connectedSince: null, lostSince: Date.now() });
          this.events.onDisconnect?.(error);
        }
        this.schedule();
      },
    });
  }

  private schedule(): void {
    if (this.closed || this.retry) return;
    const min = this.options.reconnectMinMs ?? 100;
    const max = this.options.reconnectMaxMs ?? 5_000;
    const wait = Math.min(max, min * 2 ** Math.min(this.failures, 30));
    this.failures++;
    this.retry = setTimeout(() => this.dial(), wait);
    this.retry.unref();
  }
}

/** A SUB socket on one endpoint; its subscriptions are sent again on every reconnect. */
export class SubSocket {
  private readonly client: ZmtpClient;
  private readonly topics = new Map<string, Buffer>();

  constructor(endpoint: string, options: ZmtpClientOptions = {}, events: ZmtpClientEvents = {}) {
    this.client = new ZmtpClient('SUB', endpoint, options, events, (conn) => {
      for (const topic of this.topics.values()) conn.send([subscriptionMessage(topic, true)]);
    });
  }

  get status(): ZmtpClientStatus {
    return this.client.status;
  }

  /** Receive messages whose first frame starts with `topic` ("" = everything). */
  subscribe(topic: string | Uint8Array): void {
    const t = Buffer.from(topic);
    const key = t.toString('hex');
    if (this.topics.has(key)) return;
    this.topics.set(key, t);
    this.client.connection?.send([subscriptionMessage(t, true)]);
  }

  unsubscribe(topic: string | Uint8Array): void {
    const t = Buffer.from(topic);
    if (!this.topics.delete(t.toString('hex'))) return;
    this.client.connection?.send([subscriptionMessage(t, false)]);
  }

  reconnect(): void {
    this.client.reconnect();
  }

  close(): void {
    this.client.close();
  }
}

/** A DEALER socket on one endpoint. */
export class DealerSocket {
  private readonly client: ZmtpClient;

  constructor(endpoint: string, options: ZmtpClientOptions = {}, events: ZmtpClientEvents = {}) {
    this.client = new ZmtpClient('DEALER', endpoint, options, events, () => {});
  }

  get status(): ZmtpClientStatus {
    return this.client.status;
  }

  get connected(): boolean {
    return this.client.connection !== null;
  }

  /** False when not connected (nothing is queued) or when the socket buffer is full. */
  send(frames: readonly Uint8Array[]): boolean {
    return this.client.connection?.send(frames) ?? false;
  }

  reconnect(): void {
    this.client.reconnect();
  }

  close(): void {
    this.client.close();
  }
}
