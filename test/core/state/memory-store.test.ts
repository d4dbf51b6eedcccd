import { describe, expect, it } from 'vitest';
import { createStateStore, MemoryBus, MemoryStore, RedisStore } from '../../../core/state/index.js';
import { prefix, recorder, runStoreContract } from './store-contract.js';

runStoreContract('memory', async (n) => {
  const bus = new MemoryBus();
  return Array.from({ length: n }, () => new MemoryStore({ bus }));
});

describe('MemoryStore', () => {
  it('without a bus is alone: publishing is counted and goes nowhere', async () => {
    const a = new MemoryStore();
    const b = new MemoryStore();
    const rb = recorder();
    await Promise.all([a.start(recorder()), b.start(rb)]);
    a.publishPrefix(prefix('x', [1]));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(rb.prefixes).toEqual([]);
    expect(a.stats().published).toBe(1);
    expect(a.status()).toBe('connected');
    await Promise.all([a.close(), b.close()]);
  });

  it('delivers asynchronously, in order; bus.idle() waits for it', async () => {
    const bus = new MemoryBus();
    const a = new MemoryStore({ bus });
    const b = new MemoryStore({ bus });
    const rb = recorder();
    await a.start(recorder());
    await b.start(rb);
    a.publishPrefix(prefix('x', [1]));
    a.publishPrefix(prefix('x', [2]));
    expect(rb.prefixes).toEqual([]);
    await bus.idle();
    expect(rb.prefixes.map((o) => o.hashes[0])).toEqual([1, 2]);
  });
});

describe('createStateStore', () => {
  it('builds the store the config names', async () => {
    const bus = new MemoryBus();
    const m = createStateStore({ type: 'memory' }, { bus, gatewayId: 'gw-1' });
    expect(m).toBeInstanceOf(MemoryStore);
    expect(m.gatewayId).toBe('gw-1');
    const r = createStateStore({ type: 'redis', url: 'redis://127.0.0.1:1' }, { redis: { namespace: 'n' } });
    expect(r).toBeInstanceOf(RedisStore);
    expect((r as RedisStore).key).toBe('switchyard:n:obs');
    await Promise.all([m.close(), r.close()]);
  });

  it('rejects an unknown type', () => {
    expect(() => createStateStore({ type: 'etcd' } as never)).toThrow(/unknown type "etcd"/);
  });
});
