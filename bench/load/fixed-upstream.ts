/**
 * A chat-completions upstream with known latency, for checking the load generator's clock and for
 * measuring what the generator itself costs: it waits `ttftMs`, then streams `chunks` content
 * chunks `itlMs` apart, then a finish chunk, the usage chunk and `[DONE]`. A role-only chunk goes
 * out at once, as vLLM sends one, so a client that took it for the first token would report a TTFT
 * of ~0 instead of `ttftMs`. `plan` varies the answer per request (slow ones, 429s, 503s), and
 * `backends` sets `x-switchyard-backend` round-robin as a gateway would.
 *
 * Run directly (`node --import tsx bench/load/fixed-upstream.ts --chunks 64`) it serves in its own
 * process and prints `listening on URL`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface UpstreamAnswer {
  ttftMs: number;
  itlMs: number;
  /** Content chunks, one token each. */
  chunks: number;
  /** Non-200: answer with this status and an OpenAI-shaped error body. */
  status?: number;
  backend?: string;
  promptTokens?: number;
  cachedTokens?: number;
}

export interface FixedUpstreamOptions extends UpstreamAnswer {
  port?: number;
  host?: string;
  backends?: string[];
  /** Per-request overrides, by arrival index (0-based). */
  plan?: (index: number, body: Record<string, unknown>) => Partial<UpstreamAnswer>;
}

export interface FixedUpstream {
  url: string;
  /** Requests received so far. */
  readonly requests: number;
  close(): Promise<void>;
}

function chunk(id: string, choices: unknown[], usage?: unknown): string {
  const body: Record<string, unknown> = { id, object: 'chat.completion.chunk', created: 0, model: 'fixed', choices };
  if (usage !== undefined) body.usage = usage;
  return `data: ${JSON.stringify(body)}\n\n`;
}

/** A content chunk never changes, so it is serialized once (keeps the upstream cheap). */
const CONTENT_CHUNK = chunk('chatcmpl-fixed', [{ index: 0, delta: { content: ' tok' }, finish_reason: null }]);

function stream(res: http.ServerResponse, a: UpstreamAnswer, id: string, usage: boolean): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...(a.backend ? { 'x-switchyard-backend': a.backend } : {}) });
  res.write(chunk(id, [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
  let sent = 0;
  const finish = () => {
    let tail = chunk(id, [{ index: 0, delta: {}, finish_reason: 'length' }]);
    if (usage) {
      const prompt = a.promptTokens ?? 10;
      const details = a.cachedTokens === undefined ? undefined : { cached_tokens: a.cachedTokens };
      tail += chunk(id, [], { prompt_tokens: prompt, completion_tokens: a.chunks, total_tokens: prompt + a.chunks, prompt_tokens_details: details });
    }
    res.end(tail + 'data: [DONE]\n\n');
  };
  const next = () => {
    if (res.destroyed) return;
    if (a.itlMs <= 0) {
      // No gap: the rest in one write, the fast path the generator-cost run measures.
      res.write(CONTENT_CHUNK.repeat(a.chunks - sent));
      sent = a.chunks;
    } else {
      res.write(CONTENT_CHUNK);
      sent++;
    }
    if (sent < a.chunks) setTimeout(next, a.itlMs);
    else finish();
  };
  if (a.chunks <= 0) finish();
  else if (a.ttftMs <= 0) next();
  else setTimeout(next, a.ttftMs);
}

export async function startFixedUpstream(o: FixedUpstreamOptions): Promise<FixedUpstream> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const index = requests++;
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
      } catch { /* answer anyway: this server times clients, it does not validate them */ }
      const backend = o.backends && o.backends.length > 0 ? o.backends[index % o.backends.length] : undefined;
      const answer: UpstreamAnswer = { ...o, backend, ...o.plan?.(index, body) };
      if (answer.status !== undefined && answer.status !== 200) {
        res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.backend ? { 'x-switchyard-backend': answer.backend } : {}) });
        res.end(JSON.stringify({ error: { message: `fixed upstream answers ${answer.status}`, type: 'overloaded', param: null, code: answer.status } }));
        return;
      }
      const options = body.stream_options as { include_usage?: unknown } | undefined;
      stream(res, answer, `chatcmpl-${index}`, options?.include_usage === true);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, o.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() { return requests; },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { port: { type: 'string' }, 'ttft-ms': { type: 'string' }, 'itl-ms': { type: 'string' }, chunks: { type: 'string' } },
    strict: true,
  });
  const upstream = await startFixedUpstream({
    port: Number(values.port ?? 0), ttftMs: Number(values['ttft-ms'] ?? 0), itlMs: Number(values['itl-ms'] ?? 0), chunks: Number(values.chunks ?? 64),
  });
  process.stdout.write(`listening on ${upstream.url}\n`);
  process.on('SIGTERM', () => void upstream.close().then(() => process.exit(0)));
}
