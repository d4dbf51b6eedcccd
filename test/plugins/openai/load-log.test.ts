/**
 * Regression: a backend whose engine answers nothing logged `engine load read failed` at warn on
 * every load interval (twice a second, forever). It is logged once when reads start failing.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import plugin from '../../../plugins/vllm/index.js';
import type { Backend, PluginLogger } from '../../../core/plugin/types.js';
import { waitFor } from '../../core/server/gateway-helpers.js';

describe('a backend whose load reads keep failing', () => {
  let engine: Server;
  let backend: Backend;
  let metricsReads = 0;
  const lines: Array<{ level: string; msg: string }> = [];

  beforeAll(async () => {
    // Cuts every request: health checks and /metrics reads all fail.
    engine = createServer((req) => {
      if (req.url === '/metrics') metricsReads++;
      req.socket.destroy();
    });
    await new Promise<void>((r) => engine.listen(0, '127.0.0.1', r));
    const log: PluginLogger = {
      info: (_o, msg) => lines.push({ level: 'info', msg }),
      warn: (_o, msg) => lines.push({ level: 'warn', msg }),
      error: (_o, msg) => lines.push({ level: 'error', msg }),
    };
    backend = plugin.create(
      { id: 'dead', type: 'vllm', url: `http://127.0.0.1:${(engine.address() as AddressInfo).port}`, models: ['m'], labels: {}, options: { load_interval_ms: 10, health_interval_ms: 10 }, simulated: false },
      { configDir: '.', log, limits: { connectTimeoutMs: 1000, headersTimeoutMs: 1000 }, drainingReader: true },
    );
    await backend.start();
  });
  afterAll(async () => {
    await backend?.close();
    await new Promise((r) => engine?.close(r));
  });

  it('logs the failure once, not on every interval', async () => {
    await waitFor(() => metricsReads >= 6);
    expect(lines.filter((l) => l.msg === 'engine load read failed')).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'health check failed')).toHaveLength(1);
  });
});
