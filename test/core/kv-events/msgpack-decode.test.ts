import { describe, expect, it } from 'vitest';
import { decodeMsgpack, MsgpackDecodeError, MsgpackExt } from '../../../core/kv-events/msgpack-decode.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('decodeMsgpack', () => {
  it('reads every integer width, small values as numbers', () => {
    expect(decodeMsgpack(hex('7f'))).toBe(127);
    expect(decodeMsgpack(hex('e0'))).toBe(-32);
    expect(decodeMsgpack(hex('cc ff'))).toBe(255);
    expect(decodeMsgpack(hex('cd ffff'))).toBe(65535);
    expect(decodeMsgpack(hex('ce ffffffff'))).toBe(4294967295);
    expect(decodeMsgpack(hex('d0 80'))).toBe(-128);
    expect(decodeMsgpack(hex('d1 8000'))).toBe(-32768);
    expect(decodeMsgpack(hex('d2 80000000'))).toBe(-2147483648);
    expect(decodeMsgpack(hex('cf 0000000000000007'))).toBe(7);
    expect(decodeMsgpack(hex('d3 ffffffffffffffff'))).toBe(-1);
  });

  it('keeps 64-bit integers beyond 2^53 exact, as bigint', () => {
    expect(decodeMsgpack(hex('cf ffffffffffffffff'))).toBe(0xffff_ffff_ffff_ffffn);
    expect(decodeMsgpack(hex('cf 0020000000000001'))).toBe(2n ** 53n + 1n);
    expect(decodeMsgpack(hex('cf 001fffffffffffff'))).toBe(2 ** 53 - 1);
    expect(decodeMsgpack(hex('d3 8000000000000000'))).toBe(-(2n ** 63n));
  });

  it('reads floats, strings, binary, nil and booleans', () => {
    expect(decodeMsgpack(hex('cb 3ff8000000000000'))).toBe(1.5);
    expect(decodeMsgpack(hex('ca 3fc00000'))).toBe(1.5);
    expect(decodeMsgpack(hex('a3 475055'))).toBe('GPU');
    expect(decodeMsgpack(hex('d9 03 475055'))).toBe('GPU');
    const bin = decodeMsgpack(hex('c4 02 abcd'));
    expect(bin).toBeInstanceOf(Uint8Array);
    expect([...(bin as Uint8Array)]).toEqual([0xab, 0xcd]);
    expect(decodeMsgpack(hex('c0'))).toBe(null);
    expect(decodeMsgpack(hex('c3'))).toBe(true);
    expect(decodeMsgpack(hex('c2'))).toBe(false);
  });

  it('reads arrays and maps of every width, maps keeping order', () => {
    expect(decodeMsgpack(hex('93 01 02 03'))).toEqual([1, 2, 3]);
    expect(decodeMsgpack(hex('dc 0002 01 02'))).toEqual([1, 2]);
    expect(decodeMsgpack(hex('dd 00000001 c0'))).toEqual([null]);
    const m = decodeMsgpack(hex('82 a1 62 01 a1 61 02'));
    expect(m).toBeInstanceOf(Map);
    expect([...(m as Map<unknown, unknown>).entries()]).toEqual([['b', 1], ['a', 2]]);
    expect((decodeMsgpack(hex('de 0001 a1 61 90')) as Map<unknown, unknown>).get('a')).toEqual([]);
  });

  it('reads extension types as MsgpackExt', () => {
    const ext = decodeMsgpack(hex('d4 05 aa'));
    expect(ext).toBeInstanceOf(MsgpackExt);
    expect((ext as MsgpackExt).type).toBe(5);
  });

  it('refuses truncated input, lying lengths, trailing bytes and deep nesting', () => {
    expect(() => decodeMsgpack(hex('cd ff'))).toThrow(MsgpackDecodeError);
    expect(() => decodeMsgpack(hex('dd ffffffff'))).toThrow(/truncated/); // no 4G allocation
    expect(() => decodeMsgpack(hex('a5 4142'))).toThrow(/truncated/);
    expect(() => decodeMsgpack(hex('01 02'))).toThrow(/trailing/);
    expect(() => decodeMsgpack(Buffer.alloc(100, 0x91))).toThrow(/nesting/);
    expect(() => decodeMsgpack(hex('c1'))).toThrow(/reserved/);
    expect(() => decodeMsgpack(hex('a2 c328'))).toThrow(/UTF-8/);
  });
});
