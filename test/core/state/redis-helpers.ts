import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisStore, type RedisStoreOptions } from '../../../core/state/redis-store.js';
import type { StateStore } from '../../../core/state/types.js';
import { recorder, waitFor, type Recorder } from './store-contract.js';

/** Stores in a fresh namespace of their own, so tests never see each other's streams. */
export function storeFactory(url: () => string, defaults: Partial<RedisStoreOptions> = {}) {
  const namespaces: string[] = [];
  return {
    namespaces,
    make(n: number, opts: Partial<RedisStoreOptions> = {}): RedisStore[] {
      const namespace = `test-${randomUUID()}`;
      namespaces.push(namespace);
      return Array.from({ length: n }, () => new RedisStore({ url: url(), namespace, ...defaults, ...opts }));
    },
    /** Another replica in `peer`'s namespace (through another URL, e.g. a proxy, if given). */
    join(peer: RedisStore, opts: Partial<RedisStoreOptions> = {}): RedisStore {
      return new RedisStore({ url: url(), ...defaults, ...opts, namespace: peer.namespace });
    },
    /** Deletes the test streams (they matter on a shared REDIS_URL server). */
    async cleanup(): Promise<void> {
      if (namespaces.length === 0) return;
      const client = new Redis(url(), { lazyConnect: true, maxRetriesPerRequest: 1 });
      const cleanup = async () => {
        await client.connect();
        await client.del(...namespaces.splice(0).map((ns) => `switchyard:${ns}:obs`));
      };
      try {
        await Promise.race([cleanup(), new Promise((resolve) => setTimeout(resolve, 2000))]);
      } catch {
        // best effort: a stopped test server has nothing to clean
      } finally {
        client.disconnect();
      }
    },
  };
}

export async function startAll(stores: StateStore[]): Promise<Recorder[]> {
  const recs = stores.map(() => recorder());
  await Promise.all(stores.map((s, i) => s.start(recs[i]!)));
  await waitFor(() => stores.every((s) => s.status() === 'connected'), 'every store to connect');
  return recs;
}

/** Distinct first hashes seen, for at-least-once checks. */
export function firstHashes(rec: Recorder): Set<number> {
  return new Set(rec.prefixes.map((o) => o.hashes[0]!));
}

export function timing(msg: string): void {
  if (process.env.STATE_TIMINGS) console.info(`[state timings] ${msg}`);
}
