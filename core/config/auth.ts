/**
 * The `auth:` and `metrics:` sections. Keys are hashed here, once: the config object holds only
 * their SHA-256, and no error message ever shows a key's value (only where it is in the file).
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { ConfigError, type ConfigReader, type Obj } from './reader.js';
import type { ApiKeySpec, AuthSpec } from './types.js';

const AUTH_KEYS = ['keys', 'admin_keys', 'on_store_failure', 'trusted_proxies'];
const KEY_KEYS = ['id', 'key', 'key_sha256', 'models', 'limits', 'priority'];

export function sha256Hex(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** `names`: every public model name and alias the routes serve. */
export function readAuth(r: ConfigReader, doc: Obj, names: ReadonlySet<string>): AuthSpec | undefined {
  if (doc.auth === undefined) return undefined;
  const a = r.obj(doc.auth, 'auth');
  r.known(a, 'auth', AUTH_KEYS);
  const keys = a.keys === undefined ? [] : r.list(a.keys, 'auth.keys').map((item, i) => readKey(r, item, `auth.keys[${i}]`, names));
  const ids = new Set<string>();
  const digests = new Set<string>();
  keys.forEach((k, i) => {
    if (ids.has(k.id)) r.fail(`auth.keys[${i}].id`, 'a unique key id', k.id);
    ids.add(k.id);
    if (digests.has(k.sha256)) throw new ConfigError(`${r.file}: auth.keys[${i}]: the same key as an earlier entry (each key must be unique)`);
    digests.add(k.sha256);
  });
  const adminKeys = a.admin_keys === undefined ? [] : r.list(a.admin_keys, 'auth.admin_keys').map((v, i) => sha256Hex(secret(r, v, `auth.admin_keys[${i}]`)));
  const trustedProxies = r.strings(a, 'trusted_proxies', 'auth') ?? [];
  trustedProxies.forEach((p, i) => checkAddressRange(r, p, `auth.trusted_proxies[${i}]`));
  return { keys, adminKeys, onStoreFailure: r.oneOf(a, 'on_store_failure', 'auth', ['open', 'closed'] as const, 'open'), trustedProxies };
}

export function readMetrics(r: ConfigReader, doc: Obj): { public: boolean } {
  const m = r.optObj(doc, 'metrics', 'metrics');
  r.known(m, 'metrics', ['public']);
  return { public: r.bool(m, 'public', 'metrics', false) };
}

function readKey(r: ConfigReader, item: unknown, at: string, names: ReadonlySet<string>): ApiKeySpec {
  const o = r.obj(item, at);
  r.known(o, at, KEY_KEYS);
  const id = r.str(o, 'id', at);
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(id)) r.fail(`${at}.id`, 'at most 64 letters, digits and . _ : - (it labels metrics)', id);
  if ((o.key === undefined) === (o.key_sha256 === undefined)) {
    throw new ConfigError(`${r.file}: ${at}: expected exactly one of key: or key_sha256:`);
  }
  let sha256: string;
  if (o.key !== undefined) {
    sha256 = sha256Hex(secret(r, o.key, `${at}.key`));
  } else {
    const hex = o.key_sha256;
    if (typeof hex !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hex)) r.fail(`${at}.key_sha256`, 'a SHA-256 digest (64 hex digits)', hex);
    sha256 = hex.toLowerCase();
  }
  const models = r.strings(o, 'models', at);
  models?.forEach((m, j) => { if (!names.has(m)) r.fail(`${at}.models[${j}]`, `a model name or alias of a route (${[...names].join(', ')})`, m); });
  const l = r.optObj(o, 'limits', at);
  r.known(l, `${at}.limits`, ['rpm', 'tpm', 'concurrency']);
  const limit = (name: string) => (l[name] === undefined ? undefined : r.int(l, name, `${at}.limits`, undefined, 1));
  return {
    id, sha256, models,
    limits: { rpm: limit('rpm'), tpm: limit('tpm'), concurrency: limit('concurrency') },
    priority: r.oneOf(o, 'priority', at, ['high', 'normal', 'low'] as const, 'normal'),
  };
}

/** A key's value, checked without ever printing it. */
function secret(r: ConfigReader, v: unknown, at: string): string {
  if (typeof v === 'string' && v !== '') return v;
  const what = typeof v === 'number' ? 'a number (a key of digits only must be written as a quoted string)' : v === undefined || v === null || v === '' ? 'nothing' : `a ${typeof v}`;
  throw new ConfigError(`${r.file}: ${at}: expected a non-empty string, got ${what}`);
}

function checkAddressRange(r: ConfigReader, value: string, at: string): void {
  const [address, bits, extra] = value.split('/');
  const family = isIP(address ?? '');
  const prefixOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
  if (family === 0 || !prefixOk || extra !== undefined) r.fail(at, 'an IP address or CIDR range (10.0.0.0/8, ::1)', value);
}

