/**
 * Server-sent events on a hijacked fastify reply, with backpressure: when the socket buffer is
 * full (`write()` returns false) the writer waits for 'drain' before the caller pulls the next
 * chunk from the engine, so a slow client is paused, never buffered without bound.
 */
import type { FastifyReply } from 'fastify';

export class SseWriter {
  private closedFlag = false;
  private waiters: Array<() => void> = [];

  constructor(private readonly reply: FastifyReply, contentType = 'text/event-stream; charset=utf-8') {
    reply.hijack();
    const raw = reply.raw;
    raw.on('close', () => {
      this.closedFlag = true;
      this.release();
    });
    raw.on('drain', () => this.release());
    // Headers set earlier with raw.setHeader (x-sim-replica) are merged by writeHead.
    raw.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache', connection: 'keep-alive' });
    raw.flushHeaders();
  }

  /** True once the connection is gone (client disconnect, crash fault, server close). */
  get closed(): boolean {
    return this.closedFlag || this.reply.raw.destroyed;
  }

  /** Writes one frame; resolves false if the connection is gone. Waits for 'drain' when needed. */
  async write(frame: string): Promise<boolean> {
    if (this.closed) return false;
    const flushed = this.reply.raw.write(frame);
    if (!flushed && !this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return !this.closed;
  }

  async writeAll(frames: readonly string[]): Promise<boolean> {
    for (const frame of frames) if (!(await this.write(frame))) return false;
    return !this.closed;
  }

  end(): void {
    if (!this.closed) this.reply.raw.end();
  }

  /** Cuts the connection mid-stream (the crash fault): the client sees a truncated response. */
  destroy(): void {
    this.reply.raw.socket?.destroy();
    this.reply.raw.destroy();
  }

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** `data: <json>\n\n`, the framing every engine here uses. */
export function sseData(payload: string): string {
  return `data: ${payload}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';
