/**
 * Cuts a ZMTP byte stream into the peer's greeting and then frames, whatever the TCP segments.
 *
 * Chunks are queued as they arrive and copied once, when a whole header or body is there, so a
 * frame split over many reads costs one copy, not one per read. A frame whose announced size
 * exceeds `maxFrameBytes` is refused before any of it is buffered: that bounds what one peer
 * can make us hold.
 */
import { FLAG_COMMAND, FLAG_LONG, FLAG_MORE, GREETING_SIZE, ZmtpProtocolError } from './zmtp-wire.js';

export interface ZmtpFrame {
  more: boolean;
  command: boolean;
  body: Buffer;
}

export type DecodedItem = { kind: 'greeting'; bytes: Buffer } | ({ kind: 'frame' } & ZmtpFrame);

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private greeted = false;
  /** The header of the frame whose body is awaited. */
  private header: { flags: number; size: number } | null = null;

  constructor(private readonly maxFrameBytes: number) {}

  /** Adds bytes from the socket and returns every item they complete, in order. */
  push(chunk: Buffer): DecodedItem[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: DecodedItem[] = [];
    if (!this.greeted) {
      if (this.buffered < GREETING_SIZE) return out;
      out.push({ kind: 'greeting', bytes: this.take(GREETING_SIZE) });
      this.greeted = true;
    }
    for (;;) {
      if (this.header === null) {
        if (this.buffered < 2) return out;
        const flags = this.peek(0);
        if ((flags & 0xf8) !== 0) throw new ZmtpProtocolError(`reserved frame flag bits set (0x${flags.toString(16)})`);
        const long = (flags & FLAG_LONG) !== 0;
        if (long && this.buffered < 9) return out;
        const head = this.take(long ? 9 : 2);
        const size64 = long ? head.readBigUInt64BE(1) : BigInt(head[1]);
        if (size64 > BigInt(this.maxFrameBytes)) {
          throw new ZmtpProtocolError(`frame of ${size64} bytes exceeds the ${this.maxFrameBytes}-byte limit`);
        }
        this.header = { flags, size: Number(size64) };
      }
      if (this.buffered < this.header.size) return out;
      const { flags, size } = this.header;
      this.header = null;
      out.push({
        kind: 'frame',
        more: (flags & FLAG_MORE) !== 0,
        command: (flags & FLAG_COMMAND) !== 0,
        body: this.take(size),
      });
    }
  }

  private peek(i: number): number {
    return this.chunks[0][i];
  }

  /** Removes the first n buffered bytes (n ≤ buffered) as one Buffer. */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      // A copy, so the small frame does not pin the whole read buffer it arrived in.
      return Buffer.from(first.subarray(0, n));
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, filled, 0, want);
        this.chunks[0] = c.subarray(want);
        filled += want;
      }
    }
    return out;
  }
}
