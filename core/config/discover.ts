/**
 * `discover:` on a backend: its replicas come from DNS (a Kubernetes headless service) instead of
 * one `url`. Each replica is a backend of its own, `<id>/<address>`, with the declared backend's
 * options (`{host}` in any of them becomes the replica's address); routes that name the declared
 * id get every replica.
 *
 *   discover: { dns: vllm.default.svc.cluster.local, port: 8000, interval_ms: 5000 }
 *   discover: { dns: _http._tcp.vllm.default.svc.cluster.local }          # SRV: ports from the records
 *   discover: { dns: vllm.test, port: 8000, servers: ["127.0.0.1:5353"] } # this DNS server, not the system's
 */
import { isIP } from 'node:net';
import type { BackendSpec } from '../plugin/types.js';
import { custom, int, oneOf, optional, str } from './fields.js';
import type { ConfigReader } from './reader.js';
import type { RouteSpec } from './types.js';

export interface DiscoverSpec {
  /** The name to resolve. */
  dns: string;
  /** `a`: A and AAAA records, all on `port`; `srv`: SRV records, each with its port (default: srv when the name starts with `_`). */
  records: 'a' | 'srv';
  port?: number;
  scheme: 'http' | 'https';
  intervalMs: number;
  /** DNS servers (`ip` or `ip:port`, `[ipv6]:port`) instead of the system's. */
  servers?: string[];
}

/** A backend declared with `discover:`: its section (no url yet) and where its replicas are found. */
export interface DiscoveredBackend {
  template: BackendSpec;
  discover: DiscoverSpec;
}

/** One replica's address. */
export interface ReplicaAddress {
  host: string;
  port: number;
}

/** Stands in for a replica's address when the plugin checks options that use `{host}`. */
export const SAMPLE_HOST = '10.0.0.1';

/** The `discover:` section of a backend. */
export const DISCOVER = {
  dns: str('The name to resolve (a Kubernetes headless service).'),
  port: optional(int('The replicas\' port (A/AAAA records carry none; required with records: a).', { min: 1, max: 65535 })),
  records: optional(oneOf(['a', 'srv'] as const, 'A/AAAA records on `port`, or SRV records each with its port.'), 'srv when dns starts with _, else a'),
  scheme: oneOf(['http', 'https'] as const, 'The replicas\' URL scheme.', 'http'),
  interval_ms: int('How often the name is resolved again.', { default: 5000, min: 100 }),
  servers: custom<string[] | undefined>('list of IP[:port]', 'DNS servers to ask instead of the system\'s (127.0.0.1:5353, [::1]:5353).', (r, o, key, at) => {
    const servers = r.strings(o, key, at);
    servers?.forEach((s, i) => { if (!isDnsServer(s)) r.fail(`${at}.${key}[${i}]`, 'an IP address, optionally with a port (127.0.0.1:5353, [::1]:5353)', s); });
    return servers;
  }),
} as const;

export function readDiscover(r: ConfigReader, v: unknown, at: string): DiscoverSpec {
  const d = r.fields(r.obj(v, at), at, DISCOVER);
  const records = d.records ?? (d.dns.startsWith('_') ? 'srv' : 'a');
  if (records === 'a' && d.port === undefined) r.fail(`${at}.port`, 'the replicas\' port (A/AAAA records carry none; SRV records do: records: srv)', undefined);
  return { dns: d.dns, records, port: d.port, servers: d.servers, scheme: d.scheme, intervalMs: d.interval_ms };
}

function isDnsServer(s: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracketed) return isIP(bracketed[1]) === 6 && validPort(bracketed[2]);
  if (isIP(s) !== 0) return true;
  const [host, port] = s.split(':');
  return isIP(host) === 4 && validPort(port);
}

function validPort(p: string | undefined): boolean {
  return p === undefined || (/^\d+$/.test(p) && Number(p) >= 1 && Number(p) <= 65535);
}

/** `{host}` replaced in every string of a backend's options (IPv6 bracketed, as URLs want it). */
export function withHost<T>(value: T, host: string): T {
  const shown = isIP(host) === 6 ? `[${host}]` : host;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replaceAll('{host}', shown);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** `10.0.0.5:8000`, `[fd00::5]:8000`. */
export function addressText(a: ReplicaAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The backend section of one replica: `<id>/<address>`, its url, the declared options with `{host}` filled in. */
export function replicaSpec(d: DiscoveredBackend, a: ReplicaAddress): BackendSpec {
  const t = d.template;
  return { ...t, id: `${t.id}/${addressText(a)}`, url: `${d.discover.scheme}://${addressText(a)}`, options: withHost(t.options, a.host) };
}

/** Routes with each declared id of a discovered backend replaced by its replicas' ids (none while it has none). */
export function expandRoutes(routes: readonly RouteSpec[], replicas: ReadonlyMap<string, readonly string[]>): RouteSpec[] {
  const ids = (list: readonly string[]) => [...new Set(list.flatMap((id) => replicas.get(id) ?? [id]))];
  return routes.map((route) => ({
    ...route,
    backends: ids(route.backends),
    arms: route.arms.map((arm) => ({ ...arm, backends: ids(arm.backends) })),
    ...(route.shadow ? { shadow: { ...route.shadow, backends: ids(route.shadow.backends) } } : {}),
  }));
}
