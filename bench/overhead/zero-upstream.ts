/**
 * A zero-latency OpenAI-compatible upstream for measuring what a proxy in front of it costs.
 *
 * Everything it answers is built once per (model, shape) and then written from a cached Buffer,
 * so the upstream does as little work per request as node:http allows: whatever a gateway adds
 * shows up against it undiluted. No framework, on purpose — the baseline must not be a router.
 *
 *   POST /v1/chat/completions   a fixed chat.completion (with usage); with `"stream": true` a fixed
 *                               SSE stream: role chunk, N content chunks, finish chunk, a usage
 *                               chunk when `stream_options.include_usage` is true, `data: [DONE]`.
 *                               All at once, or one chunk every `itlMs` when that is > 0.
 *   POST /v1/embeddings         a fixed embedding
 *   GET  /v1/models, /health
 *
 * With `stamp`, a paced stream's role chunk carries `"zero_received_at"` (when the request's body
 * had arrived) and its first content chunk `"zero_sent_at"` (when it was written): milliseconds of
 * monotonicClockMs() below, the clock every process of one machine shares, so a client can tell
 * the two legs of a proxy's time to first token apart (ttft-legs.ts). Proxies forward them as
 * sent (an unknown top-level member of a chunk).
 *
 * CLI: `node --import tsx bench/overhead/zero-upstream.ts --port N [--itl-ms X] [--chunks N] [--stamp]`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface ZeroUpstreamOptions {
  port: number;
  host?: string;
  /** Gap between streamed chunks in ms; 0 (the default) writes the whole stream at once. */
  itlMs?: number;
  /** Content chunks per streamed answer (each one token). Default 16. */
  chunks?: number;
  /** Models listed by GET /v1/models. Requests may name any model: it is echoed back. */
  models?: string[];
  /** Paced streams carry when the request arrived and when the first content chunk left (see above). */
  stamp?: boolean;
}

/**
 * Milliseconds (µs resolution) of CLOCK_MONOTONIC, which process.hrtime reads: one clock for every
 * process of the machine, unlike performance.now() (each process's own origin) or Date (stepped by NTP).
 */
export function monotonicClockMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

/** `data: {…}` with `"name":value` as the object's first member. */
function stamped(event: Buffer, name: string, value: number): Buffer {
  const head = 'data: {';
  return Buffer.concat([Buffer.from(`${head}"${name}":${value.toFixed(3)},`), event.subarray(head.length)]);
}

export interface ZeroUpstream {
  url: string;
  close(): Promise<void>;
}

const CREATED = 1_700_000_000;
const PROMPT_TOKENS = 12;
const EMBEDDING = Array.from({ length: 16 }, (_, i) => Number(Math.sin(i + 1).toFixed(6)));
const JSON_HEADERS = { 'content-type': 'application/json' } as const;
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' } as const;

interface Shapes {
  completion(model: string): Buffer;
  /** The stream as its separate events (`data: …\n\n`), last one `data: [DONE]`. */
  streamEvents(model: string, includeUsage: boolean): Buffer[];
  streamWhole(model: string, includeUsage: boolean): Buffer;
  embedding(model: string): Buffer;
}

/** The fixed answers, memoised per model name (a benchmark uses one or two). */
function fixedShapes(chunks: number): Shapes {
  const memo = new Map<string, Buffer | Buffer[]>();
  const cached = <T extends Buffer | Buffer[]>(key: string, build: () => T): T => {
    let hit = memo.get(key) as T | undefined;
    if (hit === undefined) {
      hit = build();
      if (memo.size < 64) memo.set(key, hit);
    }
    return hit;
  };
  const usage = { prompt_tokens: PROMPT_TOKENS, completion_tokens: chunks, total_tokens: PROMPT_TOKENS + chunks };
  const event = (obj: unknown) => Buffer.from(`data: ${JSON.stringify(obj)}\n\n`);
  const chunk = (model: string, choices: unknown[], extra: Record<string, unknown> = {}) => ({
    id: 'chatcmpl-zero', object: 'chat.completion.chunk', created: CREATED, model, choices, ...extra,
  });
  const streamEvents = (model: string, includeUsage: boolean) => cached(`s:${includeUsage}:${model}`, () => {
    const events = [event(chunk(model, [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]))];
    for (let i = 0; i < chunks; i++) {
      events.push(event(chunk(model, [{ index: 0, delta: { content: i === 0 ? 'tok' : ' tok' }, logprobs: null, finish_reason: null }])));
    }
    events.push(event(chunk(model, [{ index: 0, delta: {}, logprobs: null, finish_reason: 'length' }])));
    if (includeUsage) events.push(event(chunk(model, [], { usage })));
    events.push(Buffer.from('data: [DONE]\n\n'));
    return events;
  });
  return {
    completion: (model) => cached(`c:${model}`, () => Buffer.from(JSON.stringify({
      id: 'chatcmpl-zero', object: 'chat.completion', created: CREATED, model,
      choices: [{ index: 0, message: { role: 'assistant', content: Array.from({ length: chunks }, () => 'tok').join(' ') }, logprobs: null, finish_reason: 'length' }],
      usage,
    }))),
    streamEvents,
    streamWhole: (model, includeUsage) => cached(`w:${includeUsage}:${model}`, () => Buffer.concat(streamEvents(model, includeUsage))),
    embedding: (model) => cached(`e:${model}`, () => Buffer.from(JSON.stringify({
      object: 'list', model,
      data: [{ object: 'embedding', index: 0, embedding: EMBEDDING }],
      usage: { prompt_tokens: PROMPT_TOKENS, total_tokens: PROMPT_TOKENS },
    }))),
  };
}

function sendJson(res: ServerResponse, status: number, body: Buffer | string): void {
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function notFound(res: ServerResponse, what: string): void {
  sendJson(res, 404, JSON.stringify({ error: { message: `no route for ${what}`, type: 'not_found_error', param: null, code: null } }));
}

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('error', reject);
    req.on('end', () => {
      try {
        const parsed: unknown = JSON.parse(parts.length === 1 ? parts[0].toString('utf8') : Buffer.concat(parts).toString('utf8'));
        resolve(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {});
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Writes the events one per `itlMs`; stops at once if the client goes away. */
function streamPaced(res: ServerResponse, events: Buffer[], itlMs: number, receivedAt?: number): void {
  let i = 0;
  if (receivedAt !== undefined) events = [stamped(events[0], 'zero_received_at', receivedAt), ...events.slice(1)];
  let timer: NodeJS.Timeout | undefined;
  res.once('close', () => clearTimeout(timer));
  const next = () => {
    if (res.destroyed) return;
    const last = i === events.length - 1;
    if (last) res.end(events[i]);
    else {
      // The first content chunk (after the role chunk) says when it left, as late as it can.
      res.write(receivedAt !== undefined && i === 1 ? stamped(events[i++], 'zero_sent_at', monotonicClockMs()) : events[i++]);
      timer = setTimeout(next, itlMs);
    }
  };
  next();
}

export async function startZeroUpstream(opts: ZeroUpstreamOptions): Promise<ZeroUpstream> {
  const itlMs = opts.itlMs ?? 0;
  const shapes = fixedShapes(opts.chunks ?? 16);
  const modelList = Buffer.from(JSON.stringify({
    object: 'list',
    data: (opts.models ?? ['zero-model']).map((id) => ({ id, object: 'model', created: CREATED, owned_by: 'zero-upstream' })),
  }));
  const health = Buffer.from('{"status":"ok"}');

  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (req.method === 'GET') {
      if (path === '/v1/models') return sendJson(res, 200, modelList);
      if (path === '/health') return sendJson(res, 200, health);
      return notFound(res, `GET ${path}`);
    }
    if (req.method !== 'POST' || (path !== '/v1/chat/completions' && path !== '/v1/embeddings')) {
      req.resume();
      return notFound(res, `${req.method ?? '?'} ${path}`);
    }
    readBody(req).then((body) => {
      const receivedAt = opts.stamp ? monotonicClockMs() : undefined;
      const model = typeof body.model === 'string' ? body.model : 'zero-model';
      if (path === '/v1/embeddings') return sendJson(res, 200, shapes.embedding(model));
      if (body.stream !== true) return sendJson(res, 200, shapes.completion(model));
      const so = body.stream_options;
      const includeUsage = typeof so === 'object' && so !== null && (so as Record<string, unknown>).include_usage === true;
      res.writeHead(200, SSE_HEADERS);
      if (itlMs > 0) streamPaced(res, shapes.streamEvents(model, includeUsage), itlMs, receivedAt);
      else res.end(shapes.streamWhole(model, includeUsage));
    }, (err: unknown) => {
      sendJson(res, 400, JSON.stringify({ error: { message: `invalid JSON body: ${err instanceof Error ? err.message : String(err)}`, type: 'invalid_request_error', param: null, code: null } }));
    });
  });
  // Load generators and proxies hold their connections for the whole run.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '18301' },
      host: { type: 'string', default: '127.0.0.1' },
      'itl-ms': { type: 'string', default: '0' },
      chunks: { type: 'string', default: '16' },
      models: { type: 'string', default: 'zero-model' },
      stamp: { type: 'boolean', default: false },
    },
  });
  const num = (flag: string, raw: string, min: number) => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${flag}: expected a number ≥ ${min}, got ${raw}`);
    return n;
  };
  const upstream = await startZeroUpstream({
    port: num('port', values.port, 0),
    host: values.host,
    itlMs: num('itl-ms', values['itl-ms'], 0),
    chunks: Math.round(num('chunks', values.chunks, 1)),
    models: values.models.split(',').filter(Boolean),
    stamp: values.stamp,
  });
  process.stdout.write(`zero upstream listening on ${upstream.url}\n`);
  const stop = () => { upstream.close().then(() => process.exit(0), () => process.exit(1)); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // Started by a benchmark: never outlive it, even if it was killed without the chance to stop us.
  const parent = Number(process.env.SWITCHYARD_PARENT_PID);
  if (parent > 0) {
    setInterval(() => {
      try {
        process.kill(parent, 0);
      } catch {
        stop();
      }
    }, 1000).unref();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`zero-upstream: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
