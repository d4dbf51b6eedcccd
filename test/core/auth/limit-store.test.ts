import { describe, expect, it } from 'vitest';
import { MemoryLimitStore } from '../../../core/auth/limit-store.js';
import { runLimitStoreContract } from './limit-store-contract.js';

runLimitStoreContract('memory', async () => new MemoryLimitStore());

describe('MemoryLimitStore', () => {
  it('refills continuously at limit per minute, up to the limit', async () => {
    let now = 0;
    const s = new MemoryLimitStore(() => now);
    for (let i = 0; i < 60; i++) expect((await s.take('k', { rpm: 60 }, 1, `${i}`)).allowed).toBe(true);
    expect((await s.take('k', { rpm: 60 }, 1, 'x')).allowed).toBe(false);
    now += 1000; // one request's worth
    expect((await s.take('k', { rpm: 60 }, 1, 'y')).allowed).toBe(true);
    expect((await s.take('k', { rpm: 60 }, 1, 'z')).allowed).toBe(false);
    now += 3_600_000;
    expect((await s.take('k', { rpm: 60 }, 1, 'w')).requests).toEqual({ limit: 60, remaining: 59, resetMs: 1000 });
  });

  it('a token debt is paid by waiting', async () => {
    let now = 0;
    const s = new MemoryLimitStore(() => now);
    await s.take('k', { tpm: 600 }, 600, 'a');
    await s.charge('k', { tpm: 600 }, 300); // a stream that went past the limit
    now += 30_000; // refilled 300: back to zero
    expect((await s.take('k', { tpm: 600 }, 1, 'b')).allowed).toBe(false);
    now += 1_000;
    expect((await s.take('k', { tpm: 600 }, 10, 'c')).allowed).toBe(true);
  });
});
