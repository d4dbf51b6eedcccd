/**
 * The accept-queue drain (core/server/accept-queue.ts with native/accept.ts): connections waiting
 * on the listening socket are taken in the turn libuv hands over the first of them, the server's
 * connection cap still holds, and close() still waits for every connection taken this way.
 */
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BATCH, drainAcceptQueue } from '../../../core/server/accept-queue.js';
import { loadAcceptPending } from '../../../native/accept.js';

const acceptPending = loadAcceptPending();

/** Blocks the event loop (the kernel completes the clients' handshakes meanwhile). */
function block(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) { /* the clients' handshakes queue up */ }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', 511, () => {
    const address = server.address();
    resolve(typeof address === 'object' && address ? address.port : 0);
  }));
}

/** Opens `n` clients and lets their handshakes complete while the loop is blocked. */
function queueClients(port: number, n: number): Socket[] {
  const clients = Array.from({ length: n }, () => connect(port, '127.0.0.1').on('error', () => {}));
  block(300);
  return clients;
}

/** Turns of the event loop until `done` holds, counting the connections seen in each turn. */
async function connectionsPerTurn(server: Server, done: () => boolean): Promise<number[]> {
  const turns: number[] = [0];
  server.on('connection', () => { turns[turns.length - 1]++; });
  while (!done() && turns.length < 10_000) {
    await new Promise((r) => setImmediate(r));
    turns.push(0);
  }
  return turns.filter((n) => n > 0);
}

describe.skipIf(acceptPending === undefined)('accept-queue drain', () => {
  const servers: Server[] = [];
  const clients: Socket[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it('node:net alone takes one queued connection per turn (what the drain is for)', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    servers.push(server);
    const port = await listen(server);
    let seen = 0;
    server.on('connection', () => { seen++; });
    clients.push(...queueClients(port, 20));
    const turns = await connectionsPerTurn(server, () => seen >= 20);
    expect(turns.reduce((a, b) => a + b, 0)).toBe(20);
    expect(Math.max(...turns)).toBe(1);
  });

  it('takes every queued connection in the turn the first arrives, and each is served', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    servers.push(server);
    drainAcceptQueue(server, acceptPending!);
    const port = await listen(server);
    let seen = 0;
    server.on('connection', () => { seen++; });
    const n = Math.min(BATCH, 30);
    clients.push(...queueClients(port, n));
    const turns = await connectionsPerTurn(server, () => seen >= n);
    expect(turns).toEqual([n]);
    // Each of them is a working HTTP connection.
    const answers = await Promise.all(clients.map((c) => new Promise<string>((resolve) => {
      let data = '';
      c.on('data', (d: Buffer) => { data += d.toString(); });
      c.once('close', () => resolve(data));
      c.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    })));
    expect(answers.every((a) => a.startsWith('HTTP/1.1 200') && a.endsWith('ok'))).toBe(true);
  });

  it('holds maxConnections: the connections past it are closed unanswered', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    server.maxConnections = 5;
    servers.push(server);
    drainAcceptQueue(server, acceptPending!);
    const port = await listen(server);
    let seen = 0;
    server.on('connection', () => { seen++; });
    clients.push(...queueClients(port, 12));
    const closed = await Promise.all(clients.map((c) => new Promise<boolean>((resolve) => {
      let data = '';
      c.on('data', (d: Buffer) => { data += d.toString(); });
      c.once('close', () => resolve(data === ''));
      c.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    })));
    expect(seen).toBe(5);
    expect(closed.filter(Boolean)).toHaveLength(7);
  });

  it('close() waits for a request in flight on a drained connection', async () => {
    let finish: (() => void) | undefined;
    const server = createServer((_req, res) => { finish = () => res.end('late'); });
    drainAcceptQueue(server, acceptPending!);
    const port = await listen(server);
    let seen = 0;
    server.on('connection', () => { seen++; });
    const queued = queueClients(port, 3);
    clients.push(...queued);
    await connectionsPerTurn(server, () => seen >= 3);
    const count = () => (server as unknown as { _connections: number })._connections;
    expect(count()).toBe(3);
    // A request on the last connection taken (one the drain accepted, not libuv).
    const answer = new Promise<string>((resolve) => {
      let data = '';
      queued[2].on('data', (d: Buffer) => { data += d.toString(); });
      queued[2].once('close', () => resolve(data));
      queued[2].write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    });
    while (!finish) await new Promise((r) => setImmediate(r));
    // The other two leave; the server's count follows them (net.Socket's close decrements it).
    queued[0].destroy();
    queued[1].destroy();
    while (count() > 1) await new Promise((r) => setImmediate(r));
    let closed = false;
    const whenClosed = new Promise<void>((resolve) => server.close(() => { closed = true; resolve(); }));
    // The busy connection keeps the server from closing.
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    finish();
    expect(await answer).toMatch(/late$/);
    await whenClosed;
    expect(count()).toBe(0);
  });
});
