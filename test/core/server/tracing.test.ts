/**
 * OpenTelemetry through a real gateway: the span tree of a request (server → route, dispatch,
 * stream), the caller's trace continued, the engine handed the dispatch span's `traceparent`,
 * a failed attempt and its retry, and with tracing off no spans and the client's header untouched.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { loadConfig } from '../../../core/config/load.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../../core/server/gateway.js';
import { waitFor, writeConfig } from './gateway-helpers.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

interface Seen { upstream: string; headers: IncomingHttpHeaders }

/** Two OpenAI-compatible engines that record what they are sent; `failures` POSTs are answered 500 first. */
class Engines {
  readonly seen: Seen[] = [];
  failures = 0;
  /** Streams are cut after their first chunk (the engine dies mid-answer). */
  cut = false;
  private servers: Server[] = [];

  async start(): Promise<string[]> {
    for (const name of ['a', 'b']) {
      const server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          if (req.method !== 'POST') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[]}');
          this.seen.push({ upstream: name, headers: req.headers });
          if (this.failures > 0) {
            this.failures--;
            return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"engine failed"}}');
          }
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stream?: boolean };
          if (!body.stream) {
            return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
              id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
              usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
            }));
          }
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const chunk = (delta: object, extra: object = {}) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
          res.write(chunk({ role: 'assistant', content: 'he' }));
          if (this.cut) return void setTimeout(() => res.destroy(), 20);
          res.write(chunk({ content: 'llo' }));
          res.write(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } })}\n\n`);
          res.end('data: [DONE]\n\n');
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      this.servers.push(server);
    }
    return this.servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`);
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
  }
}

async function startGatewayOver(urls: string[], opts: GatewayOptions): Promise<Gateway> {
  const config = await loadConfig(writeConfig({
    listen: { host: '127.0.0.1', port: 0 },
    backends: urls.map((url, i) => ({ id: ['a', 'b'][i], type: 'openai', url, models: ['m'], health_path: '/v1/models', load_interval_ms: 0, health_interval_ms: 60_000 })),
    routes: [{ model: 'm', backends: ['a', 'b'], policy: { type: 'round-robin' }, retries: 1 }],
  }));
  return startGateway(config, { port: 0, host: '127.0.0.1', logLevel: 'silent', ...opts });
}

function post(gw: Gateway, body: object, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
}

/** `00-<trace>-<parent span>-<flags>` */
function parseTraceparent(v: unknown): { traceId: string; parentId: string } {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(String(v));
  expect(m, String(v)).not.toBeNull();
  return { traceId: m![1], parentId: m![2] };
}

describe('tracing on (an injected exporter)', () => {
  const engines = new Engines();
  const exporter = new InMemorySpanExporter();
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startGatewayOver(await engines.start(), { tracing: { exporter } });
  });
  afterAll(async () => {
    await gw?.drain();
    await engines.close();
  });
  beforeEach(() => {
    exporter.reset();
    engines.seen.length = 0;
  });

  /** Every span of the request, once its server span has ended. */
  async function spansOfRequest(): Promise<{ server: ReadableSpan; children: ReadableSpan[] }> {
    await waitFor(() => exporter.getFinishedSpans().some((s) => s.kind === SpanKind.SERVER));
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    const children = spans.filter((s) => s !== server);
    for (const c of children) {
      expect(c.spanContext().traceId).toBe(server.spanContext().traceId);
      expect(c.parentSpanContext?.spanId, c.name).toBe(server.spanContext().spanId);
    }
    return { server, children };
  }

  it('traces a JSON answer: server, route and dispatch spans, the caller\'s trace continued, the engine given the dispatch span as parent', async () => {
    const res = await post(gw, {}, { traceparent: CALLER, tracestate: 'vendor=1', authorization: 'Bearer sk-secret' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const { server, children } = await spansOfRequest();
    expect(server.name).toBe('POST /v1/chat/completions');
    expect(server.spanContext().traceId).toBe(TRACE_ID);
    expect(server.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST', 'http.route': '/v1/chat/completions', 'gen_ai.request.model': 'm', 'switchyard.stream': false,
      'switchyard.request_id': res.headers.get('x-request-id'), 'http.response.status_code': 200, 'gen_ai.usage.input_tokens': 3, 'gen_ai.usage.output_tokens': 1,
    });
    expect(JSON.stringify(server.attributes)).not.toContain('sk-secret');
    expect(children.map((s) => s.name)).toEqual(['route', 'dispatch']);
    const [route, dispatch] = children;
    const backend = res.headers.get('x-switchyard-backend');
    expect(route.attributes).toMatchObject({ 'switchyard.backend': backend, 'switchyard.route.policy': 'round-robin', 'switchyard.attempt': 0 });
    expect(route.attributes['switchyard.route.reason']).toBe(res.headers.get('x-switchyard-route-reason'));
    expect(dispatch.kind).toBe(SpanKind.CLIENT);
    expect(dispatch.attributes).toMatchObject({ 'switchyard.backend': backend, 'switchyard.engine': expect.any(String), 'http.response.status_code': 200 });
    expect(dispatch.status.code).not.toBe(SpanStatusCode.ERROR);

    // The engine continues the same trace under the dispatch span, not under the caller's span.
    expect(engines.seen).toHaveLength(1);
    const sent = parseTraceparent(engines.seen[0].headers.traceparent);
    expect(sent.traceId).toBe(TRACE_ID);
    expect(sent.parentId).toBe(dispatch.spanContext().spanId);
    expect(engines.seen[0].headers.tracestate).toBe('vendor=1');
  });

  it('traces a stream: a stream span with its usage, its end and the first token', async () => {
    const res = await post(gw, { stream: true });
    expect(res.status).toBe(200);
    await res.text();
    const { server, children } = await spansOfRequest();
    // A request without a traceparent starts a trace of its own.
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.attributes).toMatchObject({ 'switchyard.stream': true, 'http.response.status_code': 200, 'gen_ai.usage.output_tokens': 2 });
    expect(children.map((s) => s.name)).toEqual(['route', 'dispatch', 'stream']);
    const stream = children[2];
    expect(stream.attributes).toMatchObject({ 'switchyard.stream.end': 'done', 'gen_ai.usage.input_tokens': 3, 'gen_ai.usage.output_tokens': 2 });
    expect(stream.attributes['switchyard.ttft_ms']).toBeTypeOf('number');
    expect(stream.events.map((e) => e.name)).toEqual(['first_token']);
    expect(parseTraceparent(engines.seen[0].headers.traceparent).traceId).toBe(server.spanContext().traceId);
  });

  it('marks a stream the engine cut short as an error span', async () => {
    engines.cut = true;
    try {
      const res = await post(gw, { stream: true });
      expect(res.status).toBe(200);
      await res.text();
    } finally {
      engines.cut = false;
    }
    const { children } = await spansOfRequest();
    const stream = children.find((s) => s.name === 'stream')!;
    expect(stream.status.code).toBe(SpanStatusCode.ERROR);
    expect(stream.attributes['switchyard.stream.end']).not.toBe('done');
    expect(stream.events.map((e) => e.name)).toEqual(['first_token']);
  });

  it('gives a failed attempt and its retry a dispatch span each, the first marked as an error', async () => {
    engines.failures = 1;
    const res = await post(gw, {}, { traceparent: CALLER });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const { children } = await spansOfRequest();
    expect(children.map((s) => s.name)).toEqual(['route', 'dispatch', 'route', 'dispatch']);
    const [, failed, retryRoute, retried] = children;
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes).toMatchObject({ 'http.response.status_code': 500, 'error.type': 'upstream_error', 'switchyard.attempt': 0 });
    expect(retryRoute.attributes['switchyard.attempt']).toBe(1);
    expect(retried.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(retried.attributes).toMatchObject({ 'http.response.status_code': 200, 'switchyard.attempt': 1 });
    expect(retried.attributes['switchyard.backend']).not.toBe(failed.attributes['switchyard.backend']);
    // Each engine saw its own attempt's span as the parent.
    expect(engines.seen.map((s) => parseTraceparent(s.headers.traceparent).parentId)).toEqual([failed.spanContext().spanId, retried.spanContext().spanId]);
  });

  it('marks a refused request (unknown model) on its server span', async () => {
    const res = await post(gw, { model: 'nope' });
    expect(res.status).toBe(404);
    await res.arrayBuffer();
    const { server, children } = await spansOfRequest();
    expect(children).toEqual([]);
    expect(server.attributes).toMatchObject({ 'http.response.status_code': 404, 'gen_ai.request.model': 'nope', 'error.type': 'model_not_found' });
  });
});

describe('tracing off (the default)', () => {
  const engines = new Engines();
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startGatewayOver(await engines.start(), {});
  });
  afterAll(async () => {
    await gw?.drain();
    await engines.close();
  });

  it('passes the client\'s traceparent to the engine unchanged', async () => {
    const res = await post(gw, {}, { traceparent: CALLER, tracestate: 'vendor=1' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(engines.seen[0].headers.traceparent).toBe(CALLER);
    expect(engines.seen[0].headers.tracestate).toBe('vendor=1');
  });
});
