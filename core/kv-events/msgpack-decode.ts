/**
 * A MessagePack decoder for the engines' KV-event payloads, small enough to audit.
 *
 * Why not a package: the payloads carry 64-bit block hashes, and a hash that loses a bit is a
 * different block. Here every uint64/int64 outside ±(2^53−1) decodes as a `bigint`, exactly;
 * smaller integers, whatever their wire width, decode as `number`. Maps decode to `Map` (key
 * order and non-string keys kept), binary to `Uint8Array` views of the input (zero copy: copy
 * them if the input buffer is reused), extension types to `MsgpackExt`.
 *
 * Bounded: a length prefix larger than the bytes that remain is an error before anything is
 * allocated, and nesting deeper than `maxDepth` is refused, so a hostile payload costs at most
 * its own size.
 */

export type MsgpackValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | MsgpackExt
  | MsgpackValue[]
  | Map<MsgpackValue, MsgpackValue>;

export class MsgpackExt {
  constructor(readonly type: number, readonly data: Uint8Array) {}
}

export class MsgpackDecodeError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = 'MsgpackDecodeError';
  }
}

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const SAFE_MIN = -SAFE_MAX;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes exactly one value that fills `bytes`; trailing bytes are an error. */
export function decodeMsgpack(bytes: Uint8Array, maxDepth = 64): MsgpackValue {
  const reader = new Reader(bytes, maxDepth);
  const value = reader.value(0);
  if (reader.pos !== bytes.length) throw new MsgpackDecodeError(`${bytes.length - reader.pos} trailing bytes`, reader.pos);
  return value;
}

class Reader {
  pos = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly maxDepth: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  value(depth: number): MsgpackValue {
    if (depth > this.maxDepth) throw new MsgpackDecodeError(`nesting deeper than ${this.maxDepth}`, this.pos);
    const b = this.u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return this.map(b & 0x0f, depth);
    if ((b & 0xf0) === 0x90) return this.array(b & 0x0f, depth);
    if ((b & 0xe0) === 0xa0) return this.str(b & 0x1f);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return this.bin(this.u8());
      case 0xc5: return this.bin(this.u16());
      case 0xc6: return this.bin(this.u32());
      case 0xc7: return this.ext(this.u8());
      case 0xc8: return this.ext(this.u16());
      case 0xc9: return this.ext(this.u32());
      case 0xca: return this.fixed(4, (at) => this.view.getFloat32(at));
      case 0xcb: return this.fixed(8, (at) => this.view.getFloat64(at));
      case 0xcc: return this.u8();
      case 0xcd: return this.u16();
      case 0xce: return this.u32();
      case 0xcf: return narrow(this.fixed(8, (at) => this.view.getBigUint64(at)));
      case 0xd0: return this.fixed(1, (at) => this.view.getInt8(at));
      case 0xd1: return this.fixed(2, (at) => this.view.getInt16(at));
      case 0xd2: return this.fixed(4, (at) => this.view.getInt32(at));
      case 0xd3: return narrow(this.fixed(8, (at) => this.view.getBigInt64(at)));
      case 0xd4: return this.ext(1);
      case 0xd5: return this.ext(2);
      case 0xd6: return this.ext(4);
      case 0xd7: return this.ext(8);
      case 0xd8: return this.ext(16);
      case 0xd9: return this.str(this.u8());
      case 0xda: return this.str(this.u16());
      case 0xdb: return this.str(this.u32());
      case 0xdc: return this.array(this.u16(), depth);
      case 0xdd: return this.array(this.u32(), depth);
      case 0xde: return this.map(this.u16(), depth);
      case 0xdf: return this.map(this.u32(), depth);
      default: throw new MsgpackDecodeError(`reserved type byte 0x${b.toString(16)}`, this.pos - 1);
    }
  }

  private array(n: number, depth: number): MsgpackValue[] {
    // Every element takes at least one byte: a count beyond what remains is a lie.
    this.need(n);
    const out: MsgpackValue[] = new Array<MsgpackValue>(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  private map(n: number, depth: number): Map<MsgpackValue, MsgpackValue> {
    this.need(2 * n);
    const out = new Map<MsgpackValue, MsgpackValue>();
    for (let i = 0; i < n; i++) {
      const key = this.value(depth + 1);
      out.set(key, this.value(depth + 1));
    }
    return out;
  }

  private str(n: number): string {
    const at = this.take(n);
    try {
      return utf8.decode(this.bytes.subarray(at, at + n));
    } catch {
      throw new MsgpackDecodeError('invalid UTF-8 in str', at);
    }
  }

  private bin(n: number): Uint8Array {
    const at = this.take(n);
    return this.bytes.subarray(at, at + n);
  }

  private ext(n: number): MsgpackExt {
    const type = this.fixed(1, (at) => this.view.getInt8(at));
    const at = this.take(n);
    return new MsgpackExt(type, this.bytes.subarray(at, at + n));
  }

  private u8(): number {
    return this.fixed(1, (at) => this.bytes[at]);
  }

  private u16(): number {
    return this.fixed(2, (at) => this.view.getUint16(at));
  }

  private u32(): number {
    return this.fixed(4, (at) => this.view.getUint32(at));
  }

  private fixed<T>(n: number, read: (at: number) => T): T {
    return read(this.take(n));
  }

  private take(n: number): number {
    this.need(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private need(n: number): void {
    if (n > this.bytes.length - this.pos) {
      throw new MsgpackDecodeError(`truncated: ${n} more bytes announced, ${this.bytes.length - this.pos} left`, this.pos);
    }
  }
}

function narrow(v: bigint): number | bigint {
  return v >= SAFE_MIN && v <= SAFE_MAX ? Number(v) : v;
}
