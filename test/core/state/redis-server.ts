/**
 * A real redis-server for state-store tests: started on a free loopback port, persistence off.
 * With REDIS_URL set, that server is used instead and the tests that stop or pause Redis skip.
 * Also a TCP proxy in front of Redis, to cut one replica off while the others stay connected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../../../bench/fleet.js';

export { freePort };

export interface TestRedis {
  url: string;
  port: number;
  host: string;
  /** False when REDIS_URL points at a server these tests do not own. */
  owned: boolean;
  stop(): Promise<void>;
  /** Stops the process and starts it again on the same port: an outage that loses all data. */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its sockets and its data but answers nothing (a hung or partitioned server). */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
}

export async function startRedis(): Promise<TestRedis> {
  const external = process.env.REDIS_URL;
  if (external) {
    const u = new URL(external);
    const notOwned = () => { throw new Error('REDIS_URL is set: this server is not ours to stop'); };
    return { url: external, host: u.hostname, port: Number(u.port || 6379), owned: false, stop: async () => {}, restart: async () => notOwned(), pause: notOwned, resume: notOwned };
  }
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const launch = async () => {
    const args = ['redis-server', '--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'];
    // Never outlive the test worker (vitest may kill it after a timed-out hook): setpriv execs
    // redis-server with a parent-death signal, so the pid stays redis-server's own.
    if (existsSync('/usr/bin/setpriv')) args.unshift('setpriv', '--pdeathsig', 'KILL');
    const child = spawn(args[0]!, args.slice(1), { stdio: 'ignore' });
    proc = child;
    const deadline = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} (port ${port})`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port}`);
      await sleep(20);
    }
  };
  const stop = async () => {
    const child = proc;
    proc = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT'); // a paused server would not act on SIGKILL's exit until continued
    child.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`, host: '127.0.0.1', port, owned: true, stop,
    restart: async () => { await stop(); await launch(); },
    pause: () => { proc?.kill('SIGSTOP'); },
    resume: () => { proc?.kill('SIGCONT'); },
  };
}

/** One PING over a raw socket: true on +PONG. */
function ping(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export interface TcpProxy {
  url: string;
  /** Drops every connection and refuses new ones (they are reset at once). */
  cut(): void;
  /**
   * Keeps every connection open but forwards nothing, either way (a silent partition); like TCP
   * retransmission, what was held back is delivered on heal() if the connection still exists.
   */
  blackhole(): void;
  heal(): void;
  close(): Promise<void>;
}

/** Forwards a loopback port to Redis; `cut()` and `blackhole()` partition whoever connects through it. */
export async function startProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'forward' | 'cut' | 'blackhole' = 'forward';
  const pairs = new Set<[net.Socket, net.Socket]>();
  const held: [net.Socket, Buffer][] = [];
  const server = net.createServer((client) => {
    if (mode === 'cut') { client.resetAndDestroy(); return; }
    const upstream = net.connect(target.port, target.host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      from.on('error', () => {});
      from.on('close', () => { to.destroy(); pairs.delete(pair); });
      from.on('data', (chunk: Buffer) => { if (mode === 'forward') to.write(chunk); else held.push([to, chunk]); });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const destroyAll = () => { for (const [c, u] of pairs) { c.resetAndDestroy(); u.destroy(); } };
  return {
    url: `redis://127.0.0.1:${port}`,
    cut: () => { mode = 'cut'; destroyAll(); },
    blackhole: () => { mode = 'blackhole'; },
    heal: () => {
      mode = 'forward';
      for (const [to, chunk] of held.splice(0)) if (!to.destroyed) to.write(chunk);
    },
    close: async () => {
      destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
