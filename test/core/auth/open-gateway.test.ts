import { spawn } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { selfCommand } from '../../../core/cli/self.js';
import { startEngine, writeConfig } from '../server/gateway-helpers.js';

// A config without an auth: section: the gateway serves, on loopback only, and says it is open.
describe('a gateway without auth', () => {
  let engine: SimServer;
  beforeAll(async () => { engine = await startEngine('vllm'); });
  afterAll(async () => { await engine?.close(); });

  it('binds 127.0.0.1 by default and warns at start that anyone who reaches it may use it', async () => {
    const file = writeConfig({ listen: { port: 0 }, backends: [{ id: 'e', type: 'vllm', url: engine.url }], routes: [{ model: 'm', backends: ['e'] }] });
    const { command, args } = selfCommand();
    const child = spawn(command, [...args, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SWITCHYARD_LOG_LEVEL: 'warn', SWITCHYARD_PARENT_PID: String(process.pid) } });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 30_000);
        // The warning is logged once the server listens, after the "listening on" line: wait for both.
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m && /open to anyone/.test(out)) { clearTimeout(timer); resolve(m[1]!); }
        });
      });
      const warning = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; host: string })
        .find((l) => /open to anyone/.test(l.msg));
      expect(warning).toMatchObject({ level: 40, host: '127.0.0.1' });
      expect(warning!.msg).toMatch(/no auth: section: every model, \/admin and \/metrics are open/);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 }),
      });
      expect(res.status).toBe(200);
      // Not reachable on another interface of this machine.
      const port = new URL(url).port;
      const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
      if (external) await expect(fetch(`http://${external.address}:${port}/health`)).rejects.toThrow();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
