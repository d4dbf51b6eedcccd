/**
 * A DNS server on loopback for discovery tests (RFC 1035 over UDP, node:dgram): it answers A,
 * AAAA and SRV questions from a table the test edits, NXDOMAIN for names it does not hold, and
 * SERVFAIL to everything while `failing` is set.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface DnsRecords {
  a?: string[];
  aaaa?: string[];
  srv?: Array<{ target: string; port: number }>;
}

const TYPE = { A: 1, AAAA: 28, SRV: 33 } as const;

export class DnsResponder {
  readonly records = new Map<string, DnsRecords>();
  failing = false;
  /** Questions answered so far. */
  queries = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('message', (msg, from) => {
      const answer = this.answer(msg);
      if (answer) socket.send(answer, from.port, from.address);
    });
  }

  static async start(): Promise<DnsResponder> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new DnsResponder(socket);
  }

  /** `127.0.0.1:PORT`, for `discover.servers`. */
  get server(): string {
    const a = this.socket.address() as AddressInfo;
    return `${a.address}:${a.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private answer(msg: Buffer): Buffer | undefined {
    if (msg.length < 12) return undefined;
    this.queries++;
    // The question: labels up to a zero byte, then its type and class.
    let at = 12;
    const labels: string[] = [];
    while (at < msg.length && msg[at] !== 0) {
      labels.push(msg.subarray(at + 1, at + 1 + msg[at]).toString('ascii'));
      at += 1 + msg[at];
    }
    const questionEnd = at + 5;
    const qtype = msg.readUInt16BE(at + 1);
    const name = labels.join('.').toLowerCase();
    const held = this.records.get(name);
    const rcode = this.failing ? 2 : held ? 0 : 3;
    const rdatas = rcode === 0 && held ? rdataOf(held, qtype) : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8180 | rcode, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(rdatas.length, 6);
    const answers = rdatas.map((rdata) => {
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the question's name, by pointer
      rr.writeUInt16BE(qtype, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(0, 6);
      rr.writeUInt16BE(rdata.length, 10);
      return Buffer.concat([rr, rdata]);
    });
    return Buffer.concat([header, msg.subarray(12, questionEnd), ...answers]);
  }
}

function rdataOf(held: DnsRecords, qtype: number): Buffer[] {
  if (qtype === TYPE.A) return (held.a ?? []).map((ip) => Buffer.from(ip.split('.').map(Number)));
  if (qtype === TYPE.AAAA) return (held.aaaa ?? []).map(ipv6Bytes);
  if (qtype === TYPE.SRV) {
    return (held.srv ?? []).map((s) => {
      const fixed = Buffer.alloc(6);
      fixed.writeUInt16BE(0, 0);
      fixed.writeUInt16BE(1, 2);
      fixed.writeUInt16BE(s.port, 4);
      return Buffer.concat([fixed, encodeName(s.target)]);
    });
  }
  return [];
}

function encodeName(name: string): Buffer {
  return Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
