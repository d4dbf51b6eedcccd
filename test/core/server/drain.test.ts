import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { spawnSelf } from '../../../core/cli/self.js';
import { startEngine, writeConfig } from './gateway-helpers.js';

describe('switchyard serve', () => {
  let engine: SimServer;

  beforeAll(async () => {
    // time scale 5: a 60-token answer takes a few hundred ms of real time.
    engine = await startEngine('vllm', { timeScale: 5 });
  });
  afterAll(async () => {
    await engine?.close();
  });

  it.each([1, 2])('with %i worker(s) drains on SIGTERM: stops accepting, finishes in-flight streams, exits 0', async (workers) => {
    const file = writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      workers,
      backends: [{ id: 'v', type: 'vllm', url: engine.url }],
      routes: [{ model: 'qwen', backends: ['v'] }],
    });
    const { url, child } = await spawnSelf(['serve', '--config', file], { env: { SWITCHYARD_LOG_LEVEL: 'warn' } });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 60, ignore_eos: true, stream: true }),
    });
    // Every worker serves: a handful of plain requests all succeed before the drain.
    for (let i = 0; i < 4; i++) {
      const ok = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'qwen', prompt: 'x', max_tokens: 1 }) });
      expect(ok.status).toBe(200);
      await ok.arrayBuffer();
    }
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    child.kill('SIGTERM');
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    // The in-flight stream ran to its end.
    expect(text.trim().endsWith('data: [DONE]')).toBe(true);
    expect(text).toContain('"finish_reason":"length"');
    expect(await exited).toBe(0);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  }, 30_000);
});
