/**
 * Connections taken off the listening socket's queue in batches, not one per event-loop turn.
 *
 * Node 20's libuv (1.46) accepts one connection per turn of the event loop (strace: one accept4 per
 * epoll_pwait, never an EAGAIN). With 10,000 streams open a turn takes several milliseconds, so the
 * gateway accepted a few hundred connections a second while clients opened 2,500: the kernel's
 * queue stayed full, handshakes were dropped and 150–570 clients of 10,000 were reset
 * (bench/overhead/many-streams.ts). Each connection libuv hands over now brings the rest of the
 * queue with it, up to `BATCH`, through an accept function the composition root supplies
 * (native/accept.ts); node:net gets each descriptor as a socket, as its own accept would.
 */
import { closeSync } from 'node:fs';
import type { Server } from 'node:http';
import { Socket } from 'node:net';

/** Up to `max` accepted, non-blocking descriptors from the listening socket `fd`. */
export type AcceptPending = (fd: number, max: number) => number[];

/**
 * At most this many connections per turn. The requests of a batch are read in the next turn, all
 * of them: 256 a turn held the loop up to 440 ms at 10,000 streams opened over 4 s, 32 up to 220 ms
 * (the ramp is CPU-bound on this machine either way), and 32 a turn at a hundred turns a second
 * is still 3,200 connections a second.
 */
export const BATCH = 32;

/** The fields node:net's own accept (lib/net.js, onconnection) keeps on the server and the socket. */
interface NetServerFields {
  _handle: { fd?: number } | null;
  allowHalfOpen?: boolean;
  _connections: number;
  maxConnections?: number | null;
}
interface NetSocketFields {
  server: Server;
  _server: Server;
}

/** After each connection libuv accepts, accept the rest waiting (a plain TCP listener only). */
export function drainAcceptQueue(server: Server, accept: AcceptPending): void {
  const fields = server as unknown as NetServerFields;
  let inside = false;
  server.on('connection', () => {
    // The connections emitted below come back through this listener.
    if (inside) return;
    const fd = fields._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) return;
    inside = true;
    try {
      for (const client of accept(fd, BATCH)) adopt(server, fields, client);
    } finally {
      inside = false;
    }
  });
}

/**
 * What node:net does with a connection it accepts: the cap, the socket, the count, 'connection'.
 * A descriptor node:net cannot open (a connection reset before it was taken) is closed and the
 * batch goes on, as node:net drops a connection its own accept cannot wrap; nothing throws into
 * libuv's callback.
 */
function adopt(server: Server, fields: NetServerFields, fd: number): void {
  if (fields.maxConnections != null && fields._connections >= fields.maxConnections) {
    closeSync(fd);
    return;
  }
  let socket: Socket;
  try {
    socket = new Socket({ fd, readable: true, writable: true, allowHalfOpen: fields.allowHalfOpen === true });
  } catch {
    closeSync(fd);
    return;
  }
  // node:http's servers set noDelay (its default) on every socket they accept.
  socket.setNoDelay(true);
  fields._connections++;
  // Closing the socket decrements the server's count through these (net.Socket's _destroy), so
  // close() and maxConnections see it as one of their own.
  const own = socket as unknown as NetSocketFields;
  own.server = server;
  own._server = server;
  server.emit('connection', socket);
}
