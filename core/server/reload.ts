/**
 * Hot reload: re-read the config file, validate all of it, then swap backends and routes in one
 * step. Invariants:
 * - nothing changes unless everything is ready: the config loads, new backends start, new routes
 *   build (tokenizers loaded); otherwise the reload is refused with its errors and the old set
 *   keeps serving;
 * - a request that began keeps the Route (and so the Backends) it resolved; backends that left
 *   are closed only once the requests in flight at the swap are done (or the drain deadline,
 *   `limits.drain_timeout_ms`, has passed);
 * - a kept backend keeps all it learned: routing state is keyed by backend id, and only the ids
 *   of replaced or removed backends are forgotten;
 * - reloads run one at a time.
 * Sections other than `backends:` and `routes:` take effect at restart; a reload that changes one
 * says so (`not_reloaded`) and logs a warning. Discovered replicas joining or leaving are applied
 * the same way (`rediscover`).
 */
import { isDeepStrictEqual } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { GatewayConfig } from '../config/types.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { Cancel } from '../plugin/cancel.js';
import type { Backend } from '../plugin/types.js';
import type { Route, RouteTable } from '../routing/route-table.js';
import type { BackendChange, BackendSet } from './backend-set.js';
import type { Discovery } from './discovery.js';
import type { Tenants } from '../auth/tenants.js';
import { GatewayError } from './errors.js';
import { ConfigError } from '../config/reader.js';

export interface ReloadSummary {
  backends: { added: string[]; replaced: string[]; removed: string[]; kept: string[] };
  routes: Array<{ model: string; backends: string[]; policy: string; rebuilt: boolean }>;
  /** Requests in flight when the new set went live; they finish on the old one. */
  in_flight_at_swap: number;
  /** Changed sections that take effect only at restart. */
  not_reloaded: string[];
}

export type ReloadOutcome = { ok: true; summary: ReloadSummary } | { ok: false; errors: string[] };

/** Sections a reload leaves as they were at start (config key names, as the summary reports them). */
const RESTART_ONLY = {
  listen: 'listen', workers: 'workers', store: 'store', limits: 'limits', routing: 'routing',
  metrics: 'metrics', accessLog: 'access_log', simulated: 'simulated (sim: sections)',
} as const satisfies Partial<Record<keyof GatewayConfig, string>>;

export interface ReloaderOptions {
  /** The config in effect, as read (discovered backends not expanded). */
  config: GatewayConfig;
  /** Expands discovered backends into their replicas, and follows the config applied. */
  discovery: Pick<Discovery, 'expand' | 'adopt'>;
  /** Takes a reloaded `auth:` section's keys (the section's presence is fixed at start). */
  tenants: Pick<Tenants, 'replaceAuth'>;
  /** Reads and validates the config file (core/config/load.ts). */
  load(file: string): Promise<GatewayConfig>;
  backends: BackendSet;
  routes: RouteTable;
  metrics: GatewayMetrics;
  /** The process's in-flight requests (the same object the handlers count in). */
  inFlight: { count: number; cancels: Set<Cancel> };
  drainTimeoutMs: number;
  log: FastifyBaseLogger;
  /** New backends and rebuilt routes are about to serve: wire them (retractions, index sizes, tokenizer checks). */
  onServing(added: readonly Backend[], rebuilt: readonly Route[]): void;
  /** Drop all that was learned under a backend id (routing state, breaker, learner): it left, or is a new backend now. */
  forget(backendId: string): void;
}

export class Reloader {
  /** The config as read: its restart-only sections are those in effect; its backends and routes the last applied. */
  private config: GatewayConfig;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly retiring = new Set<Promise<void>>();
  private closing = false;

  constructor(private readonly opts: ReloaderOptions) {
    this.config = opts.config;
  }

  /** Re-reads the config file and applies it; the outcome is logged as well as returned. */
  reload(): Promise<ReloadOutcome> {
    return this.serially(async () => {
      let next: GatewayConfig;
      try {
        next = await this.opts.load(this.config.file);
      } catch (err) {
        // A config with several mistakes is refused with each of them.
        return this.refused(err instanceof ConfigError ? err.errors.map((e) => e.message) : [messageOf(err)]);
      }
      return this.applyNow(next, 'config reloaded');
    });
  }

  /** Applies the config in effect again, its discovered backends expanded anew (their replica sets changed). */
  rediscover(): Promise<ReloadOutcome> {
    return this.serially(() => this.applyNow(this.config, 'discovered replicas applied'));
  }

  /** Ends the waits of backends that left, closing them now (the gateway drains). */
  async close(): Promise<void> {
    this.closing = true;
    await this.queue.catch(() => {});
    await Promise.allSettled([...this.retiring]);
  }

  private serially(task: () => Promise<ReloadOutcome>): Promise<ReloadOutcome> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => {});
    return run;
  }

  private async applyNow(next: GatewayConfig, what: string): Promise<ReloadOutcome> {
    const { backends, routes, log } = this.opts;
    const serving = await this.opts.discovery.expand(next);
    let change: BackendChange;
    try {
      change = await backends.prepare(serving.backends);
    } catch (err) {
      return this.refused([messageOf(err)]);
    }
    let prepared;
    try {
      prepared = await routes.prepare(serving.routes, change.next);
    } catch (err) {
      await backends.abandon(change);
      return this.refused([messageOf(err)]);
    }
    const replaced = change.added.filter((b) => change.leaving.some((l) => l.id === b.id));
    this.opts.onServing(change.added, prepared.rebuilt);
    // The swap: every reference a new request reads changes here, with no await in between.
    const before = new Set(this.opts.inFlight.cancels);
    backends.commit(change);
    const retiredPools = routes.commit(prepared);
    this.opts.metrics.setBackends(backends.list);
    // A replaced backend is a new engine connection: what the router learned under its id starts
    // afresh. Its metric series stay: the old object's requests still count in them.
    for (const b of replaced) this.opts.forget(b.id);
    const inFlightAtSwap = this.opts.inFlight.count;
    const notReloaded: string[] = Object.entries(RESTART_ONLY)
      .filter(([key]) => !isDeepStrictEqual(this.config[key as keyof typeof RESTART_ONLY], next[key as keyof typeof RESTART_ONLY]))
      .map(([, name]) => name);
    notReloaded.push(...this.applyAuth(next.auth));
    this.config = { ...this.config, backends: next.backends, discovered: next.discovered, routes: next.routes };
    this.opts.discovery.adopt(next);

    if (change.leaving.length > 0 || retiredPools.length > 0) {
      const retirement = this.retire(change.leaving, before, async () => { await Promise.allSettled(retiredPools.map((p) => p.close())); });
      this.retiring.add(retirement);
      void retirement.finally(() => this.retiring.delete(retirement));
    }
    const summary: ReloadSummary = {
      backends: {
        added: change.added.filter((b) => !replaced.includes(b)).map((b) => b.id),
        replaced: replaced.map((b) => b.id),
        removed: change.leaving.filter((b) => !change.next.has(b.id)).map((b) => b.id),
        kept: change.kept.map((b) => b.id),
      },
      routes: prepared.routes.map((r) => ({ model: r.model, backends: r.backends.map((b) => b.id), policy: r.policy.type, rebuilt: prepared.rebuilt.includes(r) })),
      in_flight_at_swap: inFlightAtSwap,
      not_reloaded: notReloaded,
    };
    log.info({ ...summary.backends, routes: summary.routes.map((r) => r.model), inFlightAtSwap }, `${what}: backends and routes swapped`);
    if (notReloaded.length > 0) log.warn({ sections: notReloaded }, 'config reloaded, but these sections changed and take effect only at restart');
    return { ok: true, summary };
  }

  /**
   * Closes backends that left once nothing can use them: every request in flight at the swap has
   * finished (they may hold the old routes) and no request is on the backend. Polled: the
   * handlers' in-flight set has no per-request completion event to wait on.
   */
  private async retire(leaving: readonly Backend[], before: Set<Cancel>, closeRest: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + this.opts.drainTimeoutMs;
    // A request is in flight from the moment it resolved its route (openExchange, with no await
    // in between): `before` holds every request that may hold an old route.
    const busy = () => [...before].some((c) => this.opts.inFlight.cancels.has(c)) || leaving.some((b) => b.signals().inFlight > 0);
    while (!this.closing && busy() && Date.now() < deadline) await sleep(50, undefined, { ref: false });
    const cut = busy();
    if (cut && !this.closing) this.opts.log.warn({ backends: leaving.map((b) => b.id) }, 'requests still on backends a reload removed at the drain deadline; closing them anyway');
    await Promise.allSettled(leaving.map((b) => b.close()));
    await closeRest();
    for (const b of leaving) {
      if (this.opts.backends.get(b.id)) continue;
      this.opts.forget(b.id);
      // A request still ending would count its in-flight gauge below zero in a forgotten series.
      if (!cut) this.opts.metrics.forgetBackend(b.id);
    }
    if (leaving.length > 0) this.opts.log.info({ backends: leaving.map((b) => b.id) }, 'backends a reload removed or replaced are closed');
  }

  /**
   * Keys, admin keys and trusted proxies take effect now; adding or removing the whole section, or
   * changing `on_store_failure`, waits for a restart (the guard and the limit store are set up at
   * start). Returns what was not applied.
   */
  private applyAuth(next: GatewayConfig['auth']): string[] {
    const current = this.config.auth;
    if (isDeepStrictEqual(current, next)) return [];
    if (!current || !next) return ['auth (adding or removing the section)'];
    this.opts.tenants.replaceAuth({ ...next, onStoreFailure: current.onStoreFailure });
    this.config = { ...this.config, auth: { ...next, onStoreFailure: current.onStoreFailure } };
    return next.onStoreFailure === current.onStoreFailure ? [] : ['auth.on_store_failure'];
  }

  private refused(errors: string[]): ReloadOutcome {
    this.opts.log.error({ errors }, 'config reload refused; the running config keeps serving');
    return { ok: false, errors };
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * `POST /admin/reload` (admin-guarded with the rest of /admin/*): 200 with the summary, or 400
 * `invalid_config` with every error found.
 */
export function registerReloadRoute(app: FastifyInstance, reloader: Pick<Reloader, 'reload'>): void {
  app.post('/admin/reload', async (_req, reply) => {
    const outcome = await reloader.reload();
    if (outcome.ok) return reply.send({ status: 'reloaded', ...outcome.summary });
    const err = new GatewayError('SY_ERR_INVALID_CONFIG', `config refused, the running one keeps serving: ${outcome.errors.join('; ')}`);
    return reply.code(err.status).send({ ...err.body(), errors: outcome.errors });
  });
}
