/**
 * The access log: one structured line per request with what an operator looks for — request id,
 * model, arm, backend, routing reason, status, TTFT, duration, tokens and cached tokens; a
 * failure always, successful requests at the configured sample rate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { loadConfig } from '../../../core/config/load.js';
import { startGateway, type Gateway } from '../../../core/server/gateway.js';
import { postSse, startEngine, writeConfig } from './gateway-helpers.js';

type Line = { msg?: string; reqId?: string; access?: Record<string, unknown> };

async function gatewayLogging(doc: unknown): Promise<{ gw: Gateway; lines: Line[] }> {
  const lines: Line[] = [];
  const gw = await startGateway(await loadConfig(writeConfig(doc)), {
    port: 0, host: '127.0.0.1', logLevel: 'info',
    logDestination: { write: (s: string) => { for (const l of s.split('\n')) if (l) lines.push(JSON.parse(l) as Line); } },
  });
  return { gw, lines };
}

describe('access log', () => {
  let engine: SimServer;
  beforeAll(async () => {
    engine = await startEngine('vllm', { enablePromptTokensDetails: true });
  });
  afterAll(async () => {
    await engine?.close();
  });

  const doc = (sample: number) => ({
    listen: { host: '127.0.0.1', port: 0 }, access_log: { sample_rate: sample },
    backends: [{ id: 'v', type: 'vllm', url: engine.url, forward_headers: ['x-return-error'] }],
    routes: [{ model: 'qwen', backends: ['v'], policy: { type: 'prefix-affinity' } }],
  });

  it('writes one line per request: ids, route, status, latency and tokens; streams too', async () => {
    const { gw, lines } = await gatewayLogging(doc(1));
    try {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'req-one' },
        body: JSON.stringify({ model: 'qwen', messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      const streamed = await postSse(`${gw.url}/v1/chat/completions`, { model: 'qwen', stream: true, messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 });
      expect(streamed.status).toBe(200);
      const access = lines.filter((l) => l.access);
      expect(access).toHaveLength(2);
      expect(access[0].reqId).toBe('req-one');
      expect(access[0].access).toMatchObject({ model: 'qwen', arm: 'default', backend: 'v', status: 200, stream: false, completion_tokens: 3 });
      expect(typeof access[0].access!.route_reason).toBe('string');
      expect(access[0].access!.prompt_tokens).toBeGreaterThan(0);
      expect(access[0].access!.duration_ms).toBeGreaterThan(0);
      expect(access[1].access).toMatchObject({ status: 200, stream: true, completion_tokens: 3 });
      expect(access[1].access!.ttft_ms).toBeGreaterThan(0);
    } finally {
      await gw.drain();
    }
  });

  it('with sample_rate 0 logs failures only', async () => {
    const { gw, lines } = await gatewayLogging(doc(0));
    try {
      for (let i = 0; i < 3; i++) {
        const ok = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }) });
        await ok.arrayBuffer();
      }
      const bad = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-return-error': '400' }, body: JSON.stringify({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }) });
      expect(bad.status).toBe(400);
      const access = lines.filter((l) => l.access);
      expect(access).toHaveLength(1);
      expect(access[0].access).toMatchObject({ status: 400, model: 'qwen' });
      expect(typeof access[0].access!.error).toBe('string');
    } finally {
      await gw.drain();
    }
  });
});
