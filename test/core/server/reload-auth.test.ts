import { writeFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { loadConfig } from '../../../core/config/load.js';
import { startGateway, type Gateway } from '../../../core/server/gateway.js';
import { startEngine, writeConfig } from './gateway-helpers.js';

// A reload takes the auth: section's keys with the routes they name; the section's presence stays.
describe('reload and auth', () => {
  let engine: SimServer;
  let gw: Gateway;
  let file: string;
  const write = (keys: Array<{ id: string; key: string; models?: string[] }>, admin: string, models = ['m']) => writeFileSync(file, yaml.dump({
    listen: { host: '127.0.0.1', port: 0 },
    auth: { keys, admin_keys: [admin] },
    backends: [{ id: 'e', type: 'vllm', url: engine.url }],
    routes: models.map((model) => ({ model, backends: ['e'] })),
  }));
  const chat = (model: string, key: string) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model, max_tokens: 2, messages: [{ role: 'user', content: 'Hi' }] }),
  }).then((r) => r.status);
  const reload = (admin: string) => fetch(`${gw.url}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } })
    .then(async (r) => ({ status: r.status, body: (await r.json()) as { not_reloaded?: string[] } }));

  beforeAll(async () => {
    engine = await startEngine('vllm', { model: 'm' });
    file = writeConfig({});
    write([{ id: 'team-a', key: 'key-a' }], 'admin-1');
    gw = await startGateway(await loadConfig(file), { port: 0, host: '127.0.0.1', logLevel: 'silent' });
  });
  afterAll(async () => {
    await gw?.drain();
    await engine?.close();
  });

  it('swaps keys and admin keys with the routes, and needs an admin key to be asked', async () => {
    expect(await chat('m', 'key-a')).toBe(200);
    write([{ id: 'team-b', key: 'key-b', models: ['n'] }], 'admin-2', ['m', 'n']);
    expect((await reload('key-a')).status).toBe(401);
    const r = await reload('admin-1');
    expect(r).toMatchObject({ status: 200, body: { not_reloaded: [] } });
    expect(await chat('m', 'key-a')).toBe(401);
    expect(await chat('n', 'key-b')).toBe(200);
    expect(await chat('m', 'key-b')).toBe(404);
    expect((await reload('admin-1')).status).toBe(401);
    // Removing the section waits for a restart, and says so; the keys in effect stay.
    writeFileSync(file, yaml.dump({ listen: { host: '127.0.0.1', port: 0 }, backends: [{ id: 'e', type: 'vllm', url: engine.url }], routes: [{ model: 'n', backends: ['e'] }] }));
    expect(await reload('admin-2')).toMatchObject({ status: 200, body: { not_reloaded: ['auth (adding or removing the section)'] } });
    expect(await chat('n', 'key-b')).toBe(200);
    expect(await chat('n', 'key-a')).toBe(401);
  });

  it('a key a kept-alive connection presented before is checked again after a reload, and another key on it is its own', async () => {
    write([{ id: 'team-c', key: 'key-c-0123' }, { id: 'team-d', key: 'key-d-0123' }], 'admin-3', ['n']);
    expect((await reload('admin-2')).status).toBe(200);
    // One connection for every request below (the gateway keeps the key it last presented).
    const client = new Client(gw.url, { pipelining: 1 });
    let connects = 0;
    client.on('connect', () => connects++);
    const ask = async (key: string) => {
      const res = await client.request({
        path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: 'n', max_tokens: 2, messages: [{ role: 'user', content: 'Hi' }] }),
      });
      await res.body.text();
      return res.statusCode;
    };
    try {
      expect(await ask('key-c-0123')).toBe(200);
      expect(await ask('key-c-0123')).toBe(200);
      // Same length, one character off; then the other key, then the first again.
      expect(await ask('key-c-0124')).toBe(401);
      expect(await ask('key-d-0123')).toBe(200);
      expect(await ask('key-c-0123')).toBe(200);
      write([{ id: 'team-d', key: 'key-d-0123' }], 'admin-3', ['n']);
      expect((await reload('admin-3')).status).toBe(200);
      expect(await ask('key-c-0123')).toBe(401);
      expect(await ask('key-d-0123')).toBe(200);
      expect(connects).toBe(1);
    } finally {
      await client.close();
    }
  });
});
