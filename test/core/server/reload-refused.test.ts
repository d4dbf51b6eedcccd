import { writeFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { loadConfig } from '../../../core/config/load.js';
import type { Backend, BackendPlugin } from '../../../core/plugin/types.js';
import { startGateway, type Gateway } from '../../../core/server/gateway.js';
import vllm from '../../../plugins/vllm/index.js';
import { startEngine, writeConfig } from './gateway-helpers.js';

// A reload is all or nothing: a new backend that fails to start leaves the running set as it was.
describe('a reload whose new backend fails to start', () => {
  let engine: SimServer;
  let gw: Gateway;
  let file: string;
  const closed: string[] = [];
  // vLLM backends, except that one whose id starts with "broken" fails to start (as a plugin does
  // on a config error only it can see).
  const plugin: BackendPlugin = {
    type: 'vllm',
    validate: (options) => vllm.validate(options),
    create: (spec, ctx): Backend => {
      const b = vllm.create(spec, ctx);
      const close = b.close.bind(b);
      b.close = async () => { closed.push(spec.id); await close(); };
      if (spec.id.startsWith('broken')) b.start = () => Promise.reject(new Error(`${spec.id}: the engine's model directory is missing`));
      return b;
    },
  };
  const write = (ids: string[], policy: string) => writeFileSync(file, yaml.dump({
    listen: { host: '127.0.0.1', port: 0 },
    backends: ids.map((id) => ({ id, type: 'vllm', url: engine.url })),
    routes: [{ model: 'm', backends: ids, policy: { type: policy } }],
  }));

  beforeAll(async () => {
    engine = await startEngine('vllm', { model: 'm' });
    file = writeConfig({});
    write(['e'], 'least-load');
    gw = await startGateway(await loadConfig(file), { port: 0, host: '127.0.0.1', logLevel: 'silent', plugins: new Map([['vllm', plugin]]) });
  });
  afterAll(async () => {
    await gw?.drain();
    await engine?.close();
  });

  it('is refused with the error, closes what it started, and changes nothing', async () => {
    const before = gw.backends[0];
    write(['e', 'ok', 'broken'], 'round-robin');
    const res = await fetch(`${gw.url}/admin/reload`, { method: 'POST' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_config' }, errors: ['broken: the engine\'s model directory is missing'] });
    // Both backends it started (the one that started too) are closed.
    expect(closed.sort()).toEqual(['broken', 'ok']);
    expect(gw.backends).toEqual([before]);
    expect(gw.routes.resolve('m')!.policy.type).toBe('least-load');
    const chat = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 2, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(chat.status).toBe(200);
    // Once the config is fixed, the same reload goes through.
    write(['e', 'ok'], 'round-robin');
    expect(await gw.reload()).toMatchObject({ ok: true, summary: { backends: { added: ['ok'], kept: ['e'] } } });
    expect(gw.backends[0]).toBe(before);
  });

  it('is refused with every mistake of an invalid config, each in errors', async () => {
    writeFileSync(file, yaml.dump({
      listen: { host: '127.0.0.1', port: 0 }, workers: 0,
      backends: [{ id: 'e', type: 'vllm', url: engine.url }],
      routes: [{ model: 'm', backends: ['e', 'x'], policy: { type: 'fastest' } }],
    }));
    const res = await fetch(`${gw.url}/admin/reload`, { method: 'POST' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string }; errors: string[] };
    expect(body.error.code).toBe('invalid_config');
    expect(body.errors).toHaveLength(3);
    expect(body.errors[0]).toMatch(/workers: expected an integer from 1 to 256, got 0/);
    expect(body.errors[1]).toMatch(/routes\[0\]\.backends\[1\]: expected a backend id/);
    expect(body.errors[2]).toMatch(/routes\[0\]\.policy\.type: expected one of/);
  });
});
