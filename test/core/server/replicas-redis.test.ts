import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { prefixKey } from '../../../core/routing/prefix-key.js';
import { startRedis, startProxy, type TcpProxy, type TestRedis } from '../state/redis-server.js';
import { startEngine, startTestGateway, waitFor } from './gateway-helpers.js';

// Three gateway replicas share prefix observations and load through a real redis-server.
describe('gateway replicas sharing state through Redis', () => {
  let redis: TestRedis;
  let proxy: TcpProxy;
  const engines: SimServer[] = [];
  const gws: Gateway[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    proxy = await startProxy({ host: redis.host, port: redis.port });
    for (let i = 0; i < 4; i++) engines.push(await startEngine('vllm', { replicaName: `e${i}` }));
    for (let g = 0; g < 3; g++) {
      gws.push(await startTestGateway({
        listen: { host: '127.0.0.1', port: 0 },
        store: { type: 'redis', url: proxy.url },
        backends: engines.map((e, i) => ({ id: `e${i}`, type: 'vllm', url: e.url })),
        routes: [{ model: 'qwen', backends: engines.map((_, i) => `e${i}`), policy: { type: 'prefix-affinity' } }],
      }));
    }
  });
  afterAll(async () => {
    await Promise.all(gws.map((g) => g.drain()));
    await Promise.all(engines.map((e) => e.close()));
    await proxy?.close();
    await redis?.stop();
  });

  /** Does replica `gw` believe `backend` holds this conversation's prefix? (Without asking it, which would teach it.) */
  const knows = (gw: Gateway, backend: string, system: string) => {
    const hashes = prefixKey({ messages: [{ role: 'system', content: system }, { role: 'user', content: 'x' }] }).hashes;
    return gw.routes.state.prefixes.of(backend).match(hashes) > hashes.length / 2;
  };

  const ask = async (gw: Gateway, system: string, question: string) => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen', messages: [{ role: 'system', content: system }, { role: 'user', content: question }], max_tokens: 2 }),
    });
    await res.arrayBuffer();
    return { status: res.status, backend: res.headers.get('x-switchyard-backend'), reason: res.headers.get('x-switchyard-route-reason') };
  };

  it('a prefix one replica placed is found by the others', async () => {
    const system = 'You are the assistant of a shipping company; answer with care. '.repeat(40);
    const first = await ask(gws[0], system, 'first question');
    await waitFor(() => knows(gws[2], first.backend!, system), 5000, 20);
    // Replica 2 has never seen this prompt: it routes by what replica 0 published.
    const second = await ask(gws[2], system, 'another question');
    expect(second.backend).toBe(first.backend);
    expect(second.reason).toMatch(/^prefix/);
  });

  it('keeps serving when Redis goes away, and converges when it returns', async () => {
    proxy.cut();
    const during = 'A prefix born while Redis was unreachable, long enough to span chunks. '.repeat(40);
    const results = [];
    for (let i = 0; i < 9; i++) results.push(await ask(gws[i % 3], `${i % 3}:${during}`, `q${i}`));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const placed = results[0].backend!; // replica 0's placement of `0:${during}`, made during the outage
    expect(knows(gws[2], placed, `0:${during}`)).toBe(false);
    proxy.heal();
    // Replica 0's observations from the outage reach replica 2 once Redis is back.
    const ms = await waitFor(() => knows(gws[2], placed, `0:${during}`), 15_000, 20);
    console.log(`[replicas] replica 2 learned replica 0's outage-time placement ${ms.toFixed(0)} ms after Redis came back`);
    const after = await ask(gws[2], `0:${during}`, 'first time replica 2 sees it');
    expect(after.backend).toBe(placed);
    expect(after.reason).toMatch(/^prefix/);
  });
});
