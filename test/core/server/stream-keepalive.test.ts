/**
 * A stream relayed to its end leaves its upstream connection reusable: what follows `[DONE]` (the
 * chunked body's last chunk) is read off rather than the socket destroyed, so the next request
 * does not open a new connection. An upstream that keeps the response open after `[DONE]` is cut
 * after a short while, and the client's stream has ended all the same.
 */
import { createServer, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../core/server/gateway.js';
import { request } from 'undici';
import { postSse, startTestGateway, waitFor } from './gateway-helpers.js';

function chunk(content: string): string {
  return `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
}

describe('upstream connections of relayed streams', () => {
  let upstream: Server;
  let gw: Gateway;
  let connections = 0;
  let closed = 0;
  /** Responses held open after [DONE] (the "hold" prompt). */
  const held: ServerResponse[] = [];
  /** Responses whose events wait for the test (the "late" prompt). */
  const late: ServerResponse[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        if (body.includes('late')) {
          // Headers now, events when the test says (an engine still prefilling).
          res.flushHeaders();
          late.push(res);
          return;
        }
        res.write(chunk('one'));
        // The last event in its own write, and the body's end after it, as engines send them.
        setTimeout(() => {
          res.write(`${chunk('two')}data: [DONE]\n\n`);
          if (body.includes('hold')) held.push(res);
          else setTimeout(() => res.end(), 5);
        }, 5);
      });
    });
    upstream.on('connection', (socket) => {
      connections++;
      socket.once('close', () => { closed++; });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'o', type: 'openai', url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, models: ['m'], health_path: '/v1/models', load_interval_ms: 0 }],
      routes: [{ model: 'm', backends: ['o'] }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
  });

  const stream = (content: string) => postSse(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content }], stream: true });

  it('relays three streams one after another over one upstream connection', async () => {
    const before = connections;
    for (let i = 0; i < 3; i++) {
      const read = await stream('hi');
      expect(read.status).toBe(200);
      expect(read.events.at(-1)).toBe('[DONE]');
      expect(read.events.filter((e) => e.includes('"content"'))).toHaveLength(2);
      // The upstream's body has ended, and its connection is back in the gateway's pool.
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(connections - before).toBeLessThanOrEqual(1);
  });

  it('ends the client stream at [DONE] though the upstream holds its response open, and cuts that upstream soon after', async () => {
    const closedBefore = closed;
    // Were the client's stream tied to the upstream's end, this would wait for ever.
    const read = await stream('hold');
    expect(read.events.at(-1)).toBe('[DONE]');
    expect(held).toHaveLength(1);
    expect(held[0].writableEnded).toBe(false);
    // The gateway gives up on the rest of that body and closes the connection.
    await waitFor(() => closed > closedBefore, 5000);
  });

  it("sends the client the stream's headers while the engine has sent no event yet", async () => {
    // The headers wait for the first event only when it came with the engine's: here none has,
    // so the response must begin before it (a request that resolves at the headers).
    const res = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'late' }], stream: true }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers['x-switchyard-backend']).toBe('o');
    expect(late).toHaveLength(1);
    late[0].end(`${chunk('one')}data: [DONE]\n\n`);
    const text = await res.body.text();
    expect(text).toContain('"content":"one"');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });
});
