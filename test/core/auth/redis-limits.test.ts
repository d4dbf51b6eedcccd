import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuardedLimitStore } from '../../../core/auth/guarded-limits.js';
import { RedisLimitStore } from '../../../core/auth/redis-limits.js';
import { GatewayError } from '../../../core/server/errors.js';
import { freePort, startRedis, type TestRedis } from '../state/redis-server.js';
import { runLimitStoreContract } from './limit-store-contract.js';

let redis: TestRedis;
beforeAll(async () => { redis = await startRedis(); });
afterAll(async () => { await redis?.stop(); });

const connected = async (url: string) => {
  const s = new RedisLimitStore({ url });
  await s.start();
  return s;
};

runLimitStoreContract('redis', () => connected(redis.url));

describe('RedisLimitStore', () => {
  it('is exact across stores sharing one Redis: 40 concurrent takes from two stores, 10 admitted', async () => {
    const [a, b] = [await connected(redis.url), await connected(redis.url)];
    try {
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take('shared', { rpm: 10, concurrency: 100 }, 1, `l${i}`)));
      expect(results.filter((r) => r.allowed).length).toBe(10);
      expect(results.filter((r) => !r.allowed).every((r) => r.refusedBy === 'rpm')).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  const unreachable = async () => connected(`redis://127.0.0.1:${await freePort()}`);

  it('fails fast when Redis is unreachable', async () => {
    const s = await unreachable();
    const t0 = Date.now();
    await expect(s.take('k', { rpm: 1 }, 1, 'a')).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(1000);
    await s.close();
  });

  it('guarded, open: limits per process and counts the failures; closed: refuses with limits_unavailable', async () => {
    const failures: string[] = [];
    const log = { warn: () => {}, info: () => {} };
    const open = new GuardedLimitStore(await unreachable(), 'open', (op) => failures.push(op), log);
    expect((await open.take('k', { rpm: 1, concurrency: 5 }, 1, 'a')).allowed).toBe(true);
    expect((await open.take('k', { rpm: 1, concurrency: 5 }, 1, 'b'))).toMatchObject({ allowed: false, refusedBy: 'rpm' });
    await open.release('k', 'a');
    expect(failures).toEqual(['take', 'take']);
    await open.close();

    const closed = new GuardedLimitStore(await unreachable(), 'closed', (op) => failures.push(op), log);
    const err = await closed.take('k', { rpm: 1 }, 1, 'a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(503);
    expect((err as GatewayError).body().error.code).toBe('limits_unavailable');
    await closed.close();
  });

  it('guarded, open: a slot taken locally is finished locally; a failing shared finish is counted and its tokens charged locally', async () => {
    const failures: string[] = [];
    const open = new GuardedLimitStore(await unreachable(), 'open', (op) => failures.push(op), { warn: () => {}, info: () => {} });
    const limits = { tpm: 100, concurrency: 1 };
    expect(await open.take('k', limits, 10, 'a')).toMatchObject({ allowed: true, tokens: { remaining: 90 } });
    await open.finish('k', limits, 30, 'a');
    expect(await open.take('k', limits, 10, 'b')).toMatchObject({ allowed: true, tokens: { remaining: 50 } });
    await open.finish('k', limits, 0, 'b');
    await open.finish('k', limits, 20, 'from-the-shared-store');
    expect(await open.take('k', limits, 10, 'c')).toMatchObject({ allowed: true, tokens: { remaining: 20 } });
    expect(failures).toEqual(['take', 'take', 'finish', 'take']);
    await open.close();
  });
});
