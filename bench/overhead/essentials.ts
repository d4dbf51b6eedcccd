/**
 * The essentials floor: the node floor (floor-proxy.ts) plus the least any production LLM gateway
 * does per request, written as lean as it can be — no lifecycle, no hooks, no retries, no
 * deadlines, no breaker, no learner, no streaming, no error catalogue. What it does:
 *
 *  - the key: `Authorization: Bearer …` looked up in a Map (401 without a known one);
 *  - its limits in process memory: requests per minute (a fixed window), requests in flight, and
 *    tokens per minute charged with an estimate (body length / 4) and settled with the answer's usage;
 *  - the body parsed (`JSON.parse`) and validated (one ajv schema: model, messages, max_tokens, stream);
 *  - the route by model, and a backend by prefix affinity (an FNV-1a hash of the messages' first
 *    256 characters, modulo the route's backends) unless another has fewer requests in flight;
 *  - metrics in prom-client: requests by model, backend and status, e2e latency histogram,
 *    in-flight gauge;
 *  - the body forwarded as it came (undici's dispatch API), the answer's `usage` read as the
 *    gateway reads it (core/server/answer-usage.ts: a byte search, that object alone parsed), and
 *    the answer sent with X-Request-Id.
 *
 * Not a product and not a gateway: the overhead benchmark's reference row for what a Node gateway
 * with keys, limits, prefix-affinity routing and metrics costs at the least, next to the bare floor.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Ajv } from 'ajv';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Dispatcher, Pool } from 'undici';
import { readUsage } from '../../core/server/answer-usage.js';

/** The key the essentials floor admits (the tenants rows' key: targets.ts sends it) and the model it routes. */
export interface EssentialsOptions {
  key: string;
  model: string;
}

interface KeyState { windowStart: number; requests: number; inFlight: number; tokens: number }

const LIMITS = { rpm: 1_000_000_000, tpm: 1_000_000_000_000, concurrency: 1_000_000 };

const SCHEMA = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    model: { type: 'string', minLength: 1 },
    messages: {
      type: 'array', minItems: 1,
      items: { type: 'object', required: ['role'], properties: { role: { type: 'string' }, content: { type: ['string', 'array', 'null'] } } },
    },
    max_tokens: { type: 'integer', minimum: 1 },
    stream: { type: 'boolean' },
  },
};

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function promptHead(messages: Array<{ content?: unknown }>): string {
  let head = '';
  for (const m of messages) {
    if (typeof m.content === 'string') head += m.content;
    if (head.length >= 256) break;
  }
  return head.slice(0, 256);
}

function refuse(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', code } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The request handler of the essentials floor, forwarding to `pools` (the route's backends). */
export function essentialsHandler(pools: Pool[], o: EssentialsOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const validate = new Ajv({ allErrors: false }).compile(SCHEMA);
  const registry = new Registry();
  const requests = new Counter({ name: 'gw_requests_total', help: 'requests', labelNames: ['model', 'backend', 'status'], registers: [registry] });
  const e2e = new Histogram({ name: 'gw_e2e_seconds', help: 'e2e', labelNames: ['model', 'backend'], buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10, 60], registers: [registry] });
  const inFlight = new Gauge({ name: 'gw_in_flight', help: 'in flight', labelNames: ['backend'], registers: [registry] });
  const keys = new Map<string, KeyState>([[o.key, { windowStart: 0, requests: 0, inFlight: 0, tokens: 0 }]]);
  const routes = new Map<string, Pool[]>([[o.model, pools]]);
  const load = new Map<Pool, number>(pools.map((p) => [p, 0]));
  const names = new Map<Pool, string>(pools.map((p, i) => [p, `backend-${i}`]));

  return (req, res) => {
    const started = performance.now();
    const auth = req.headers.authorization;
    const key = auth?.startsWith('Bearer ') ? keys.get(auth.slice(7)) : undefined;
    if (!key) return refuse(res, 401, 'invalid_api_key', 'Incorrect API key provided.');
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      let body: { model: string; messages: Array<{ content?: unknown }> };
      try {
        body = JSON.parse(bytes.toString('utf8')) as typeof body;
      } catch {
        return refuse(res, 400, 'invalid_json', 'The body is not valid JSON.');
      }
      if (!validate(body)) return refuse(res, 400, 'invalid_request', 'The body does not match the schema.');
      const backends = routes.get(body.model);
      if (!backends) return refuse(res, 404, 'model_not_found', `The model \`${body.model}\` does not exist.`);
      const now = Date.now();
      if (now - key.windowStart >= 60_000) Object.assign(key, { windowStart: now, requests: 0, tokens: 0 });
      const estimate = Math.ceil(bytes.length / 4);
      if (key.requests >= LIMITS.rpm || key.inFlight >= LIMITS.concurrency || key.tokens + estimate > LIMITS.tpm) return refuse(res, 429, 'rate_limited', 'Rate limit reached.');
      key.requests++;
      key.inFlight++;
      key.tokens += estimate;
      // Prefix affinity: the prompt's head picks the backend, unless another has fewer in flight.
      let pool = backends[fnv1a(promptHead(body.messages)) % backends.length]!;
      for (const p of backends) if (load.get(p)! < load.get(pool)!) pool = p;
      const backend = names.get(pool)!;
      load.set(pool, load.get(pool)! + 1);
      inFlight.inc({ backend });
      const requestId = randomUUID();
      const chunks: Buffer[] = [];
      let status = 502;
      const done = (answer?: Buffer) => {
        key.inFlight--;
        load.set(pool, load.get(pool)! - 1);
        inFlight.dec({ backend });
        const usage = answer ? readUsage(answer) : undefined;
        if (usage) key.tokens += (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0) - estimate;
        requests.inc({ model: body.model, backend, status: String(status) });
        e2e.observe({ model: body.model, backend }, (performance.now() - started) / 1000);
        if (!answer) return refuse(res, 502, 'upstream_error', 'The upstream failed.');
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': answer.length, 'x-request-id': requestId });
        res.end(answer);
      };
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart() {},
        onResponseStart(_c, statusCode) { status = statusCode; },
        onResponseData(_c, chunk) { chunks.push(chunk); },
        onResponseEnd() { done(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)); },
        onResponseError() { done(); },
      };
      pool.dispatch({ path: req.url ?? '/', method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId }, body: bytes }, handler);
    });
  };
}
