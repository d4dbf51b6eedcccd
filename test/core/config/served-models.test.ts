import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfCommand } from '../../../core/cli/self.js';
import { writeConfig } from '../server/gateway-helpers.js';

function checkConfig(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { command, args } = selfCommand();
  return new Promise((resolve) => {
    execFile(command, [...args, 'check-config', file], (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

// `switchyard check-config` asks each backend's /v1/models whether it serves what its routes send it.
describe('switchyard check-config and the models engines serve', () => {
  let upstream: Server;
  let url: string;
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      if (req.url !== '/v1/models') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'qwen', object: 'model' }] }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

  it('warns about a route whose backend does not serve its model, and says which backends it could not ask', async () => {
    const file = writeConfig({
      backends: [
        { id: 'a', type: 'openai', url, models: ['qwen'] },
        { id: 'b', type: 'openai', url },
        { id: 'down', type: 'openai', url: 'http://127.0.0.1:1', models: ['llama'] },
      ],
      routes: [{ model: 'qwen-public', backends: ['a'] }, { model: 'llama', backends: ['b', 'down'] }],
    });
    const { code, stdout, stderr } = await checkConfig(file);
    expect(code).toBe(0);
    expect(stdout).toMatch(/: ok/);
    expect(stderr).not.toMatch(/backend a /);
    expect(stderr).toMatch(/warning: route llama: backend b does not serve "llama" \(its \/v1\/models lists qwen\)/);
    expect(stderr).toMatch(/warning: backend down: models not checked \(unreachable/);
  });

  it('lists every mistake of an invalid config, one a line, and exits 1', async () => {
    const file = writeConfig({
      workers: 0,
      backends: [{ id: 'a', type: 'openai', url: 'ftp://x' }],
      routes: [{ model: 'm', backends: ['a', 'z'], retries: -1 }],
    });
    const { code, stderr } = await checkConfig(file);
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines[0]).toBe(`switchyard: ${file}: 4 errors`);
    expect(lines.slice(1)).toEqual([
      `  ${file}: (top level).workers: expected an integer from 1 to 256, got 0`,
      `  ${file}: backends[0].url: expected an http:// or https:// URL, got "ftp://x"`,
      `  ${file}: routes[0].backends[1]: expected a backend id (a), got "z"`,
      `  ${file}: routes[0].retries: expected an integer from 0 to 10, got -1`,
    ]);
  });
});

describe('the name an engine gets for a route', () => {
  it('is the route\'s name or a served alias, else the one model of a single-model backend, else the route\'s name (never a guess among several)', async () => {
    const { engineModelName } = await import('../../../core/config/served-models.js');
    expect(engineModelName('m', ['a'], ['x', 'm'])).toBe('m');
    expect(engineModelName('m', ['a', 'b'], ['x', 'b'])).toBe('b');
    expect(engineModelName('m', [], ['Qwen/Qwen2.5-7B'])).toBe('Qwen/Qwen2.5-7B');
    expect(engineModelName('m', [], ['x', 'y'])).toBe('m');
  });
});
