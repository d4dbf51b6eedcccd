import { MemoryBus, MemoryStore } from './memory-store.js';
import { RedisStore, type RedisStoreOptions } from './redis-store.js';
import type { StateLogger, StateStore } from './types.js';

export type { LoadObservation, PrefixObservation, StateLogger, StateStore, StateStoreEvents, StateStoreStats } from './types.js';
export { MemoryBus, MemoryStore } from './memory-store.js';
export { RedisStore, type RedisStoreOptions, type RedisStoreStats } from './redis-store.js';

/** The `store:` section of the gateway config. */
export type StateStoreConfig = { type: 'memory' } | { type: 'redis'; url: string };

export interface CreateStateStoreOptions {
  gatewayId?: string;
  log?: StateLogger;
  /** Memory stores on one bus see each other (several replicas in one process). */
  bus?: MemoryBus;
  /** Redis tuning beyond the URL. */
  redis?: Omit<RedisStoreOptions, 'url' | 'gatewayId' | 'log'>;
}

export function createStateStore(config: StateStoreConfig, opts: CreateStateStoreOptions = {}): StateStore {
  switch (config.type) {
    case 'memory':
      return new MemoryStore({ bus: opts.bus, gatewayId: opts.gatewayId, log: opts.log });
    case 'redis':
      return new RedisStore({ ...opts.redis, url: config.url, gatewayId: opts.gatewayId, log: opts.log });
    default: {
      const unknown: never = config;
      throw new Error(`state store: unknown type ${JSON.stringify((unknown as { type?: unknown }).type)}`);
    }
  }
}
