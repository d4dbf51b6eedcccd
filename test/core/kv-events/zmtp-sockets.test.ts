import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DealerSocket, SubSocket } from '../../../core/kv-events/zmtp-client.js';
import { FrameDecoder, type DecodedItem } from '../../../core/kv-events/zmtp-frame-decoder.js';
import { PubSocket, RouterSocket } from '../../../core/kv-events/zmtp-server.js';
import {
  encodeCommand, encodeFrameHeader, encodeGreeting, parseCommand, parseGreeting, parseMetadata, readyCommand,
  type ZmtpSocketType,
} from '../../../core/kv-events/zmtp-wire.js';
import { cleanups, closeAfterEach, waitFor } from './helpers.js';

closeAfterEach();

async function bindPub(opts = {}): Promise<{ pub: PubSocket; endpoint: string }> {
  const pub = new PubSocket(opts);
  const endpoint = await pub.bind('tcp://127.0.0.1:0');
  cleanups.push(() => pub.close());
  return { pub, endpoint };
}

function sub(endpoint: string, got: Buffer[][], opts = {}): SubSocket {
  const s = new SubSocket(endpoint, { reconnectMinMs: 20, reconnectMaxMs: 100, ...opts }, { onMessage: (f) => got.push(f) });
  cleanups.push(() => s.close());
  return s;
}

/** A hand-driven ZMTP peer, to see exactly what our sockets put on the wire. */
function rawPeer(port: number, type: ZmtpSocketType, minor: 0 | 1) {
  const socket = connect({ host: '127.0.0.1', port });
  cleanups.push(() => socket.destroy());
  const decoder = new FrameDecoder(1 << 24);
  const items: DecodedItem[] = [];
  socket.on('data', (c: Buffer) => items.push(...decoder.push(c)));
  socket.write(encodeGreeting(minor));
  socket.write(readyCommand(type));
  const frames = () => items.flatMap((i) => (i.kind === 'frame' ? [i] : []));
  return { socket, items, frames };
}

const port = (endpoint: string) => Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));

describe('PUB ↔ SUB', () => {
  it('delivers multipart messages, long frames included, to the subscribers of their topic only', async () => {
    const { pub, endpoint } = await bindPub();
    const kv: Buffer[][] = [];
    const all: Buffer[][] = [];
    sub(endpoint, kv).subscribe('kv');
    sub(endpoint, all).subscribe('');
    await waitFor(() => pub.stats.peers === 2, 'two peers');
    await pub.waitForSubscriber('kv');
    await pub.waitForSubscriber('x');
    const big = Buffer.alloc(300_000, 9);
    expect(pub.send([Buffer.from('kv-a'), Buffer.from('1'), big])).toBe(2);
    expect(pub.send([Buffer.from('other'), Buffer.from('2')])).toBe(1);
    expect(pub.send([Buffer.from('k'), Buffer.from('3')])).toBe(1);
    await waitFor(() => all.length === 3 && kv.length === 1, 'deliveries');
    expect(kv[0].map((f) => f.length)).toEqual([4, 1, 300_000]);
    expect(kv[0][2].equals(big)).toBe(true);
    expect(all.map((m) => m[0].toString())).toEqual(['kv-a', 'other', 'k']);
  });

  it('sends subscriptions in the 3.0 form, resends them on reconnect, and cancels', async () => {
    // A PUB written by hand that greets as ZMTP 3.0, as an old libzmq would.
    const seen: DecodedItem[][] = [];
    const server = createServer((s: Socket) => {
      const d = new FrameDecoder(1 << 20);
      const items: DecodedItem[] = [];
      seen.push(items);
      s.on('data', (c: Buffer) => items.push(...d.push(c)));
      s.write(encodeGreeting(0));
      s.write(readyCommand('PUB'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const p = (server.address() as AddressInfo).port;
    const s = sub(`tcp://127.0.0.1:${p}`, []);
    s.subscribe('kv-events');
    const data = (i: number) => seen[i].flatMap((x) => (x.kind === 'frame' && !x.command ? [x.body.toString('hex')] : []));
    await waitFor(() => seen.length === 1 && data(0).length === 1, 'subscription');
    expect(parseGreeting((seen[0][0] as { bytes: Buffer }).bytes).minor).toBe(1);
    expect(data(0)).toEqual([Buffer.concat([Buffer.from([1]), Buffer.from('kv-events')]).toString('hex')]);
    s.unsubscribe('kv-events');
    await waitFor(() => data(0).length === 2, 'cancel');
    expect(data(0)[1]).toBe(Buffer.concat([Buffer.from([0]), Buffer.from('kv-events')]).toString('hex'));
    s.subscribe('a');
    s.reconnect();
    await waitFor(() => seen.length === 2 && data(1).length === 1, 'resubscription');
    expect(data(1)).toEqual(['0161']);
  });

  it('honours SUBSCRIBE and CANCEL commands from a 3.1 peer, and answers its PING', async () => {
    const { pub, endpoint } = await bindPub();
    const peer = rawPeer(port(endpoint), 'SUB', 1);
    peer.socket.write(encodeCommand('SUBSCRIBE', Buffer.from('t')));
    await pub.waitForSubscriber('t');
    pub.send([Buffer.from('t1'), Buffer.from('x')]);
    await waitFor(() => peer.frames().filter((f) => !f.command).length === 2, 'message');
    peer.socket.write(encodeCommand('PING', Buffer.from([0, 0, 0xab])));
    await waitFor(() => peer.frames().some((f) => f.command && parseCommand(f.body).name === 'PONG'), 'PONG');
    const pong = peer.frames().find((f) => f.command && parseCommand(f.body).name === 'PONG');
    expect(pong && [...parseCommand(pong.body).data]).toEqual([0xab]);
    peer.socket.write(encodeCommand('CANCEL', Buffer.from('t')));
    await waitFor(() => pub.send([Buffer.from('t2'), Buffer.from('y')]) === 0, 'cancel');
  });

  it('drops whole messages for a subscriber that stops reading, past its HWM, and not for the others', async () => {
    const { pub, endpoint } = await bindPub({ sendHwm: 8 });
    const stalled = rawPeer(port(endpoint), 'SUB', 0);
    stalled.socket.write(Buffer.concat([encodeFrameHeader(1, 0), Buffer.from([1])]));
    const fast: Buffer[][] = [];
    sub(endpoint, fast).subscribe('');
    await waitFor(() => pub.stats.peers === 2, 'two peers');
    await waitFor(() => pub.send([Buffer.from('probe')]) === 2, 'both subscribed');
    stalled.socket.pause();
    const payload = Buffer.alloc(256 * 1024, 1);
    // Paced by the fast subscriber: a synchronous burst would overrun its HWM as well.
    for (let i = 0; i < 200; i++) {
      pub.send([Buffer.from('t'), payload]);
      await waitFor(() => fast.length === i + 2, `message ${i} at the fast subscriber`);
    }
    expect(pub.stats.dropped).toBeGreaterThan(100);
    expect(pub.stats.dropped).toBeLessThan(200);
    stalled.socket.resume();
    const received = () => stalled.frames().filter((f) => !f.command && f.body.length === payload.length).length;
    await waitFor(() => received() === 200 - pub.stats.dropped, 'the stalled subscriber drains its queue', 20_000);
  });
});

describe('DEALER ↔ ROUTER', () => {
  it('routes replies by identity: a generated one (0 + 4 octets), or the one the DEALER announced', async () => {
    const router = new RouterSocket();
    const endpoint = await router.bind('tcp://127.0.0.1:0');
    cleanups.push(() => router.close());
    const ids: Buffer[] = [];
    router.onMessage((id, frames) => {
      ids.push(id);
      router.send(id, [Buffer.alloc(0), Buffer.from(`echo ${frames[1].toString()}`)]);
    });
    const replies: string[][] = [];
    const anon = new DealerSocket(endpoint, {}, { onMessage: (f) => replies.push(['anon', f[1].toString()]) });
    const named = new DealerSocket(endpoint, { identity: Buffer.from('me') }, { onMessage: (f) => replies.push(['me', f[1].toString()]) });
    cleanups.push(() => anon.close(), () => named.close());
    await waitFor(() => anon.connected && named.connected, 'connections');
    expect(anon.send([Buffer.alloc(0), Buffer.from('a')])).toBe(true);
    expect(named.send([Buffer.alloc(0), Buffer.from('b')])).toBe(true);
    await waitFor(() => replies.length === 2, 'replies');
    expect(replies.sort()).toEqual([['anon', 'echo a'], ['me', 'echo b']]);
    const generated = ids.find((id) => id.toString() !== 'me');
    expect(generated).toHaveLength(5);
    expect(generated?.[0]).toBe(0);
    expect(router.send(Buffer.from('nobody'), [Buffer.from('x')])).toBe(false);
  });

  it('refuses a peer of a socket type it cannot talk to', async () => {
    const router = new RouterSocket();
    const endpoint = await router.bind('tcp://127.0.0.1:0');
    cleanups.push(() => router.close());
    const s = sub(endpoint, []);
    await waitFor(() => s.status.lastError !== null, 'a refusal');
    expect(s.status.lastError).toMatch(/cannot talk to a peer of type "ROUTER"/);
    expect(s.status.connected).toBe(false);
  });

  it('says what the peer announced in READY', async () => {
    const { endpoint } = await bindPub();
    const peer = rawPeer(port(endpoint), 'SUB', 1);
    await waitFor(() => peer.frames().length >= 1, 'READY');
    const ready = parseCommand(peer.frames()[0].body);
    expect(ready.name).toBe('READY');
    expect(Buffer.from(parseMetadata(ready.data).get('socket-type') ?? []).toString()).toBe('PUB');
  });
});

describe('reconnection', () => {
  it('drops and redials a 3.1 peer that stops answering PINGs', async () => {
    const server = createServer((s: Socket) => {
      s.on('data', () => {}); // reads, never answers
      s.write(encodeGreeting(1));
      s.write(readyCommand('PUB'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { server.close(() => r()); server.unref(); }));
    const s = sub(`tcp://127.0.0.1:${(server.address() as AddressInfo).port}`, [], { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 200 });
    await waitFor(() => s.status.connects >= 2, 'a redial');
    expect(s.status.lastError).toMatch(/silent for over 200 ms/);
  });

  it('connects once the publisher comes up, and again after it restarts, reporting the outage', async () => {
    const probe = new PubSocket();
    const endpoint = await probe.bind('tcp://127.0.0.1:0');
    await probe.close();
    const got: Buffer[][] = [];
    const s = sub(endpoint, got);
    s.subscribe('');
    await new Promise((r) => setTimeout(r, 100));
    expect(s.status.connected).toBe(false);
    expect(s.status.lostSince).not.toBeNull();

    const first = new PubSocket();
    await first.bind(endpoint);
    await first.waitForSubscriber('');
    first.send([Buffer.from('one')]);
    await waitFor(() => got.length === 1, 'first message');
    expect(s.status).toMatchObject({ connected: true, connects: 1, lostSince: null });

    await first.close();
    await waitFor(() => !s.status.connected, 'loss seen');
    const lostSince = s.status.lostSince;
    expect(lostSince).not.toBeNull();
    const second = new PubSocket();
    await second.bind(endpoint);
    cleanups.push(() => second.close());
    await second.waitForSubscriber('');
    second.send([Buffer.from('two')]);
    await waitFor(() => got.length === 2, 'message after the restart');
    expect(s.status).toMatchObject({ connected: true, connects: 2 });
  });
});
