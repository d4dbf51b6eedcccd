/**
 * trtllm-serve's JSON /metrics drains on every read: with several gateways sharing a state store,
 * exactly one of them (the holder of the store's reader lease) reads it, and the others route on
 * what it shares. When the reader goes, another takes over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { loadConfig } from '../../../core/config/load.js';
import { startGateway, type Gateway } from '../../../core/server/gateway.js';
import { MemoryBus, MemoryStore } from '../../../core/state/memory-store.js';
import { startEngine, waitFor, writeConfig } from './gateway-helpers.js';

describe('one reader of drain-on-read statistics across gateways', () => {
  let engine: SimServer;
  const gateways: Gateway[] = [];

  beforeAll(async () => {
    engine = await startEngine('trtllm-serve');
    const bus = new MemoryBus();
    const config = await loadConfig(writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 't', type: 'trtllm-serve', url: engine.url, load_interval_ms: 100 }],
      routes: [{ model: 'm', aliases: ['engine-trtllm-serve'], backends: ['t'] }],
    }));
    for (let i = 0; i < 2; i++) gateways.push(await startGateway(config, { port: 0, host: '127.0.0.1', logLevel: 'silent', store: new MemoryStore({ bus }) }));
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.drain()));
    await engine?.close();
  });

  const ownReads = (g: Gateway) => g.backends[0]!.signals().updatedAt;
  const routed = (g: Gateway) => g.routes.resolve('m')!.candidates()[0]!.signals;

  it('has one gateway read the engine, and the other route on what it shares', async () => {
    // Some work, so that there are iterations to drain.
    await Promise.all(Array.from({ length: 4 }, () => fetch(`${gateways[0]!.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 32, ignore_eos: true, messages: [{ role: 'user', content: 'hello' }] }),
    }).then((r) => r.arrayBuffer())));
    await waitFor(() => gateways.every((g) => routed(g).updatedAt > 0), 5_000);
    const readers = gateways.filter((g) => ownReads(g) > 0);
    expect(readers).toHaveLength(1);
    const follower = gateways.find((g) => g !== readers[0])!;
    expect(routed(follower).running).toBeDefined();
    expect(routed(follower).updatedAt).toBeGreaterThan(0);
  });

  it('hands the reading on when the reader goes', async () => {
    const reader = gateways.find((g) => ownReads(g) > 0)!;
    const other = gateways.find((g) => g !== reader)!;
    await reader.drain();
    gateways.splice(gateways.indexOf(reader), 1);
    // Its lease lapses (3 s) and the other gateway starts reading for itself.
    await waitFor(() => ownReads(other) > 0, 8_000);
  });
});
