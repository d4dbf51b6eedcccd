import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { selfCommand } from '../../../core/cli/self.js';
import { writeConfig } from '../server/gateway-helpers.js';

// `switchyard check-config` on an auth: section: errors name the path of the key, never its value.
function checkConfig(doc: unknown, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const { command, args } = selfCommand();
  return new Promise((resolve) => {
    execFile(command, [...args, 'check-config', writeConfig(doc)], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

describe('switchyard check-config with auth', () => {
  const base = { backends: [{ id: 'a', type: 'vllm', url: 'http://127.0.0.1:8001', models: ['m'] }], routes: [{ model: 'm', backends: ['a'] }] };

  it('accepts a valid section and names the path of what is wrong, never the key', async () => {
    const ok = await checkConfig({ ...base, auth: { keys: [{ id: 'team-a', key: '${TEAM_A_KEY}', limits: { rpm: 10 } }], admin_keys: ['${ADMIN_KEY}'] } }, { TEAM_A_KEY: 'sk-real-secret-1', ADMIN_KEY: 'sk-admin-secret-2' });
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/: ok/);
    const cases: Array<[unknown, RegExp]> = [
      [{ keys: [{ id: 'team-a', key: '${TEAM_A_KEY}' }] }, /auth\.keys\[0\]\.key: expected environment variable TEAM_A_KEY to be set/],
      [{ keys: [{ id: 'team-a', key: 'sk-real-secret-1', limits: { rpm: -1 } }] }, /auth\.keys\[0\]\.limits\.rpm: expected an integer from 1/],
      [{ keys: [{ id: 'team-a', key: 'sk-real-secret-1', models: ['gpt-4'] }] }, /auth\.keys\[0\]\.models\[0\]: expected a model name or alias of a route/],
      [{ keys: [{ id: 'a', key: 'sk-real-secret-1' }, { id: 'b', key: 'sk-real-secret-1' }] }, /auth\.keys\[1\]: the same key as an earlier entry/],
    ];
    for (const [auth, message] of cases) {
      const bad = await checkConfig({ ...base, auth });
      expect(bad.code).not.toBe(0);
      expect(bad.out).toMatch(message);
      expect(bad.out).not.toContain('sk-real-secret');
    }
  });
});
