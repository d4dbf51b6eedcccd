import { describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../../core/kv-events/zmtp-frame-decoder.js';
import {
  encodeCommand, encodeFrameHeader, encodeGreeting, encodeMetadata, FLAG_COMMAND, FLAG_MORE, parseCommand, parseGreeting,
  parseMetadata, peersCompatible, pingCommand, pongCommand, readyCommand, subscriptionMessage, ZmtpProtocolError,
} from '../../../core/kv-events/zmtp-wire.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/**
 * The greeting libzmq 4.3 sends with the NULL mechanism and no routing id, assembled from
 * zeromq/libzmq src/zmtp_engine.cpp @ v4.3.5-87 (6b708e4a): plug_internal writes 0xFF, the
 * routing-id size plus one as a big-endian uint64 and 0x7F; receive_greeting_versioned then
 * writes major 3, minor 1, "NULL" padded to 20 octets and 32 zero octets (as-server and filler).
 */
const LIBZMQ_4_3_NULL_GREETING = hex(
  'ff 0000000000000001 7f 03 01 4e554c4c 00000000000000000000000000000000' + '00'.repeat(32),
);

describe('ZMTP greeting', () => {
  it('is 64 bytes laid out as 23/ZMTP says, byte-identical to libzmq 4.3 when greeting as 3.1', () => {
    const g = encodeGreeting(1);
    expect(g).toHaveLength(64);
    expect(g.equals(LIBZMQ_4_3_NULL_GREETING)).toBe(true);
    expect(encodeGreeting(0)[11]).toBe(0);
  });

  it('parses a peer greeting and refuses ZMTP 1.0/2.0 peers', () => {
    expect(parseGreeting(LIBZMQ_4_3_NULL_GREETING)).toEqual({ major: 3, minor: 1, mechanism: 'NULL', asServer: false });
    const curve = Buffer.from(LIBZMQ_4_3_NULL_GREETING);
    curve.write('CURVE', 12, 'ascii');
    curve[32] = 1;
    expect(parseGreeting(curve)).toMatchObject({ mechanism: 'CURVE', asServer: true });
    const v2 = Buffer.from(LIBZMQ_4_3_NULL_GREETING);
    v2[10] = 1;
    expect(() => parseGreeting(v2)).toThrow(/ZMTP 1/);
    const unversioned = Buffer.from(LIBZMQ_4_3_NULL_GREETING);
    unversioned[9] = 0x00;
    expect(() => parseGreeting(unversioned)).toThrow(ZmtpProtocolError);
  });
});

describe('ZMTP frames and commands', () => {
  it('uses a 1-octet size up to 255 bytes and an 8-octet one beyond', () => {
    expect(encodeFrameHeader(0, 0)).toEqual(hex('00 00'));
    expect(encodeFrameHeader(255, FLAG_MORE)).toEqual(hex('01 ff'));
    expect(encodeFrameHeader(256, 0)).toEqual(hex('02 0000000000000100'));
    expect(encodeFrameHeader(70_000, FLAG_MORE)).toEqual(hex('03 0000000000011170'));
  });

  it('encodes READY with Socket-Type, and Identity only for DEALER/ROUTER/REQ', () => {
    // 04 (command) size, 05 "READY", 0b "Socket-Type" 00000003 "SUB"
    expect(readyCommand('SUB')).toEqual(hex('04 19 05 5245414459 0b 536f636b65742d54797065 00000003 535542'));
    const dealer = parseCommand(readyCommand('DEALER', Buffer.from('me')).subarray(2));
    expect(dealer.name).toBe('READY');
    const props = parseMetadata(dealer.data);
    expect(Buffer.from(props.get('socket-type') ?? []).toString()).toBe('DEALER');
    expect(Buffer.from(props.get('identity') ?? []).toString()).toBe('me');
  });

  it('round-trips metadata and rejects a truncated property', () => {
    const md = encodeMetadata([['Socket-Type', Buffer.from('PUB')], ['X-Empty', Buffer.alloc(0)]]);
    const props = parseMetadata(md);
    expect(Buffer.from(props.get('socket-type') ?? []).toString()).toBe('PUB');
    expect(props.get('x-empty')).toHaveLength(0);
    expect(() => parseMetadata(md.subarray(0, md.length - 2))).toThrow(ZmtpProtocolError);
  });

  it('answers PING with its context, and writes subscriptions in the 3.0 message form', () => {
    const ping = pingCommand(0, Buffer.from('ctx'));
    const { name, data } = parseCommand(ping.subarray(2));
    expect(name).toBe('PING');
    expect(parseCommand(pongCommand(data).subarray(2))).toMatchObject({ name: 'PONG', data: Buffer.from('ctx') });
    expect(subscriptionMessage(Buffer.from('kv'), true)).toEqual(hex('01 6b76'));
    expect(subscriptionMessage(Buffer.alloc(0), false)).toEqual(hex('00'));
  });

  it('knows which socket types may talk', () => {
    expect(peersCompatible('SUB', 'PUB')).toBe(true);
    expect(peersCompatible('DEALER', 'ROUTER')).toBe(true);
    expect(peersCompatible('SUB', 'ROUTER')).toBe(false);
    expect(peersCompatible('PUB', 'PUB')).toBe(false);
  });
});

describe('FrameDecoder', () => {
  const stream = Buffer.concat([
    encodeGreeting(1),
    encodeCommand('READY', encodeMetadata([['Socket-Type', Buffer.from('PUB')]])),
    encodeFrameHeader(3, FLAG_MORE), Buffer.from('top'),
    encodeFrameHeader(8, FLAG_MORE), Buffer.alloc(8, 1),
    encodeFrameHeader(100_000, 0), Buffer.alloc(100_000, 7),
  ]);

  function decodeAll(chunks: Buffer[]) {
    const d = new FrameDecoder(1 << 20);
    return chunks.flatMap((c) => d.push(c));
  }

  it('yields the greeting, then frames, from one read', () => {
    const items = decodeAll([stream]);
    expect(items.map((i) => i.kind)).toEqual(['greeting', 'frame', 'frame', 'frame', 'frame']);
    const frames = items.flatMap((i) => (i.kind === 'frame' ? [i] : []));
    expect(frames[0].command).toBe(true);
    expect(frames[1]).toMatchObject({ more: true, command: false, body: Buffer.from('top') });
    expect(frames[3].more).toBe(false);
    expect(frames[3].body.equals(Buffer.alloc(100_000, 7))).toBe(true);
  });

  it('yields the same whatever the reads: one byte at a time, or odd slices across headers', () => {
    const whole = decodeAll([stream]);
    const bytes = decodeAll([...stream].map((b) => Buffer.from([b])));
    expect(bytes).toEqual(whole);
    const slices: Buffer[] = [];
    for (let at = 0; at < stream.length; at += 7919) slices.push(stream.subarray(at, at + 7919));
    expect(decodeAll(slices)).toEqual(whole);
  });

  it('refuses a frame over the size limit before buffering it, and reserved flag bits', () => {
    const d = new FrameDecoder(1000);
    d.push(encodeGreeting(1));
    expect(() => d.push(encodeFrameHeader(1001, 0))).toThrow(/exceeds/);
    const e = new FrameDecoder(1000);
    e.push(encodeGreeting(1));
    expect(() => e.push(hex('08 00'))).toThrow(/reserved/);
    expect(FLAG_COMMAND).toBe(4);
  });
});
