/**
 * `switchyard serve --port N` (what `npm start -- --port N` runs) listens on N, and the README's
 * quick start says so in the form npm passes through: flags after `--` reach the command, flags
 * before it are npm's own (`npm start --port N` hands serve a bare `N`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../bench/fleet.js';
import { spawnSelf } from '../../../core/cli/self.js';
import { writeConfig } from '../server/gateway-helpers.js';

const ROOT = path.join(import.meta.dirname, '..', '..', '..');

describe('serve --port', () => {
  it('listens on the port given, over the config and PORT', async () => {
    const file = writeConfig({
      listen: { host: '127.0.0.1', port: 1 },
      // Nothing listens on port 9 (discard): the gateway starts and reports the backend unhealthy.
      backends: [{ id: 'nowhere', type: 'vllm', url: 'http://127.0.0.1:9', models: ['m'] }],
      routes: [{ model: 'm', backends: ['nowhere'] }],
    });
    const port = await freePort();
    const gateway = await spawnSelf(['serve', '--config', file, '--port', String(port)], {
      env: { PORT: '1', SWITCHYARD_LOG_LEVEL: 'warn' }, timeoutMs: 45_000,
    });
    try {
      expect(gateway.url).toBe(`http://127.0.0.1:${port}`);
      const models = await fetch(`${gateway.url}/v1/models`);
      expect(models.status).toBe(200);
    } finally {
      await gateway.stop();
    }
  });

  it('is what the README tells npm users to type', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toMatch(/switchyard\.js serve$/);
    expect(readme).toContain('npm start -- --port N');
    expect(readme).not.toMatch(/npm start --port|`--port N` or `PORT=N`/);
  });
});
