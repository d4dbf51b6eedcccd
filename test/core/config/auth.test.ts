import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../core/config/load.js';

function file(text: string): string {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'switchyard-auth-')), 'gateway.yaml');
  writeFileSync(f, text);
  return f;
}

const base = `
backends:
  - { id: a, type: vllm, url: "http://127.0.0.1:8001", models: [m, n] }
routes:
  - { model: m, aliases: [m-alias], backends: [a] }
  - { model: n, backends: [a] }
`;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('auth config', () => {
  it('reads keys (hashed at once), admin keys, limits, priority, store failure mode and proxies', async () => {
    const f = file(`${base}
auth:
  keys:
    - id: team-a
      key: \${TEAM_A_KEY}
      models: [m]
      limits: { rpm: 600, tpm: 2000000, concurrency: 32 }
      priority: high
    - { id: team-b, key_sha256: "${sha('b-secret').toUpperCase()}" }
  admin_keys: ["\${ADMIN_KEY}"]
  on_store_failure: closed
  trusted_proxies: [10.0.0.0/8, "::1"]
metrics: { public: true }
`);
    const config = await loadConfig(f, { TEAM_A_KEY: 'a-secret-key', ADMIN_KEY: 'admin-secret' });
    expect(config.auth).toEqual({
      keys: [
        { id: 'team-a', sha256: sha('a-secret-key'), models: ['m'], limits: { rpm: 600, tpm: 2_000_000, concurrency: 32 }, priority: 'high' },
        { id: 'team-b', sha256: sha('b-secret'), models: undefined, limits: { rpm: undefined, tpm: undefined, concurrency: undefined }, priority: 'normal' },
      ],
      adminKeys: [sha('admin-secret')],
      onStoreFailure: 'closed',
      trustedProxies: ['10.0.0.0/8', '::1'],
    });
    expect(config.metrics).toEqual({ public: true });
    // With keys, the default bind is every interface; the key itself is nowhere in the config.
    expect(config.listen.host).toBe('0.0.0.0');
    expect(JSON.stringify(config)).not.toContain('a-secret-key');
  });

  it('binds loopback without keys, unless the config names a host', async () => {
    expect((await loadConfig(file(base), {})).listen.host).toBe('127.0.0.1');
    expect((await loadConfig(file(`${base}\nauth: { admin_keys: [x] }\n`), {})).listen.host).toBe('127.0.0.1');
    expect((await loadConfig(file(`${base}\nlisten: { host: 0.0.0.0 }\n`), {})).listen.host).toBe('0.0.0.0');
  });

  it('names the unset variable of a key', async () => {
    const f = file(`${base}\nauth: { keys: [{ id: a, key: "\${TEAM_A_KEY}" }] }\n`);
    await expect(loadConfig(f, {})).rejects.toThrow(/auth\.keys\[0\]\.key: expected environment variable TEAM_A_KEY to be set/);
  });

  const rejects: Array<[string, string, RegExp]> = [
    ['both key and key_sha256', `auth: { keys: [{ id: a, key: s3cret-value, key_sha256: "${sha('x')}" }] }`, /auth\.keys\[0\]: expected exactly one of key: or key_sha256:/],
    ['neither', 'auth: { keys: [{ id: a }] }', /auth\.keys\[0\]: expected exactly one of key: or key_sha256:/],
    ['a bad digest', 'auth: { keys: [{ id: a, key_sha256: abc }] }', /auth\.keys\[0\]\.key_sha256: expected a SHA-256 digest/],
    ['a key that is a number', 'auth: { keys: [{ id: a, key: 12345678 }] }', /auth\.keys\[0\]\.key: expected a non-empty string, got a number/],
    ['an unknown model', 'auth: { keys: [{ id: a, key: s3cret-value, models: [m, gpt-4] }] }', /auth\.keys\[0\]\.models\[1\]: expected a model name or alias of a route \(m, m-alias, n\), got "gpt-4"/],
    ['a zero limit', 'auth: { keys: [{ id: a, key: s3cret-value, limits: { rpm: 0 } }] }', /auth\.keys\[0\]\.limits\.rpm: expected an integer from 1/],
    ['an unknown limit', 'auth: { keys: [{ id: a, key: s3cret-value, limits: { rph: 5 } }] }', /auth\.keys\[0\]\.limits\.rph: expected one of the keys rpm, tpm, concurrency/],
    ['a bad priority', 'auth: { keys: [{ id: a, key: s3cret-value, priority: urgent }] }', /auth\.keys\[0\]\.priority: expected one of high, normal, low, got "urgent"/],
    ['duplicate ids', 'auth: { keys: [{ id: a, key: s3cret-1 }, { id: a, key: s3cret-2 }] }', /auth\.keys\[1\]\.id: expected a unique key id/],
    ['duplicate keys', 'auth: { keys: [{ id: a, key: s3cret-value }, { id: b, key: s3cret-value }] }', /auth\.keys\[1\]: the same key as an earlier entry/],
    ['a bad store failure mode', 'auth: { on_store_failure: maybe }', /auth\.on_store_failure: expected one of open, closed/],
    ['a bad proxy', 'auth: { trusted_proxies: [10.0.0.0/33] }', /auth\.trusted_proxies\[0\]: expected an IP address or CIDR range/],
    ['a typo in auth', 'auth: { key: [] }', /auth\.key: expected one of the keys keys, admin_keys, on_store_failure, trusted_proxies/],
    ['a typo in metrics', 'metrics: { publc: true }', /metrics\.publc: expected one of the keys public/],
  ];
  it.each(rejects)('rejects %s, naming the path and never the key', async (_what, text, message) => {
    const err = await loadConfig(file(`${base}\n${text}\n`), {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toMatch(/s3cret|12345678/);
  });
});
