/**
 * Replicas share observations through one Redis Stream per namespace, `switchyard:<ns>:obs`.
 *
 * Writing: publish* only appends to a local Outbox. A timer (every `flushMs`) sends what is
 * pending as ONE `XADD … MAXLEN ~ streamMaxLen * g <gatewayId> j1 <batch>` (see batch-codec.ts),
 * more only when catching up after an outage (`maxBatch` observations per entry), one at a time.
 * Connections fail fast while down (no offline queue, no retries per request), so while Redis is
 * away the outbox fills (bounded, oldest dropped) and is sent when Redis is back.
 *
 * A connection that is up but silent (a hung or partitioned server: no RST, ioredis sees nothing)
 * is caught by time: a command without a reply after `commandTimeoutMs` (XREAD: after its BLOCK
 * time too) makes the store degraded, but its reply is still awaited, so a server that wakes up
 * answers it and nothing is sent twice or lost. Past `dropAfterMs` more the connection is dropped
 * and re-established; a batch whose XADD was cut off that way is sent again (so delivery is at
 * least once, which idempotent observations tolerate).
 *
 * Reading: a loop on a SEPARATE connection (XREAD BLOCK ties up its connection) reads the stream
 * from the last id it has seen and applies the entries of other replicas. After an outage it
 * simply continues from that id: what peers published meanwhile is still in the stream (within
 * MAXLEN), so convergence needs no extra protocol. Trimmed or recreated streams and the replay
 * of recent history at start are handled where the cursor is placed (stream-cursor.ts).
 *
 * Load shares the stream instead of living in a hash with a TTL: one ordered channel and one
 * reader, so load follows the same outage and resync path as prefixes, and peers learn a change
 * within one flush instead of polling a hash. Loads are coalesced per (gateway, backend) in the
 * outbox, so the stream carries at most one row per backend per flush; staleness is the
 * consumer's call, from `at` (a dead replica's last row is simply never refreshed).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { BATCH_FIELD, decodeBatch, encodeBatch, type ObservationBatch } from './batch-codec.js';
import { newGatewayId } from './gateway-id.js';
import { Outbox } from './outbox.js';
import { isKvEventsObservation, isLoadObservation, isPrefixObservation } from './validate.js';
import { parseStreamInfo, placeCursor, type StreamInfo } from './stream-cursor.js';
import type { KvEventsObservation, LoadObservation, PrefixObservation, StateLogger, StateStore, StateStoreEvents, StateStoreStats } from './types.js';

export interface RedisStoreOptions {
  url: string;
  /** Replicas share state only within a namespace. */
  namespace?: string;
  /** How often the outbox is sent. */
  flushMs?: number;
  /** Prefix observations kept while Redis is unreachable; past it the oldest are dropped. */
  maxBuffered?: number;
  /** Approximate stream length, in entries (batches). */
  streamMaxLen?: number;
  /** Prefix observations per stream entry. */
  maxBatch?: number;
  /** History a starting replica reads, in ms of stream time. */
  replayMs?: number;
  /** XREAD BLOCK time. */
  blockMs?: number;
  /** A command without a reply by then makes the store degraded (a hung or partitioned server). */
  commandTimeoutMs?: number;
  /** ...and this much longer drops the connection and makes a new one. */
  dropAfterMs?: number;
  /** Ceiling of the reconnect backoff. */
  reconnectMaxMs?: number;
  gatewayId?: string;
  log?: StateLogger;
}

export interface RedisStoreStats extends StateStoreStats {
  /** Times the reader found entries trimmed before it could read them. */
  gaps: number;
  /** Stream entries skipped because they could not be decoded. */
  malformed: number;
}

type Settings = Required<Omit<RedisStoreOptions, 'gatewayId' | 'log'>>;

const DEFAULTS: Omit<Settings, 'url'> = {
  namespace: 'default', flushMs: 50, maxBuffered: 10_000, streamMaxLen: 100_000, maxBatch: 1000,
  replayMs: 60_000, blockMs: 1000, commandTimeoutMs: 1000, dropAfterMs: 5000, reconnectMaxMs: 1000,
};

/**
 * Entries per XREAD. Applying runs on the event loop that serves requests: when catching up on
 * full entries (`maxBatch` observations each) a small count keeps each synchronous slice short,
 * and the round trip between reads lets requests through.
 */
const READ_COUNT = 16;

export class RedisStore implements StateStore {
  readonly gatewayId: string;
  readonly namespace: string;
  /** The stream: `switchyard:<namespace>:obs`. */
  readonly key: string;
  private readonly opts: Settings;
  private readonly log: StateLogger | undefined;
  private readonly writer: Redis;
  private readonly reader: Redis;
  private readonly outbox: Outbox;
  private events: StateStoreEvents | null = null;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  /** Observations in an XADD not yet acknowledged. */
  private sending = 0;
  private readonly connectedAt = new Map<Redis, number>();
  private readLoop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private closing: Promise<void> | null = null;
  /** Last stream id this replica has read; null until the reader first reaches Redis. */
  private lastId: string | null = null;
  private needsResync = true;
  // ioredis' status says whether a socket is up; these say whether it last answered in time.
  private writerOk = false;
  private readerOk = false;
  private lastStatus: 'connected' | 'degraded' = 'degraded';
  private everConnected = false;
  private lastError = '';
  private counts = { published: 0, applied: 0, reconnects: 0, gaps: 0, malformed: 0 };
  private invalid = 0;

  constructor(options: RedisStoreOptions) {
    this.opts = { ...DEFAULTS, ...stripUndefined(options), url: options.url };
    this.gatewayId = options.gatewayId ?? newGatewayId();
    this.log = options.log;
    this.namespace = this.opts.namespace;
    this.key = `switchyard:${this.namespace}:obs`;
    this.outbox = new Outbox(this.opts.maxBuffered);
    this.writer = this.connection('w');
    this.reader = this.connection('r');
    this.writer.on('ready', () => {
      this.writerOk = true;
      this.noteStatus();
      void this.flushOnce();
    });
    this.reader.on('ready', () => this.wake?.());
  }

  publishPrefix(obs: PrefixObservation): void {
    if (this.closing) return;
    if (isPrefixObservation(obs)) this.outbox.pushPrefix(obs);
    else this.invalid++;
  }

  publishLoad(obs: LoadObservation): void {
    if (this.closing) return;
    if (isLoadObservation(obs)) this.outbox.setLoad(obs);
    else this.invalid++;
  }

  publishKvEvents(obs: KvEventsObservation): void {
    if (this.closing) return;
    if (isKvEventsObservation(obs)) this.outbox.pushKvEvents(obs);
    else this.invalid++;
  }

  /**
   * A lease is one key, `switchyard:<ns>:lease:<name>`, holding the holder's gateway id with a
   * TTL: taken with SET NX PX, renewed (PEXPIRE) only by its holder, atomically in one script.
   */
  async lease(name: string, ttlMs: number): Promise<boolean> {
    if (this.closing || this.writer.status !== 'ready') return false;
    const script = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end " +
      "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end return 0";
    try {
      const reply = await Promise.race([
        this.writer.eval(script, 1, `switchyard:${this.namespace}:lease:${name}`, this.gatewayId, String(Math.ceil(ttlMs))),
        sleep(this.opts.commandTimeoutMs).then(() => 0),
      ]);
      return reply === 1;
    } catch {
      return false;
    }
  }

  /** Connects (waiting at most ~one command timeout) and starts the flush timer and the reader. */
  async start(events: StateStoreEvents): Promise<void> {
    if (this.closing) throw new Error('state store: start() after close()');
    if (this.events) return;
    this.events = events;
    this.timer = setInterval(() => {
      this.checkHandshakes();
      void this.flushOnce();
    }, this.opts.flushMs);
    this.timer.unref();
    // A failed first connect is retried by ioredis (retryStrategy) like any later loss.
    const first = Promise.allSettled([this.writer.connect(), this.reader.connect()]);
    this.readLoop = this.runReader();
    await Promise.race([first, sleep(this.opts.commandTimeoutMs)]);
  }

  status(): 'connected' | 'degraded' {
    const up = !this.closing && this.writer.status === 'ready' && this.reader.status === 'ready' && this.writerOk && this.readerOk;
    return up ? 'connected' : 'degraded';
  }

  stats(): RedisStoreStats {
    return { ...this.counts, dropped: this.outbox.dropped + this.invalid, buffered: this.outbox.size + this.sending };
  }

  /** Sends everything buffered now (for close() and tests); never rejects. */
  async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    await this.flushOnce();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.race([this.flush(), sleep(this.opts.commandTimeoutMs)]);
    this.events = null;
    this.reader.disconnect(); // a pending XREAD is rejected when the socket closes
    this.wake?.();
    await this.readLoop;
    this.writer.disconnect();
    this.noteStatus();
  }

  private connection(role: 'w' | 'r'): Redis {
    const options: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: Math.max(this.opts.commandTimeoutMs, 1000),
      disconnectTimeout: 500,
      retryStrategy: (attempt) => Math.min(50 * attempt, this.opts.reconnectMaxMs),
      connectionName: `switchyard:${this.gatewayId.replace(/\s/g, '_')}:${role}`,
    };
    const conn = new Redis(this.opts.url, options);
    conn.on('error', (err: Error) => { this.lastError = err.message; });
    conn.on('connect', () => this.connectedAt.set(conn, Date.now()));
    conn.on('close', () => this.noteStatus());
    return conn;
  }

  /**
   * A TCP connection that was accepted but whose handshake (ioredis' INFO ready check) is never
   * answered would leave ioredis waiting forever: start over, as for a silent command.
   */
  private checkHandshakes(): void {
    const limit = this.opts.commandTimeoutMs + this.opts.dropAfterMs;
    for (const conn of [this.writer, this.reader]) {
      const since = this.connectedAt.get(conn);
      if (conn.status === 'connect' && since !== undefined && Date.now() - since > limit) {
        this.connectedAt.delete(conn);
        this.lastError = `no handshake reply from Redis in ${limit} ms`;
        conn.disconnect(true);
      }
    }
  }

  private noteStatus(): void {
    const now = this.status();
    if (now === this.lastStatus) return;
    this.lastStatus = now;
    if (now === 'connected') {
      if (this.everConnected) this.counts.reconnects++;
      this.everConnected = true;
      this.log?.info({ key: this.key, buffered: this.outbox.size }, 'state store connected');
    } else if (!this.closing) {
      this.log?.warn({ key: this.key, err: this.lastError }, 'state store degraded: serving on local state');
    }
  }

  private flushOnce(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.outbox.size === 0 || this.writer.status !== 'ready') return Promise.resolve();
    this.flushing = this.sendOutbox().finally(() => { this.flushing = null; });
    return this.flushing;
  }

  private async sendOutbox(): Promise<void> {
    while (this.outbox.size > 0 && this.writer.status === 'ready') {
      const batch = this.outbox.take(this.opts.maxBatch);
      this.sending = batch.prefixes.length + batch.loads.length;
      try {
        await this.command('writer', this.xadd(batch), this.opts.commandTimeoutMs);
      } catch (err) {
        this.sending = 0;
        this.outbox.restore(batch);
        this.lastError = errorMessage(err);
        this.setHealth('writer', false);
        return;
      }
      this.counts.published += this.sending;
      this.sending = 0;
      this.setHealth('writer', true);
    }
  }

  private xadd(batch: ObservationBatch): Promise<string | null> {
    const payload = encodeBatch(batch, this.gatewayId);
    return this.writer.xadd(this.key, 'MAXLEN', '~', this.opts.streamMaxLen, '*', 'g', this.gatewayId, BATCH_FIELD, payload);
  }

  private async runReader(): Promise<void> {
    let backoff = 0;
    while (!this.closing) {
      try {
        if (this.reader.status !== 'ready') {
          this.setHealth('reader', false);
          this.needsResync = true;
          await this.pause(this.opts.reconnectMaxMs); // or until the reader is back
          continue;
        }
        if (this.needsResync) {
          await this.resync();
          this.setHealth('reader', true);
        }
        const reply = await this.command('reader',
          this.reader.xread('COUNT', READ_COUNT, 'BLOCK', this.opts.blockMs, 'STREAMS', this.key, this.lastId!),
          this.opts.blockMs + this.opts.commandTimeoutMs);
        this.setHealth('reader', true);
        backoff = 0;
        for (const [, entries] of reply ?? []) this.apply(entries);
      } catch (err) {
        if (this.closing) break;
        this.lastError = errorMessage(err);
        this.needsResync = true;
        this.setHealth('reader', false);
        backoff = Math.min(Math.max(50, backoff * 2), this.opts.reconnectMaxMs);
        await this.pause(backoff);
      }
    }
  }

  /** Places the cursor after (re)connecting (stream-cursor.ts). */
  private async resync(): Promise<void> {
    const info = await this.command('reader', this.streamInfo(), this.opts.commandTimeoutMs);
    let serverNowMs = 0;
    if (this.lastId === null) {
      const [sec, usec] = await this.command('reader', this.reader.time(), this.opts.commandTimeoutMs);
      serverNowMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    }
    const placed = placeCursor(this.lastId, info, serverNowMs, this.opts.replayMs);
    if (placed.kind === 'recreated') {
      this.log?.warn({ key: this.key, lastId: this.lastId }, 'state stream was recreated: reading it from the start');
    } else if (placed.kind === 'trimmed') {
      this.counts.gaps++;
      this.log?.warn({ key: this.key, lastId: this.lastId, oldest: placed.oldest }, 'state stream trimmed past this replica: resuming from the oldest entry');
    }
    this.lastId = placed.lastId;
    this.needsResync = false;
  }

  /** null when the stream does not exist. */
  private async streamInfo(): Promise<StreamInfo | null> {
    try {
      return parseStreamInfo(await this.reader.call('XINFO', 'STREAM', this.key));
    } catch (err) {
      if (/no such key/i.test(errorMessage(err))) return null;
      throw err;
    }
  }

  private apply(entries: [id: string, fields: string[]][]): void {
    for (const [id, fields] of entries) {
      this.lastId = id;
      const publisher = fieldOf(fields, 'g');
      if (publisher === this.gatewayId) continue;
      const payload = fieldOf(fields, BATCH_FIELD);
      let batch: ObservationBatch;
      try {
        if (publisher === undefined || payload === undefined) throw new Error(`no ${BATCH_FIELD} field`);
        batch = decodeBatch(payload, publisher);
      } catch (err) {
        this.counts.malformed++;
        this.log?.warn({ key: this.key, id, err: errorMessage(err) }, 'state stream entry skipped');
        continue;
      }
      const events = this.events;
      if (!events) return;
      for (const obs of batch.prefixes) this.deliver(() => events.onPrefix(obs));
      for (const obs of batch.loads) this.deliver(() => events.onLoad(obs));
      for (const obs of batch.kvEvents ?? []) this.deliver(() => events.onKvEvents?.(obs));
    }
  }

  private deliver(handler: () => void): void {
    this.counts.applied++;
    try {
      handler();
    } catch (err) {
      this.log?.error({ key: this.key, err: errorMessage(err) }, 'state store consumer threw');
    }
  }

  private setHealth(conn: 'writer' | 'reader', ok: boolean): void {
    if (conn === 'writer') this.writerOk = ok;
    else this.readerOk = ok;
    this.noteStatus();
  }

  /** Waits `ms`, or less if the reader reconnects or the store closes. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(t); this.wake = null; resolve(); };
      const t = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /**
   * Awaits a command's real outcome. Late (past `timeoutMs`) makes the store degraded at once;
   * much later (`dropAfterMs` more) drops the connection, which rejects the command and reconnects.
   */
  private async command<T>(role: 'writer' | 'reader', promise: Promise<T>, timeoutMs: number): Promise<T> {
    const conn = role === 'writer' ? this.writer : this.reader;
    const slow = setTimeout(() => {
      this.lastError = `no reply from Redis in ${timeoutMs} ms`;
      this.setHealth(role, false);
    }, timeoutMs);
    const dead = setTimeout(() => {
      this.log?.warn({ key: this.key, role }, 'state store: Redis silent, reconnecting');
      conn.disconnect(true);
    }, timeoutMs + this.opts.dropAfterMs);
    try {
      return await promise;
    } finally {
      clearTimeout(slow);
      clearTimeout(dead);
    }
  }
}

function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
