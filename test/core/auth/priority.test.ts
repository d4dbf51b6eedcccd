import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MemoryLimitStore } from '../../../core/auth/limit-store.js';
import { Tenants } from '../../../core/auth/tenants.js';
import { UsageMetrics } from '../../../core/auth/usage-metrics.js';
import type { AuthSpec } from '../../../core/config/types.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

// The slo admission queue orders by a number, higher first (core/routing/admission.ts): a key's
// priority gives it, and with keys configured a client's x-priority header is not believed.
describe('key priority', () => {
  const tenants = (auth: AuthSpec | undefined) => new Tenants({
    auth, metricsPublic: false, limits: new MemoryLimitStore(), usage: new UsageMetrics(new Registry()),
    maxInFlightPerClient: 0, bytesPerToken: 4, log: { warn: () => {} },
  });
  const request = (key: string | undefined) => ({
    url: '/v1/chat/completions', routeOptions: { url: '/v1/chat/completions' }, headers: { 'x-priority': '100', ...(key ? { authorization: `Bearer ${key}` } : {}) },
  }) as unknown as FastifyRequest;
  const key = (id: string, priority: 'high' | 'normal' | 'low') => ({ id, sha256: sha(id), limits: {}, priority });

  it('high, normal, low order the queue; the header does not', () => {
    const t = tenants({ keys: [key('hi', 'high'), key('mid', 'normal'), key('lo', 'low')], adminKeys: [], onStoreFailure: 'open', trustedProxies: [] });
    const priorities = ['hi', 'mid', 'lo'].map((k) => {
      const req = request(k);
      t.guard(req);
      return t.priorityOf(req);
    });
    expect(priorities).toEqual([1, 0, -1]);
  });

  it('without keys the x-priority header decides, as before', () => {
    const t = tenants(undefined);
    const req = request(undefined);
    t.guard(req);
    expect(t.priorityOf(req)).toBeUndefined();
  });
});
