import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { startEngine, startTestGateway, waitFor } from './gateway-helpers.js';

type Json = Record<string, any>;

describe('A/B arms and shadow traffic', () => {
  let a: SimServer;
  let b: SimServer;
  let shadow: SimServer;
  let gw: Gateway;

  beforeAll(async () => {
    [a, b, shadow] = await Promise.all([startEngine('vllm'), startEngine('trtllm-serve'), startEngine('lmdeploy')]);
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [
        { id: 'arm-a', type: 'vllm', url: a.url },
        { id: 'arm-b', type: 'trtllm-serve', url: b.url },
        { id: 'shadow', type: 'lmdeploy', url: shadow.url },
      ],
      routes: [{
        model: 'qwen',
        arms: [{ name: 'vllm', backends: ['arm-a'], weight: 1 }, { name: 'trtllm', backends: ['arm-b'], weight: 1 }],
        sticky: { header: 'x-session-id' },
        shadow: { backends: ['shadow'], fraction: 1 },
        policy: { type: 'round-robin' },
      }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
    await Promise.all([a, b, shadow].map((s) => s?.close()));
  });

  const chat = async (session?: string) => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(session ? { 'x-session-id': session } : {}) },
      body: JSON.stringify({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true }),
    });
    await res.text();
    return res.headers.get('x-switchyard-backend');
  };

  it('keeps one conversation on one arm, and splits sessions across arms', async () => {
    const backendsBySession = new Map<string, Set<string | null>>();
    for (let s = 0; s < 12; s++) {
      const seen = new Set<string | null>();
      for (let i = 0; i < 3; i++) seen.add(await chat(`session-${s}`));
      backendsBySession.set(`session-${s}`, seen);
    }
    for (const seen of backendsBySession.values()) expect(seen.size).toBe(1);
    const arms = new Set([...backendsBySession.values()].flatMap((s) => [...s]));
    expect(arms).toEqual(new Set(['arm-a', 'arm-b']));
  });

  it('copies requests to the shadow without touching the primary answer', async () => {
    const before = shadow.engine.snapshot().completed;
    for (let i = 0; i < 4; i++) expect(['arm-a', 'arm-b']).toContain(await chat());
    await waitFor(() => shadow.engine.snapshot().completed >= before + 4, 5000);
  });

  it('reports per-arm statistics with the difference between arms', async () => {
    const res = await fetch(`${gw.url}/admin/ab/qwen`);
    const body = (await res.json()) as Json;
    expect(res.status).toBe(200);
    const names = body.arms.map((arm: Json) => arm.name);
    expect(names).toEqual(expect.arrayContaining(['vllm', 'trtllm', 'shadow:shadow']));
    const vllm = body.arms.find((arm: Json) => arm.name === 'vllm');
    expect(vllm.requests).toBeGreaterThan(0);
    expect(vllm.ttft_ms.p50).toBeGreaterThan(0);
    const cmp = body.comparisons.find((c: Json) => c.arm === 'trtllm');
    expect(cmp.baseline).toBe('vllm');
    expect(cmp.ttft_ms.ci95[0]).toBeLessThanOrEqual(cmp.ttft_ms.diff);
    expect((await fetch(`${gw.url}/admin/ab/nope`)).status).toBe(404);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toContain('switchyard_arm_time_to_first_token_seconds_bucket{le="0.005",model="qwen",arm="vllm"}');
  });
});

describe('shadow traffic in flight', () => {
  it('holds at most 64 shadow copies at once across the gateway, and sends again once they end', async () => {
    // A shadow engine that answers nothing until told to: every copy sent stays in flight.
    const held: Array<ServerResponse> = [];
    let seen = 0;
    let closing = false;
    const shadow = createServer((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'qwen', object: 'model' }] }));
        return;
      }
      seen++;
      req.resume();
      if (closing) res.destroy();
      else held.push(res);
    });
    await new Promise<void>((r) => shadow.listen(0, '127.0.0.1', r));
    const primary = await startEngine('vllm');
    const gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [
        { id: 'primary', type: 'vllm', url: primary.url },
        { id: 'held', type: 'openai', url: `http://127.0.0.1:${(shadow.address() as AddressInfo).port}`, models: ['qwen'], health_path: '/v1/models', load_interval_ms: 0 },
      ],
      routes: [
        { model: 'qwen', backends: ['primary'], shadow: { backends: ['held'], fraction: 1 }, policy: { type: 'round-robin' } },
        { model: 'other', backends: ['primary'], shadow: { backends: ['held'], fraction: 1 }, policy: { type: 'round-robin' } },
      ],
    });
    const chat = async (model: string) => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
      });
      await res.text();
      return res.status;
    };
    try {
      // Two routes, one limit: 90 answered primaries, 64 copies held.
      const statuses = await Promise.all(Array.from({ length: 90 }, (_, i) => chat(i % 2 === 0 ? 'qwen' : 'other')));
      expect(statuses.every((s) => s === 200)).toBe(true);
      await waitFor(() => seen >= 64, 5000);
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toBe(64);
      // Their ends free the places: the next request's copy is sent.
      for (const res of held.splice(0)) res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"no"}}');
      await waitFor(async () => {
        await chat('qwen');
        return seen > 64;
      }, 5000);
    } finally {
      // A copy still on its way when the test ends is refused, so the gateway's pool can close.
      closing = true;
      for (const res of held) res.destroy();
      const shadowClosed = new Promise((r) => shadow.close(r));
      shadow.closeAllConnections();
      await shadowClosed;
      await gw.drain();
      await primary.close();
    }
  });
});
