/**
 * The dashboard's live feed: one snapshot per interval, serialised once and written to every
 * connected page as an SSE event.
 *
 * Invariants:
 * - nobody watching, no work: the timer starts with the first subscriber and stops with the last,
 *   and the history (windows, counter baselines) starts again when it restarts;
 * - a slow page never makes the gateway buffer: while a subscriber's socket has not drained, it
 *   misses snapshots instead of queueing them (each snapshot is whole on its own);
 * - a snapshot that fails to build is logged and skipped, the feed goes on.
 */
import type { ServerResponse } from 'node:http';

export interface FeedOptions {
  intervalMs: number;
  build: () => Promise<Record<string, unknown>>;
  /** Called when the first subscriber arrives after a pause. */
  onStart?: () => void;
  log: { warn(obj: Record<string, unknown>, msg: string): void };
}

export class SnapshotFeed {
  private readonly subscribers = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private building = false;
  private last: string | undefined;

  constructor(private readonly opts: FeedOptions) {}

  get watching(): number {
    return this.subscribers.size;
  }

  /** Streams snapshots to `res` (headers already written) until it closes. */
  subscribe(res: ServerResponse): void {
    this.subscribers.add(res);
    res.once('close', () => {
      this.subscribers.delete(res);
      if (this.subscribers.size === 0) this.stop();
    });
    // A page that joins a running feed sees the latest snapshot at once, not a second later.
    if (this.last !== undefined && this.timer) res.write(this.last);
    if (!this.timer) {
      this.opts.onStart?.();
      this.last = undefined;
      this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
      this.timer.unref();
      void this.tick();
    }
  }

  /** Ends every stream (the server is closing). */
  close(): void {
    this.stop();
    for (const res of this.subscribers) res.end();
    this.subscribers.clear();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    // A build slower than the interval skips a beat rather than piling up.
    if (this.building) return;
    this.building = true;
    try {
      const snapshot = await this.opts.build();
      if (!this.timer) return;
      this.last = `event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`;
      for (const res of this.subscribers) {
        if (!res.writableNeedDrain && !res.destroyed) res.write(this.last);
      }
    } catch (err) {
      this.opts.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'dashboard snapshot failed');
    } finally {
      this.building = false;
    }
  }
}
