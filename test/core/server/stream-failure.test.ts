import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_FAULTS } from '../../../bench/sim/faults.js';
import type { SimServer } from '../../../bench/sim/server.js';
import type { Gateway } from '../../../core/server/gateway.js';
import { postSse, startEngine, startTestGateway } from './gateway-helpers.js';

describe('an upstream that fails mid-stream', () => {
  let crashing: SimServer;
  let gw: Gateway;

  beforeAll(async () => {
    crashing = await startEngine('vllm', { faults: { ...NO_FAULTS, crashAfter: 3 } });
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'crashy', type: 'vllm', url: crashing.url }],
      routes: [{ model: 'qwen', backends: ['crashy'] }],
    });
  });

  afterAll(async () => {
    await gw?.drain();
    await crashing?.close();
  });

  it('yields an OpenAI error event and then [DONE], never a silent truncation', async () => {
    const read = await postSse(`${gw.url}/v1/chat/completions`, {
      model: 'qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 50, stream: true,
    });
    expect(read.status).toBe(200);
    expect(read.events.at(-1)).toBe('[DONE]');
    const error = JSON.parse(read.events.at(-2)!) as { error: { code: string; type: string } };
    expect(error.error.code).toBe('stream_interrupted');
    // Content arrived before the failure and was relayed as it came.
    expect(read.events.filter((e) => e.includes('"content"')).length).toBeGreaterThan(0);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_upstream_errors_total\{backend="crashy",kind="stream"\} 1/);
    expect(gw.routes.state.latency.of('crashy').backlogTokens).toBe(0);
  });
});
