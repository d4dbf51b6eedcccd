/**
 * Regression: at the drain deadline, streams were cut with no error event and no [DONE], and
 * requests still waiting for their engine got no HTTP response at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { Agent } from 'undici';
import { startEngine, startTestGateway } from './gateway-helpers.js';

describe('the drain deadline', () => {
  let engine: SimServer;

  beforeAll(async () => {
    engine = await startEngine('vllm', { timeScale: 2 });
  });
  afterAll(async () => {
    await engine?.close();
  });

  it('answers a new connection 503 draining, ends a running stream with an error event and [DONE], and answers a waiting request 503 draining', async () => {
    const gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      limits: { drain_timeout_ms: 300 },
      backends: [{ id: 'v', type: 'vllm', url: engine.url }],
      routes: [{ model: 'qwen', backends: ['v'] }],
    });
    const ask = (stream: boolean) => fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen', stream, max_tokens: 2000, ignore_eos: true, messages: [{ role: 'user', content: 'talk for a long time' }] }),
    });
    const streamed = await ask(true);
    const reader = streamed.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    const whole = ask(false); // still generating when the deadline comes
    await new Promise((r) => setTimeout(r, 100));
    const drained = gw.drain();
    // A request on a new connection while the drain runs: 503 draining, not connection refused
    // (the listener stays open until the in-flight requests are done).
    const fresh = new Agent();
    const late = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, dispatcher: fresh,
      body: JSON.stringify({ model: 'qwen', max_tokens: 1, messages: [{ role: 'user', content: 'late' }] }),
    } as RequestInit);
    expect(late.status).toBe(503);
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe('draining');
    await fresh.close();
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toMatch(/"code":"stream_interrupted"/);
    expect(text).toMatch(/shutting down/);
    expect(text.trim().endsWith('data: [DONE]')).toBe(true);
    const res = await whole;
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('draining');
    await drained;
  });
});
