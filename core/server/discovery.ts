/**
 * Keeps the replicas of `discover:` backends current (core/config/discover.ts). Each name is
 * resolved every `interval_ms`, from its own DNS servers when the config names them; a change in
 * any replica set is a backend-set change, applied through the reloader: a replica that joins is
 * created and started before it serves, one that leaves finishes its requests first.
 *
 * A lookup that fails (timeout, refused, server failure) keeps the replicas last seen: a DNS
 * outage must not empty a fleet. Only an answer that the name has no such records (NXDOMAIN,
 * NODATA: a headless service with no ready pod) empties the set.
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { FastifyBaseLogger } from 'fastify';
import { expandRoutes, replicaSpec, type DiscoverSpec, type ReplicaAddress } from '../config/discover.js';
import type { GatewayConfig } from '../config/types.js';

/** Lookup errors that mean "no such records", as opposed to "no answer". */
const EMPTY_ANSWERS = new Set(['ENODATA', 'ENOTFOUND']);

interface Followed {
  spec: DiscoverSpec;
  timer?: NodeJS.Timeout;
}

export class Discovery {
  /** The replicas last seen, by declared backend id, with the spec they were found for. */
  private readonly found = new Map<string, { spec: DiscoverSpec; addresses: ReplicaAddress[] }>();
  private readonly followed = new Map<string, Followed>();
  private closed = false;

  /** `onChange` applies the declared config again (expanded anew); it resolves false if that was refused. */
  constructor(private readonly log: FastifyBaseLogger, private readonly onChange: () => Promise<boolean>) {}

  /**
   * The config as the gateway serves it: every discovered backend replaced by its replicas, in
   * `backends` and in the routes that name it. Names not resolved yet (or whose `discover:`
   * changed) are resolved now.
   */
  async expand(config: GatewayConfig): Promise<GatewayConfig> {
    await Promise.all(config.discovered.map(async (d) => {
      const known = this.found.get(d.template.id);
      if (known && isDeepStrictEqual(known.spec, d.discover)) return;
      const addresses = await lookup(d.discover);
      if (addresses === 'failed') this.log.warn({ backend: d.template.id, dns: d.discover.dns }, 'DNS lookup failed: no replicas until it answers');
      this.found.set(d.template.id, { spec: d.discover, addresses: addresses === 'failed' ? [] : addresses });
    }));
    const replicas = new Map(config.discovered.map((d) => [d.template.id, (this.found.get(d.template.id)?.addresses ?? []).map((a) => replicaSpec(d, a))]));
    return {
      ...config,
      backends: [...config.backends, ...[...replicas.values()].flat()],
      routes: expandRoutes(config.routes, new Map([...replicas].map(([id, specs]) => [id, specs.map((s) => s.id)]))),
    };
  }

  /** Follows the `discover:` sections of the config now in effect (polling each at its interval). */
  adopt(config: GatewayConfig): void {
    const next = new Map(config.discovered.map((d) => [d.template.id, d.discover]));
    for (const [id, f] of this.followed) {
      if (isDeepStrictEqual(next.get(id), f.spec)) continue;
      clearTimeout(f.timer);
      this.followed.delete(id);
    }
    for (const id of [...this.found.keys()]) if (!next.has(id)) this.found.delete(id);
    for (const [id, spec] of next) {
      if (this.followed.has(id) || this.closed) continue;
      const f: Followed = { spec };
      this.followed.set(id, f);
      this.schedule(id, f);
    }
  }

  close(): void {
    this.closed = true;
    for (const f of this.followed.values()) clearTimeout(f.timer);
    this.followed.clear();
  }

  private schedule(id: string, f: Followed): void {
    f.timer = setTimeout(() => void this.poll(id, f).finally(() => { if (this.followed.get(id) === f) this.schedule(id, f); }), f.spec.intervalMs);
    f.timer.unref();
  }

  private async poll(id: string, f: Followed): Promise<void> {
    const addresses = await lookup(f.spec);
    if (this.closed || this.followed.get(id) !== f) return;
    if (addresses === 'failed') {
      this.log.warn({ backend: id, dns: f.spec.dns }, 'DNS lookup failed: keeping the replicas last seen');
      return;
    }
    const before = this.found.get(id);
    if (before && isDeepStrictEqual(before.addresses, addresses)) return;
    this.found.set(id, { spec: f.spec, addresses });
    this.log.info({ backend: id, replicas: addresses.length, dns: f.spec.dns }, 'discovered replicas changed');
    // Refused (a replica's backend failed to start): forget the new set, so the next poll tries again.
    if (!(await this.onChange()) && this.found.get(id)?.addresses === addresses) {
      if (before) this.found.set(id, before);
      else this.found.delete(id);
    }
  }
}

/** The name's replicas, sorted (so that an unchanged set compares equal), or 'failed'. */
export async function lookup(spec: DiscoverSpec): Promise<ReplicaAddress[] | 'failed'> {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  if (spec.servers) resolver.setServers(spec.servers);
  try {
    let out: ReplicaAddress[];
    if (spec.records === 'a') {
      out = (await hosts(resolver, spec.dns)).map((host) => ({ host, port: spec.port ?? 0 }));
    } else {
      const records = await orEmpty(resolver.resolveSrv(spec.dns));
      const targets = await Promise.all(records.map(async (r) => {
        const found = isIP(r.name) ? [r.name] : await hosts(resolver, r.name);
        return found.map((host) => ({ host, port: r.port }));
      }));
      out = targets.flat();
    }
    const unique = new Map(out.map((a) => [`${a.host} ${a.port}`, a]));
    return [...unique.values()].sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
  } catch {
    return 'failed';
  }
}

/** A name's A and AAAA addresses. */
async function hosts(resolver: Resolver, name: string): Promise<string[]> {
  const [v4, v6] = await Promise.all([orEmpty(resolver.resolve4(name)), orEmpty(resolver.resolve6(name))]);
  return [...v4, ...v6];
}

/** An answer that there are no such records is an empty list; any other failure rejects. */
async function orEmpty<T>(answer: Promise<T[]>): Promise<T[]> {
  try {
    return await answer;
  } catch (err) {
    if (EMPTY_ANSWERS.has((err as NodeJS.ErrnoException).code ?? '')) return [];
    throw err;
  }
}
