import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore, type RedisStoreOptions } from '../../../core/state/redis-store.js';
import { freePort, startRedis, type TestRedis } from './redis-server.js';
import { startAll, storeFactory } from './redis-helpers.js';
import { prefix, recorder, runStoreContract, waitFor } from './store-contract.js';

let redis: TestRedis;
const stores = storeFactory(() => redis.url);
beforeAll(async () => { redis = await startRedis(); });
afterAll(async () => {
  if (redis?.owned) await redis.stop(); // its data goes with it
  else await stores.cleanup();
});

runStoreContract('redis', async (n) => stores.make(n), {
  makeUnreachable: async () => new RedisStore({ url: `redis://127.0.0.1:${await freePort()}` }),
});

describe('RedisStore', () => {
  const open: RedisStore[] = [];
  let client: Redis;
  beforeAll(() => { client = new Redis(redis.url); });
  afterAll(() => client.disconnect());
  afterEach(async () => { await Promise.all(open.splice(0).map((s) => s.close())); });
  const make = (n: number, opts: Partial<RedisStoreOptions> = {}) => track(...stores.make(n, opts));
  const track = (...made: RedisStore[]) => { open.push(...made); return made; };

  it('writes one stream entry per flush: a burst is one XADD', async () => {
    const [a, b] = make(2);
    const [, rb] = await startAll([a!, b!]);
    for (let i = 0; i < 500; i++) a!.publishPrefix(prefix(`backend-${i % 4}`, [1, 2, 3, i]));
    a!.publishLoad({ gatewayId: a!.gatewayId, backendId: 'backend-0', inFlight: 4, at: Date.now() });
    await waitFor(() => rb!.prefixes.length === 500 && rb!.loads.length === 1, 'B to receive the burst');
    expect(await client.xlen(a!.key)).toBe(1);
  });

  it('splits a backlog into entries of maxBatch observations, in order', async () => {
    const [a, b] = make(2, { maxBatch: 100 });
    const [, rb] = await startAll([a!, b!]);
    for (let i = 0; i < 450; i++) a!.publishPrefix(prefix('x', [i]));
    await a!.flush();
    expect(await client.xlen(a!.key)).toBe(5);
    await waitFor(() => rb!.prefixes.length === 450, 'B to receive 450');
    expect(rb!.prefixes.map((o) => o.hashes[0])).toEqual([...Array(450).keys()]);
  });

  it('a starting replica replays the last replayMs of the stream; with replayMs 0 it reads only what follows', async () => {
    const [a] = make(1);
    await startAll([a!]);
    a!.publishPrefix(prefix('x', [1, 2]));
    await a!.flush();
    const [late, fresh] = track(stores.join(a!), stores.join(a!, { replayMs: 0 }));
    const [rLate, rFresh] = await startAll([late!, fresh!]);
    await waitFor(() => rLate!.prefixes.length === 1, 'the late replica to replay A\'s observation');
    a!.publishPrefix(prefix('x', [3]));
    await waitFor(() => rFresh!.prefixes.length === 1 && rLate!.prefixes.length === 2, 'both to receive the next one');
    expect(rFresh!.prefixes[0]!.hashes).toEqual([3]);
  });

  it('skips and counts a stream entry it cannot decode', async () => {
    const [a, b] = make(2);
    const [, rb] = await startAll([a!, b!]);
    await client.xadd(a!.key, '*', 'g', 'someone-else', 'j1', '{not json');
    await client.xadd(a!.key, '*', 'g', 'from-the-future', 'j9', '...');
    a!.publishPrefix(prefix('x', [7]));
    await waitFor(() => rb!.prefixes.length === 1, 'B to receive the valid observation');
    expect(b!.stats()).toMatchObject({ malformed: 2, applied: 1 });
  });

  it('bounds its buffer while Redis is unreachable: the oldest are dropped and counted, loads coalesce', async () => {
    const [s] = track(new RedisStore({ url: `redis://127.0.0.1:${await freePort()}`, maxBuffered: 100 }));
    await s!.start(recorder());
    for (let i = 0; i < 250; i++) s!.publishPrefix(prefix('x', [i]));
    for (let i = 0; i < 5; i++) s!.publishLoad({ gatewayId: s!.gatewayId, backendId: 'x', inFlight: i, at: i });
    expect(s!.stats()).toMatchObject({ buffered: 101, dropped: 150, published: 0 });
    expect(s!.status()).toBe('degraded');
  });

  it('sends what is buffered on close()', async () => {
    const [a, b] = make(2, { flushMs: 60_000 });
    const [, rb] = await startAll([a!, b!]);
    a!.publishPrefix(prefix('x', [1]));
    await a!.close();
    await waitFor(() => rb!.prefixes.length === 1, 'B to receive what A sent on close');
  });
});
