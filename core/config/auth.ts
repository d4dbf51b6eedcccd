/**
 * The `auth:` and `metrics:` sections. Keys are hashed here, once: the config object holds only
 * their SHA-256, and no error message ever shows a key's value (only where it is in the file).
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { ConfigError } from './reader.js';
import { custom, oneOf, optional, optionalSection, bool, section, sections, strings, int, type Field } from './fields.js';
import type { ConfigReader, Obj } from './reader.js';
import type { ApiKeySpec, AuthSpec } from './types.js';

export function sha256Hex(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

const limit = (what: string) => optional(int(what, { min: 1 }), 'unlimited');

/** One entry of `auth.keys`. */
export const KEY = {
  id: custom<string>('string of letters, digits, . _ : - (at most 64)', 'Names the key in metrics, logs and limits.', (r, o, key, at) => {
    const id = r.str(o, key, at);
    if (!/^[A-Za-z0-9._:-]{1,64}$/.test(id)) r.fail(`${at}.${key}`, 'at most 64 letters, digits and . _ : - (it labels metrics)', id);
    return id;
  }, { required: true }),
  key: custom<string | undefined>('string (secret)', 'The key clients send as `Authorization: Bearer …` (use `${ENV}`); exactly one of key and key_sha256.',
    (r, o, key, at) => (o[key] === undefined ? undefined : secret(r, o[key], `${at}.${key}`))),
  key_sha256: custom<string | undefined>('64 hex digits', 'The key\'s SHA-256 instead of the key itself.', (r, o, key, at) => {
    const hex = o[key];
    if (hex === undefined) return undefined;
    if (typeof hex !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hex)) return r.fail(`${at}.${key}`, 'a SHA-256 digest (64 hex digits)', hex);
    return hex.toLowerCase();
  }),
  models: strings('Public model names or aliases the key may use (default: all).'),
  limits: section('Per-key limits, shared across gateway processes with a Redis store.', {
    rpm: limit('Requests per minute.'),
    tpm: limit('Tokens per minute (prompt and completion).'),
    concurrency: limit('Requests in flight.'),
  }),
  priority: oneOf(['high', 'normal', 'low'] as const, 'Order in the slo admission queue.', 'normal'),
} as const;

/** The `auth:` section. */
export const AUTH = {
  keys: sections('API keys; with none, inference is open to anyone who reaches the port.', KEY),
  admin_keys: custom<string[]>('list of strings (secrets)', 'Keys for /admin/* (and /metrics unless metrics.public).', (r, o, key, at) => (
    o[key] === undefined ? [] : r.list(o[key], `${at}.${key}`).map((v, i) => sha256Hex(secret(r, v, `${at}.${key}[${i}]`))))),
  on_store_failure: oneOf(['open', 'closed'] as const, 'With the shared limit store (Redis) unreachable: limit per process (open) or refuse (closed).', 'open'),
  trusted_proxies: custom<string[]>('list of IP addresses or CIDR ranges', 'Proxies whose X-Forwarded-For is believed.', (r, o, key, at) => {
    const list = r.strings(o, key, at) ?? [];
    list.forEach((p, i) => checkAddressRange(r, p, `${at}.${key}[${i}]`));
    return list;
  }),
} as const;

export const METRICS = {
  public: bool('/metrics answers without an admin key.', false),
} as const;

/** The `auth:` section as the top level's schema holds it. */
export const AUTH_FIELD: Field<unknown> = optionalSection('API keys, admin keys and per-key limits (see "Authentication and limits").', AUTH);

/** `names`: every public model name and alias the routes serve. */
export function readAuth(r: ConfigReader, doc: Obj, names: ReadonlySet<string>): AuthSpec | undefined {
  if (doc.auth === undefined) return undefined;
  const a = r.fields(r.obj(doc.auth, 'auth'), 'auth', AUTH);
  const keys = a.keys.map((item, i) => r.attempt(() => readKey(r, item, `auth.keys[${i}]`, names)));
  const ids = new Set<string>();
  const digests = new Set<string>();
  keys.forEach((k, i) => {
    if (!k) return;
    if (ids.has(k.id)) r.report(r.issue(`auth.keys[${i}].id`, 'a unique key id', k.id));
    ids.add(k.id);
    if (digests.has(k.sha256)) r.report(r.problem(`auth.keys[${i}]`, 'the same key as an earlier entry (each key must be unique)'));
    digests.add(k.sha256);
  });
  return { keys: keys.filter((k) => k !== undefined), adminKeys: a.admin_keys, onStoreFailure: a.on_store_failure, trustedProxies: a.trusted_proxies };
}

export function readMetrics(r: ConfigReader, doc: Obj): { public: boolean } {
  return r.fields(r.optObj(doc, 'metrics', 'metrics'), 'metrics', METRICS);
}

function readKey(r: ConfigReader, item: unknown, at: string, names: ReadonlySet<string>): ApiKeySpec {
  const o = r.obj(item, at);
  const k = r.fields(o, at, KEY);
  const sha256 = k.key !== undefined ? sha256Hex(k.key) : k.key_sha256;
  if ((k.key === undefined) === (k.key_sha256 === undefined) || sha256 === undefined) {
    return r.fail(at, 'exactly one of key: or key_sha256:', Object.keys(o));
  }
  k.models?.forEach((m, j) => { if (!names.has(m)) r.report(r.issue(`${at}.models[${j}]`, `a model name or alias of a route (${[...names].join(', ')})`, m)); });
  return { id: k.id, sha256, models: k.models, limits: k.limits, priority: k.priority };
}

/** A key's value, checked without ever printing it. */
function secret(r: ConfigReader, v: unknown, at: string): string {
  if (typeof v === 'string' && v !== '') return v;
  const what = typeof v === 'number' ? 'a number (a key of digits only must be written as a quoted string)' : v === undefined || v === null || v === '' ? 'nothing' : `a ${typeof v}`;
  throw new ConfigError([{ file: r.file, path: at, expected: 'a non-empty string', got: what, message: `${r.file}: ${at}: expected a non-empty string, got ${what}` }]);
}

function checkAddressRange(r: ConfigReader, value: string, at: string): void {
  const [address, bits, extra] = value.split('/');
  const family = isIP(address ?? '');
  const prefixOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
  if (family === 0 || !prefixOk || extra !== undefined) r.fail(at, 'an IP address or CIDR range (10.0.0.0/8, ::1)', value);
}

