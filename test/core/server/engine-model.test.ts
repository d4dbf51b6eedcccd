/**
 * Regression: on a backend serving two models, a route naming neither (here an embeddings route
 * `embed` on a backend serving `chat-model` and `embed-model`) silently sent the backend's first
 * model. Now the engine gets the model the route names (its name or alias), never a guess, and a
 * route that names none of a backend's models is a warning at start.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../core/config/load.js';
import { startGateway, type Gateway } from '../../../core/server/gateway.js';
import { writeConfig } from './gateway-helpers.js';

describe('the engine model of a route on a multi-model backend', () => {
  let upstream: Server;
  let gw: Gateway;
  const seen: string[] = [];
  const logs: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'chat-model' }, { id: 'embed-model' }] }));
          return;
        }
        const model = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string }).model;
        seen.push(model);
        if (model !== 'chat-model' && model !== 'embed-model') {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `The model \`${model}\` does not exist.`, type: 'NotFoundError', code: 404 } }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ object: 'list', model, data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], usage: { prompt_tokens: 2, total_tokens: 2 } }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const config = await loadConfig(writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      // Models discovered from the engine's /v1/models.
      backends: [{ id: 'multi', type: 'openai', url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, embeddings: true }],
      routes: [{ model: 'embed', aliases: ['embed-model'], backends: ['multi'] }, { model: 'unnamed', backends: ['multi'] }],
    }));
    const destination = new Writable({ write(chunk: Buffer, _enc, done) { for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>); done(); } });
    gw = await startGateway(config, { port: 0, host: '127.0.0.1', logLevel: 'warn', logDestination: destination });
  });
  afterAll(async () => {
    await gw?.drain();
    await new Promise((r) => upstream?.close(r));
  });

  const embed = (model: string) => fetch(`${gw.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, input: 'hello' }) });

  it('sends the embeddings route\'s own engine model, not the backend\'s first one', async () => {
    const res = await embed('embed');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe('embed-model');
    expect(seen.at(-1)).toBe('embed-model');
  });

  it('never guesses for a route that names none of the backend\'s models: the engine refuses the route\'s own name', async () => {
    const res = await embed('unnamed');
    expect(seen.at(-1)).toBe('unnamed');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_rejected');
  });

  it('warns at start about a route no model of a backend answers to, and only about that one', () => {
    const warnings = logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('serves none of the names of route'));
    expect(warnings.map((w) => [w.route, w.backend, w.served])).toEqual([['unnamed', 'multi', ['chat-model', 'embed-model']]]);
  });
});
