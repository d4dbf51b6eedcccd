/**
 * ZMTP 3.0/3.1 on the wire: the greeting, frame headers and the commands the NULL mechanism and
 * pub-sub need. Byte layouts from rfc.zeromq.org 23/ZMTP (3.0) and 37/ZMTP (3.1); the choices
 * left open by the spec are made as libzmq makes them (zeromq/libzmq src/zmtp_engine.cpp,
 * mechanism.cpp, v4.3.5), since the peer is always libzmq (pyzmq inside vLLM).
 *
 * Pure functions over bytes; sockets live in zmtp-connection.ts.
 */

export const GREETING_SIZE = 64;
export const FLAG_MORE = 0x01;
export const FLAG_LONG = 0x02;
export const FLAG_COMMAND = 0x04;

export type ZmtpSocketType =
  | 'PAIR' | 'PUB' | 'SUB' | 'REQ' | 'REP' | 'DEALER' | 'ROUTER' | 'PULL' | 'PUSH' | 'XPUB' | 'XSUB';

export class ZmtpProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZmtpProtocolError';
  }
}

export interface Greeting {
  major: number;
  minor: number;
  mechanism: string;
  asServer: boolean;
}

/**
 * Our 64-byte greeting. The 8 padding octets hold 1 as a big-endian uint64, as libzmq writes
 * them (the length of an empty ZMTP 1.0 identity frame plus one), so a 1.0/2.0 peer reads a
 * well-formed header before it sees the version; the 10th octet (0x7F) has its low bit set,
 * which is how libzmq tells a versioned peer (zmtp_engine.cpp receive_greeting).
 */
export function encodeGreeting(minor: 0 | 1, asServer = false): Buffer {
  const g = Buffer.alloc(GREETING_SIZE);
  g[0] = 0xff;
  g[8] = 0x01;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = minor;
  g.write('NULL', 12, 'ascii');
  g[32] = asServer ? 1 : 0;
  return g;
}

export function parseGreeting(g: Uint8Array): Greeting {
  if (g.length < GREETING_SIZE) throw new ZmtpProtocolError(`greeting of ${g.length} bytes`);
  if (g[0] !== 0xff || (g[9] & 0x01) === 0) throw new ZmtpProtocolError('peer speaks unversioned ZMTP 1.0');
  if (g[10] < 3) throw new ZmtpProtocolError(`peer speaks ZMTP ${g[10]}.x; 3.0 or newer is needed`);
  let end = 12;
  while (end < 32 && g[end] !== 0) end++;
  const mechanism = Buffer.from(g.subarray(12, end)).toString('ascii');
  return { major: g[10], minor: g[11], mechanism, asServer: g[32] === 1 };
}

/** Header of one frame: flags, then the size in one octet (short) or eight big-endian (long). */
export function encodeFrameHeader(size: number, flags: number): Buffer {
  if (size <= 0xff) return Buffer.from([flags & ~FLAG_LONG, size]);
  const h = Buffer.alloc(9);
  h[0] = flags | FLAG_LONG;
  h.writeBigUInt64BE(BigInt(size), 1);
  return h;
}

/** A whole command frame: name-size, name, then the command's data. Commands never set MORE. */
export function encodeCommand(name: string, data: Uint8Array = new Uint8Array(0)): Buffer {
  const nameBytes = Buffer.from(name, 'ascii');
  const body = Buffer.concat([Buffer.from([nameBytes.length]), nameBytes, data]);
  return Buffer.concat([encodeFrameHeader(body.length, FLAG_COMMAND), body]);
}

export function parseCommand(body: Uint8Array): { name: string; data: Uint8Array } {
  if (body.length < 1 || body.length < 1 + body[0]) throw new ZmtpProtocolError('malformed command frame');
  const name = Buffer.from(body.subarray(1, 1 + body[0])).toString('ascii');
  return { name, data: body.subarray(1 + body[0]) };
}

/** READY's metadata: name-size (1 octet), name, value-size (4 octets, big-endian), value. */
export function encodeMetadata(props: ReadonlyArray<readonly [string, Uint8Array]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of props) {
    const n = Buffer.from(name, 'ascii');
    const size = Buffer.alloc(4);
    size.writeUInt32BE(value.length);
    parts.push(Buffer.from([n.length]), n, size, Buffer.from(value));
  }
  return Buffer.concat(parts);
}

/** Property names are compared case-insensitively (23/ZMTP), so the map's keys are lower case. */
export function parseMetadata(data: Uint8Array): Map<string, Uint8Array> {
  const props = new Map<string, Uint8Array>();
  let at = 0;
  while (at < data.length) {
    const nameLen = data[at];
    if (nameLen === 0 || at + 1 + nameLen + 4 > data.length) throw new ZmtpProtocolError('malformed metadata');
    const name = Buffer.from(data.subarray(at + 1, at + 1 + nameLen)).toString('ascii').toLowerCase();
    at += 1 + nameLen;
    const valueLen = Buffer.from(data.subarray(at, at + 4)).readUInt32BE(0);
    at += 4;
    if (at + valueLen > data.length) throw new ZmtpProtocolError('malformed metadata');
    props.set(name, data.subarray(at, at + valueLen));
    at += valueLen;
  }
  return props;
}

/**
 * READY for the NULL mechanism. libzmq sends `Identity` only from REQ, DEALER and ROUTER
 * (mechanism.cpp add_basic_properties); an empty one asks the peer ROUTER to pick an id.
 */
export function readyCommand(type: ZmtpSocketType, identity: Uint8Array = new Uint8Array(0)): Buffer {
  const props: Array<readonly [string, Uint8Array]> = [['Socket-Type', Buffer.from(type, 'ascii')]];
  if (type === 'REQ' || type === 'DEALER' || type === 'ROUTER') props.push(['Identity', identity]);
  return encodeCommand('READY', encodeMetadata(props));
}

export function errorCommand(reason: string): Buffer {
  const r = Buffer.from(reason.slice(0, 255), 'ascii');
  return encodeCommand('ERROR', Buffer.concat([Buffer.from([r.length]), r]));
}

/** 37/ZMTP PING: a TTL in tenths of a second (0: the peer need not time us out) and a context. */
export function pingCommand(ttlDeciseconds: number, context: Uint8Array): Buffer {
  const ttl = Buffer.alloc(2);
  ttl.writeUInt16BE(ttlDeciseconds);
  return encodeCommand('PING', Buffer.concat([ttl, context.subarray(0, 16)]));
}

/** The PING's context, echoed (libzmq truncates it to 16 octets, zmtp_engine.cpp). */
export function pongCommand(pingData: Uint8Array): Buffer {
  return encodeCommand('PONG', pingData.subarray(2, 18));
}

/**
 * A subscription in the 3.0 form: a one-frame message whose first octet is 1 (subscribe) or 0
 * (cancel). libzmq's PUB accepts this form from any peer (xpub.cpp xread_activated), and it is
 * the only form a 3.0 peer understands, so a SUB here always sends it.
 */
export function subscriptionMessage(topic: Uint8Array, subscribe: boolean): Buffer {
  return Buffer.concat([Buffer.from([subscribe ? 1 : 0]), topic]);
}

const PEERS: Record<ZmtpSocketType, readonly ZmtpSocketType[]> = {
  PAIR: ['PAIR'],
  PUB: ['SUB', 'XSUB'],
  XPUB: ['SUB', 'XSUB'],
  SUB: ['PUB', 'XPUB'],
  XSUB: ['PUB', 'XPUB'],
  REQ: ['REP', 'ROUTER'],
  REP: ['REQ', 'DEALER'],
  DEALER: ['REP', 'DEALER', 'ROUTER'],
  ROUTER: ['REQ', 'DEALER', 'ROUTER'],
  PUSH: ['PULL'],
  PULL: ['PUSH'],
};

export function isSocketType(s: string): s is ZmtpSocketType {
  return Object.prototype.hasOwnProperty.call(PEERS, s);
}

export function peersCompatible(ours: ZmtpSocketType, theirs: ZmtpSocketType): boolean {
  return PEERS[ours].includes(theirs);
}
