/** Builds the tenants stage from the config: the limit store its `store:` names, guarded. */
import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../config/types.js';
import { GuardedLimitStore } from './guarded-limits.js';
import { MemoryLimitStore, type LimitStore } from './limit-store.js';
import { RedisLimitStore } from './redis-limits.js';
import { Tenants } from './tenants.js';
import { UsageMetrics } from './usage-metrics.js';

export { Tenants, type Admission } from './tenants.js';

export async function createTenants(config: GatewayConfig, registry: Registry, log: FastifyBaseLogger): Promise<Tenants> {
  const usage = new UsageMetrics(registry);
  const auth = config.auth;
  const limited = auth?.keys.some((k) => Object.values(k.limits).some((v) => v !== undefined)) ?? false;
  let limits: LimitStore = new MemoryLimitStore();
  if (auth && limited && config.store.type === 'redis') {
    const shared = new RedisLimitStore({ url: config.store.url });
    await shared.start();
    limits = new GuardedLimitStore(shared, auth.onStoreFailure, (op) => usage.storeFailures.inc({ op }), log);
  }
  return new Tenants({
    auth, metricsPublic: config.metrics.public, limits, usage, log,
    maxInFlightPerClient: config.limits.maxInFlightPerClient, bytesPerToken: config.routing.bytesPerToken,
  });
}
