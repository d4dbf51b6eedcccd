/**
 * Tracing configured by the standard OTEL_* variables: off unless an OTLP exporter is asked
 * for, and when on, spans reach an OTLP/HTTP collector (here a node:http server) once flushed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTracing } from '../../../core/telemetry/tracing.js';
import { loadConfig } from '../../../core/config/load.js';
import { startGateway } from '../../../core/server/gateway.js';
import { writeConfig } from '../server/gateway-helpers.js';

describe('createTracing', () => {
  const on = async (env: NodeJS.ProcessEnv): Promise<boolean> => {
    const tracing = createTracing(env);
    await tracing?.shutdown();
    return tracing !== undefined;
  };

  it('is off by default, and with OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none', async () => {
    expect(await on({})).toBe(false);
    expect(await on({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(await on({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(false);
  });

  it('is on with OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint and no exporter named', async () => {
    expect(await on({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(await on({ OTEL_TRACES_EXPORTER: 'none, otlp' })).toBe(true);
    expect(await on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(await on({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe(true);
  });

  it('refuses an exporter it does not have, naming the variable', () => {
    expect(() => createTracing({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER.*zipkin/);
    expect(() => createTracing({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL.*grpc/);
  });
});

describe('OTLP export configured by the environment', () => {
  let collector: Server;
  let engine: Server;
  const received: { path: string; type?: string; body: string }[] = [];

  beforeAll(async () => {
    collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: `${req.method} ${req.url}`, type: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    engine = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      }));
    });
    await Promise.all([collector, engine].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  });
  afterAll(async () => {
    await Promise.all([collector, engine].map((s) => new Promise((r) => s.close(r))));
  });

  it.each([
    ['http/protobuf', undefined, 'application/x-protobuf'],
    ['http/json', 'http/json', 'application/json'],
  ])('exports the request\'s spans to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces when the gateway drains (%s)', async (_, protocol, contentType) => {
    received.length = 0;
    const names = ['OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_SERVICE_NAME', 'OTEL_SDK_DISABLED'] as const;
    const saved = names.map((n) => process.env[n]);
    for (const n of names) delete process.env[n];
    process.env.OTEL_TRACES_EXPORTER = 'otlp';
    if (protocol) process.env.OTEL_EXPORTER_OTLP_PROTOCOL = protocol;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    try {
      const config = await loadConfig(writeConfig({
        listen: { host: '127.0.0.1', port: 0 },
        backends: [{ id: 'o', type: 'openai', url: `http://127.0.0.1:${(engine.address() as AddressInfo).port}`, models: ['m'], health_path: '/v1/models', load_interval_ms: 0 }],
        routes: [{ model: 'm', backends: ['o'] }],
      }));
      const gw = await startGateway(config, { port: 0, host: '127.0.0.1', logLevel: 'silent' });
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      await gw.drain();
    } finally {
      names.forEach((n, i) => { if (saved[i] === undefined) delete process.env[n]; else process.env[n] = saved[i]; });
    }
    const exports = received.filter((r) => r.path === 'POST /v1/traces');
    expect(exports.length).toBeGreaterThan(0);
    expect(exports.every((e) => e.type?.startsWith(contentType))).toBe(true);
    // Span names and the default service name are plain UTF-8 in JSON and protobuf alike.
    const body = exports.map((e) => e.body).join('\n');
    for (const name of ['POST /v1/chat/completions', 'route', 'dispatch', 'switchyard']) expect(body).toContain(name);
  });
});
