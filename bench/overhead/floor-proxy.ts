/**
 * The floor of any Node.js gateway: node:http in, one undici Pool out through the low-level
 * dispatch API, the answer buffered and written back — no framework, no parsing, no routing, no
 * metrics, no error handling worth the name. Not a product: the overhead benchmark's reference
 * row that says how close to Node's own limit Switchyard runs on this machine, next to nginx
 * (a C proxy) which no JavaScript gateway can match request for request.
 *
 *   node --import tsx bench/overhead/floor-proxy.ts --upstream URL [--port 0] [--workers 1] [--fastify]
 *        [--connections 128] [--lag]
 *
 * A request whose body asks for a stream (`"stream":true`) is relayed as the upstream sends it,
 * chunk by chunk: the floor of the streaming rows.
 *
 * `--fastify`: the same in fastify (its router, its JSON body parser, the body serialised again
 * for the upstream, the answer sent through its reply; no logging, no schema): how much of the
 * way from the node floor to Switchyard is the framework's, and how much Switchyard's own.
 *
 * `--essentials KEY`: the essentials floor (essentials.ts) — the node floor plus a key, its limits
 * in memory, body parsing and validation, prefix-affinity routing and metrics, at the least they
 * cost: what a gateway with those features could reach at best, next to Switchyard's tenants row.
 *
 * Prints "floor proxy listening on http://…" once every worker listens.
 */
import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { Pool, type Dispatcher } from 'undici';
import { essentialsHandler } from './essentials.js';
import { MODEL } from './targets.js';

/** POST `body` upstream through undici's dispatch API; `answer` gets the status and the whole answer (502 and nothing on a failure). */
function forward(pool: Pool, path: string, body: string | Buffer, answer: (status: number, body?: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let status = 502;
  const handler: Dispatcher.DispatchHandler = {
    // undici 7 takes a handler as the new API only when onRequestStart is present.
    onRequestStart() {},
    onResponseStart(_c, statusCode) { status = statusCode; },
    onResponseData(_c, chunk) { chunks.push(chunk); },
    onResponseEnd() { answer(status, Buffer.concat(chunks)); },
    onResponseError() { answer(502); },
  };
  pool.dispatch({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body }, handler);
}

/**
 * POST `body` upstream and relay an event stream as it comes: headers at once, each chunk as the
 * upstream's socket gives it (the streaming floor: what any Node gateway adds to TTFT and ITL).
 */
function relayStream(pool: Pool, path: string, body: Buffer, res: ServerResponse): void {
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart() {},
    onResponseStart(_c, statusCode, headers) {
      res.writeHead(statusCode, { 'content-type': String(headers['content-type'] ?? 'text/event-stream') });
      res.flushHeaders();
    },
    onResponseData(_c, chunk) { res.write(chunk); },
    onResponseEnd() { res.end(); },
    onResponseError() { res.destroy(); },
  };
  pool.dispatch({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body }, handler);
}

/** The bench's clients ask for a stream in the body's JSON; a byte search, as the floor parses nothing. */
const STREAM_TRUE = Buffer.from('"stream":true');

/**
 * `--lag`: GET /metrics answers the event loop's delay since the last read in prom-client's names
 * and way (a 10 ms-resolution histogram, reset at each read), so bench/overhead/many-streams.ts
 * reads the floor's lag as it reads the gateway's.
 */
function lagMetrics(histogram: IntervalHistogram, res: ServerResponse): void {
  const text = `nodejs_eventloop_lag_p99_seconds ${histogram.percentile(99) / 1e9}\nnodejs_eventloop_lag_max_seconds ${histogram.max / 1e9}\n`;
  histogram.reset();
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
  res.end(text);
}

function serve(upstream: string, port: number): void {
  const pool = new Pool(upstream, { connections: upstreamConnections, pipelining: 1 });
  const lag = values.lag ? monitorEventLoopDelay({ resolution: 10 }) : undefined;
  lag?.enable();
  const server = createServer((req: IncomingMessage, res) => {
    if (lag && req.method === 'GET' && req.url === '/metrics') return lagMetrics(lag, res);
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      if (body.includes(STREAM_TRUE)) relayStream(pool, req.url ?? '/', body, res);
      else buffered(body);
    });
    const buffered = (body: Buffer) => forward(pool, req.url ?? '/', body, (status, body) => {
      if (body) res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
      else res.writeHead(status);
      res.end(body);
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1', () => announce((server.address() as AddressInfo).port));
}

function serveEssentials(upstream: string, port: number, key: string): void {
  const pool = new Pool(upstream, { connections: upstreamConnections, pipelining: 1 });
  const server = createServer(essentialsHandler([pool], { key, model: MODEL }));
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1', () => announce((server.address() as AddressInfo).port));
}

function announce(port: number): void {
  if (cluster.isWorker) process.send?.({ listening: port });
  else console.log(`floor proxy listening on http://127.0.0.1:${port}`);
}

function serveFastify(upstream: string, port: number): void {
  const pool = new Pool(upstream, { connections: upstreamConnections, pipelining: 1 });
  const app = Fastify({ logger: false, keepAliveTimeout: 65_000 });
  app.post('/v1/chat/completions', (req, reply) => {
    forward(pool, req.url, JSON.stringify(req.body), (status, body) => {
      if (body) void reply.code(status).header('content-type', 'application/json').send(body);
      else void reply.code(status).send();
    });
    return reply;
  });
  void app.listen({ port, host: '127.0.0.1' }).then(() => announce((app.server.address() as AddressInfo).port));
}

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' }, port: { type: 'string', default: '0' }, workers: { type: 'string', default: '1' }, fastify: { type: 'boolean', default: false },
    essentials: { type: 'string' },
    // Upstream connections (each stream holds one for its whole length); and GET /metrics (lagMetrics).
    connections: { type: 'string', default: '128' }, lag: { type: 'boolean', default: false },
  },
});
const upstreamConnections = Number(values.connections);
// A clean exit on SIGTERM, so `node --cpu-prof` writes its profile (bench/overhead/profile.ts --floor).
process.once('SIGTERM', () => process.exit(0));
const essentialsKey = values.essentials;
const start = essentialsKey !== undefined ? (up: string, port: number) => serveEssentials(up, port, essentialsKey) : values.fastify ? serveFastify : serve;
if (!values.upstream) throw new Error('floor-proxy: --upstream URL is required');
const workers = Number(values.workers);
if (cluster.isWorker) {
  start(values.upstream, Number(process.env.FLOOR_PORT));
} else if (workers <= 1) {
  start(values.upstream, Number(values.port));
} else {
  // Workers share one port: the primary picks it (port 0 would give each worker its own).
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const port = (probe.address() as AddressInfo).port;
    probe.close(() => {
      let ready = 0;
      for (let i = 0; i < workers; i++) {
        cluster.fork({ FLOOR_PORT: String(port) }).on('message', () => {
          if (++ready === workers) console.log(`floor proxy listening on http://127.0.0.1:${port}`);
        });
      }
    });
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
}
if (cluster.isWorker) process.on('disconnect', () => process.exit(0));
