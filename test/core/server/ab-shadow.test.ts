import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
