/** Regression: /ready told anyone who asked the engines' internal addresses ("connect ECONNREFUSED 10.0.0.5:8000"). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../core/server/gateway.js';
import { freePort } from '../../../bench/fleet.js';
import { startTestGateway } from './gateway-helpers.js';

describe('/ready', () => {
  let gw: Gateway;

  beforeAll(async () => {
    const port = await freePort(); // nothing listens there
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'gone', type: 'vllm', url: `http://127.0.0.1:${port}`, models: ['m'], load_interval_ms: 0 }],
      routes: [{ model: 'm', backends: ['gone'] }],
    });
  });
  afterAll(async () => {
    await gw?.drain();
  });

  it('says why a backend is unhealthy without its address', async () => {
    const res = await fetch(`${gw.url}/ready`);
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(text).toContain('health check failed (ECONNREFUSED)');
    expect(text).not.toContain('127.0.0.1');
  });
});
