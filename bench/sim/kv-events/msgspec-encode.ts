/**
 * MessagePack written the way msgspec writes it, byte for byte, so the emulated engine's KV
 * events are what a real vLLM would send (msgspec src/msgspec/_core.c, 0.21.1):
 * - an int takes the narrowest form for its sign (positive: fixint, uint8, uint16, uint32,
 *   uint64; negative: fixint, int8 … int64), never a signed form for a positive value
 *   (mpack_encode_long);
 * - a float is always float64, even 1.0 (mpack_encode_float); JavaScript cannot tell 1.0 from 1,
 *   so floats are wrapped in `F64`;
 * - headers take the shortest form: str fix/8/16/32, bin 8/16/32, array and map fix/16/32;
 * - a struct encoded as a map writes its header for *all* its fields and, with omit_defaults,
 *   patches the count afterwards (mpack_encode_struct_object): the header keeps the width chosen
 *   for the full count. `OrderedMap.declared` carries that full count.
 */

export class F64 {
  constructor(readonly value: number) {}
}

export class OrderedMap {
  /** `declared`: the field count the header's width is chosen for (msgspec structs). */
  constructor(readonly entries: ReadonlyArray<readonly [string, Encodable]>, readonly declared = entries.length) {}
}

export type Encodable = null | boolean | number | bigint | string | Uint8Array | F64 | OrderedMap | readonly Encodable[];

export function encodeMsgspec(value: Encodable): Buffer {
  const out: Buffer[] = [];
  write(value, out);
  return Buffer.concat(out);
}

function write(v: Encodable, out: Buffer[]): void {
  if (v === null) out.push(Buffer.from([0xc0]));
  else if (v === true) out.push(Buffer.from([0xc3]));
  else if (v === false) out.push(Buffer.from([0xc2]));
  else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new Error(`${v} is not a safe integer: wrap floats in F64, big ints in BigInt`);
    writeInt(BigInt(v), out);
  } else if (typeof v === 'bigint') writeInt(v, out);
  else if (v instanceof F64) {
    const b = Buffer.alloc(9);
    b[0] = 0xcb;
    b.writeDoubleBE(v.value, 1);
    out.push(b);
  } else if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    out.push(header(s.length, 0xa0, 32, 0xd9, 0xda, 0xdb), s);
  } else if (v instanceof Uint8Array) {
    out.push(header(v.length, null, 0, 0xc4, 0xc5, 0xc6), Buffer.from(v));
  } else if (v instanceof OrderedMap) {
    out.push(sizedHeader(v.declared, v.entries.length, 0x80, 0xde, 0xdf));
    for (const [k, val] of v.entries) {
      write(k, out);
      write(val, out);
    }
  } else {
    out.push(sizedHeader(v.length, v.length, 0x90, 0xdc, 0xdd));
    for (const item of v) write(item, out);
  }
}

function writeInt(x: bigint, out: Buffer[]): void {
  if (x > 0xffff_ffff_ffff_ffffn || x < -(1n << 63n)) throw new Error(`${x} does not fit 64 bits`);
  if (x >= 0n) {
    if (x < 0x80n) out.push(Buffer.from([Number(x)]));
    else if (x < 0x100n) out.push(Buffer.from([0xcc, Number(x)]));
    else if (x < 0x10000n) out.push(fixed(0xcd, 2, (b) => b.writeUInt16BE(Number(x), 1)));
    else if (x < 0x1_0000_0000n) out.push(fixed(0xce, 4, (b) => b.writeUInt32BE(Number(x), 1)));
    else out.push(fixed(0xcf, 8, (b) => b.writeBigUInt64BE(x, 1)));
  } else if (x >= -32n) out.push(Buffer.from([Number(x) & 0xff]));
  else if (x >= -128n) out.push(fixed(0xd0, 1, (b) => b.writeInt8(Number(x), 1)));
  else if (x >= -32768n) out.push(fixed(0xd1, 2, (b) => b.writeInt16BE(Number(x), 1)));
  else if (x >= -(1n << 31n)) out.push(fixed(0xd2, 4, (b) => b.writeInt32BE(Number(x), 1)));
  else out.push(fixed(0xd3, 8, (b) => b.writeBigInt64BE(x, 1)));
}

function fixed(tag: number, n: number, fill: (b: Buffer) => void): Buffer {
  const b = Buffer.alloc(1 + n);
  b[0] = tag;
  fill(b);
  return b;
}

/** str/bin: a fix form below `fixLimit` (if any), then 8-, 16- and 32-bit lengths. */
function header(len: number, fix: number | null, fixLimit: number, t8: number, t16: number, t32: number): Buffer {
  if (fix !== null && len < fixLimit) return Buffer.from([fix | len]);
  if (len < 0x100) return Buffer.from([t8, len]);
  if (len < 0x10000) return fixed(t16, 2, (b) => b.writeUInt16BE(len, 1));
  return fixed(t32, 4, (b) => b.writeUInt32BE(len, 1));
}

/** array/map: the width follows `declared`, the count written is `actual`. */
function sizedHeader(declared: number, actual: number, fix: number, t16: number, t32: number): Buffer {
  if (declared < 16) return Buffer.from([fix | actual]);
  if (declared < 0x10000) return fixed(t16, 2, (b) => b.writeUInt16BE(actual, 1));
  return fixed(t32, 4, (b) => b.writeUInt32BE(actual, 1));
}
