/**
 * limits.max_connections: past the cap, a new client connection is closed at once, and the
 * gateway serves again as soon as a connection frees up.
 */
import { createConnection, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { startEngine, startTestGateway } from './gateway-helpers.js';

function connect(url: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = createConnection(Number(u.port), u.hostname, () => resolve(s));
    s.once('error', reject);
  });
}

/** Whether the server closes this connection without answering a request on it. */
function closedUnanswered(s: Socket): Promise<boolean> {
  return new Promise((resolve) => {
    let data = '';
    s.on('data', (d: Buffer) => { data += d.toString(); });
    s.once('close', () => resolve(data === ''));
    s.on('error', () => {});
    s.write('GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
  });
}

describe('connection cap', () => {
  let engine: SimServer;
  let gw: Gateway;
  beforeAll(async () => {
    engine = await startEngine('vllm');
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 }, limits: { max_connections: 2 },
      backends: [{ id: 'v', type: 'vllm', url: engine.url }], routes: [{ model: 'qwen', backends: ['v'] }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await engine?.close();
  });

  it('closes a connection past the cap, and serves once one frees up', async () => {
    const held = [await connect(gw.url), await connect(gw.url)];
    await new Promise((r) => setTimeout(r, 50));
    expect(await closedUnanswered(await connect(gw.url))).toBe(true);
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const res = await fetch(`${gw.url}/health`);
    expect(res.status).toBe(200);
  });
});
