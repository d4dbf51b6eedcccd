/**
 * The contract every limit store passes (memory and Redis): all-or-nothing takes, token debt,
 * in-flight leases, keys kept apart. Rates are slow enough (per minute) that refill during a
 * test is a fraction of a unit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LimitStore } from '../../../core/auth/limit-store.js';

export function runLimitStoreContract(name: string, make: () => Promise<LimitStore>): void {
  describe(`limit store contract: ${name}`, () => {
    const open: LimitStore[] = [];
    const store = async () => { const s = await make(); open.push(s); return s; };
    afterEach(async () => { await Promise.all(open.splice(0).map((s) => s.close())); });
    let n = 0;
    const key = () => `k${process.pid}-${Date.now()}-${n++}`;

    it('admits rpm requests in a burst, then refuses with the wait for one more', async () => {
      const s = await store();
      const k = key();
      for (let i = 0; i < 3; i++) {
        const r = await s.take(k, { rpm: 3 }, 1, `l${i}`);
        expect(r.allowed).toBe(true);
        expect(r.requests).toMatchObject({ limit: 3, remaining: 2 - i });
      }
      const refused = await s.take(k, { rpm: 3 }, 1, 'l3');
      expect(refused).toMatchObject({ allowed: false, refusedBy: 'rpm', requests: { limit: 3, remaining: 0 } });
      expect(refused.retryAfterMs).toBeGreaterThan(15_000);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(20_000);
      expect(refused.requests!.resetMs).toBeGreaterThan(55_000);
      expect(refused.requests!.resetMs).toBeLessThanOrEqual(60_000);
    });

    it('charges prompt tokens up front and needs them left; later charges may go into debt', async () => {
      const s = await store();
      const k = key();
      const limits = { tpm: 100 };
      expect(await s.take(k, limits, 60, 'a')).toMatchObject({ allowed: true, tokens: { limit: 100, remaining: 40 } });
      expect(await s.take(k, limits, 50, 'b')).toMatchObject({ allowed: false, refusedBy: 'tpm', tokens: { remaining: 40 } });
      expect(await s.take(k, limits, 40, 'c')).toMatchObject({ allowed: true, tokens: { remaining: 0 } });
      await s.charge(k, limits, 50); // the answer's completion tokens: 50 into debt
      const refused = await s.take(k, limits, 1, 'd');
      expect(refused).toMatchObject({ allowed: false, refusedBy: 'tpm', tokens: { remaining: 0 } });
      // 51 tokens to refill at 100 per minute.
      expect(refused.retryAfterMs).toBeGreaterThan(29_000);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(31_000);
      await s.charge(k, limits, -60); // a refund (the estimate was high)
      expect(await s.take(k, limits, 5, 'e')).toMatchObject({ allowed: true });
    });

    it('a prompt larger than the whole tpm passes on a full bucket', async () => {
      const s = await store();
      expect(await s.take(key(), { tpm: 10 }, 500, 'a')).toMatchObject({ allowed: true, tokens: { remaining: 0 } });
    });

    it('holds in-flight slots until released, and a refused take consumes nothing', async () => {
      const s = await store();
      const k = key();
      const limits = { concurrency: 2, rpm: 10, tpm: 1000 };
      expect((await s.take(k, limits, 10, 'a')).allowed).toBe(true);
      expect((await s.take(k, limits, 10, 'b')).allowed).toBe(true);
      const refused = await s.take(k, limits, 10, 'c');
      expect(refused).toMatchObject({ allowed: false, refusedBy: 'concurrency', requests: { remaining: 8 }, tokens: { remaining: 980 } });
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      await s.release(k, 'a');
      expect(await s.take(k, limits, 10, 'c')).toMatchObject({ allowed: true, requests: { remaining: 7 }, tokens: { remaining: 970 } });
      await s.release(k, 'a'); // twice: no effect
      expect((await s.take(k, limits, 10, 'd')).allowed).toBe(false);
    });

    it('finish: charges what the request owes and frees its slot, in one step', async () => {
      const s = await store();
      const k = key();
      const limits = { concurrency: 1, tpm: 100 };
      expect(await s.take(k, limits, 10, 'a')).toMatchObject({ allowed: true, tokens: { remaining: 90 } });
      expect(await s.take(k, limits, 10, 'b')).toMatchObject({ allowed: false, refusedBy: 'concurrency' });
      await s.finish(k, limits, 25, 'a'); // the answer's completion tokens
      expect(await s.take(k, limits, 10, 'b')).toMatchObject({ allowed: true, tokens: { remaining: 55 } });
      await s.finish(k, limits, -5, 'b'); // a refund (the estimate was high)
      expect(await s.take(k, limits, 10, 'c')).toMatchObject({ allowed: true, tokens: { remaining: 50 } });
      await s.finish(k, limits, 0, 'c'); // nothing owed: the slot alone
      expect((await s.take(k, limits, 10, 'd')).allowed).toBe(true);
      await s.finish(k, limits, 10, 'd');
      await s.finish(k, limits, 10, 'd'); // twice: the slot was freed once; the tokens count again
      expect(await s.take(k, limits, 1, 'e')).toMatchObject({ allowed: true, tokens: { remaining: 19 } });
    });

    it('keeps keys apart', async () => {
      const s = await store();
      const [a, b] = [key(), key()];
      expect((await s.take(a, { rpm: 1 }, 1, 'x')).allowed).toBe(true);
      expect((await s.take(a, { rpm: 1 }, 1, 'y')).allowed).toBe(false);
      expect((await s.take(b, { rpm: 1 }, 1, 'z')).allowed).toBe(true);
    });
  });
}
