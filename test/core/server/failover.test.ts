import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { startReplicaPair } from './gateway-helpers.js';

describe('failover', () => {
  let a: SimServer;
  let b: SimServer;
  let gw: Gateway;

  beforeAll(async () => {
    // Health checks run rarely, so the passive path (retry, then the breaker) is what acts.
    ({ a, b, gw } = await startReplicaPair([{ model: 'qwen', backends: ['a', 'b'], policy: { type: 'round-robin' }, retries: 1 }]));
  });
  afterAll(async () => {
    await gw?.drain();
    await b?.close();
  });

  it('fails no request when a replica dies, and stops sending to it (breaker)', async () => {
    await a.close();
    const served: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
      });
      expect(res.status).toBe(200);
      served.push(res.headers.get('x-switchyard-backend')!);
      await res.arrayBuffer();
    }
    expect(new Set(served)).toEqual(new Set(['b']));
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    const connectErrors = Number(/switchyard_upstream_errors_total\{backend="a",kind="connect"\} (\d+)/.exec(metrics)?.[1]);
    // The breaker opened after a handful of failures instead of costing every other request a retry.
    expect(connectErrors).toBeGreaterThan(0);
    expect(connectErrors).toBeLessThan(10);
    // Failed attempts and answered requests alike left no prefill backlog behind.
    for (const id of ['a', 'b']) expect(gw.routes.state.latency.of(id).backlogTokens).toBe(0);
  });
});
