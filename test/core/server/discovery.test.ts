import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { writeFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { loadConfig } from '../../../core/config/load.js';
import { startGateway, type Gateway } from '../../../core/server/gateway.js';
import { DnsResponder } from './dns-responder.js';
import { startEngine, startTestGateway, waitFor, writeConfig } from './gateway-helpers.js';

async function chat(url: string, stream: boolean): Promise<boolean> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', stream, max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] }),
  });
  const text = await res.text();
  return res.status === 200 && (stream ? text.includes('data: [DONE]') && !text.includes('"error"') : text.includes('"choices"'));
}

/** Requests in a loop until stopped; resolves with how many failed of how many. */
function traffic(url: string): { stop(): Promise<{ sent: number; failed: number }> } {
  let running = true;
  let sent = 0;
  let failed = 0;
  const loop = (async () => {
    for (let n = 0; running; n++) {
      sent++;
      if (!(await chat(url, n % 2 === 0).catch(() => false))) failed++;
    }
  })();
  return { stop: async () => { running = false; await loop; return { sent, failed }; } };
}

const ids = (gw: Gateway) => gw.routes.resolve('m')!.backends.map((b) => b.id);

// Replicas of a `discover:` backend from a real DNS server on loopback: joining and leaving
// without a restart, kept through a DNS failure.
describe('discovery', () => {
  let dns: DnsResponder;
  const engines: SimServer[] = [];
  beforeAll(async () => { dns = await DnsResponder.start(); });
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await dns.close();
  });

  it('follows A records: replicas named <id>/<address> join and leave, a failing DNS server keeps them', async () => {
    // Two replicas on one port, on two loopback addresses (all of 127/8 is loopback on Linux).
    const first = await startEngine('vllm', { model: 'm' });
    const second = await startEngine('vllm', { model: 'm', host: '127.0.0.2', port: first.port });
    engines.push(first, second);
    const port = first.port;
    dns.records.set('vllm.test', { a: ['127.0.0.1'] });
    const config = (name: string) => ({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'pool', type: 'vllm', discover: { dns: name, port, interval_ms: 100, servers: [dns.server] }, health_interval_ms: 60_000 }],
      routes: [{ model: 'm', backends: ['pool'], policy: { type: 'round-robin' } }],
    });
    const file = writeConfig(config('vllm.test'));
    const gw = await startGateway(await loadConfig(file), { port: 0, host: '127.0.0.1', logLevel: 'silent' });
    const load = traffic(gw.url);
    try {
      expect(ids(gw)).toEqual([`pool/127.0.0.1:${port}`]);
      expect(gw.backends.map((b) => b.id)).toEqual([`pool/127.0.0.1:${port}`]);

      dns.records.set('vllm.test', { a: ['127.0.0.2', '127.0.0.1'] });
      await waitFor(() => ids(gw).length === 2, 10_000, 20);
      expect(ids(gw)).toEqual([`pool/127.0.0.1:${port}`, `pool/127.0.0.2:${port}`]);
      // Both serve: round-robin reaches the newcomer.
      await waitFor(() => second.engine.snapshot().promptTokens > 0, 10_000, 20);

      // A DNS server that fails keeps the replicas last seen.
      dns.failing = true;
      const asked = dns.queries;
      await waitFor(() => dns.queries >= asked + 6, 10_000, 20);
      expect(ids(gw)).toHaveLength(2);
      dns.failing = false;

      dns.records.set('vllm.test', { a: ['127.0.0.2'] });
      await waitFor(() => ids(gw).length === 1, 10_000, 20);
      expect(ids(gw)).toEqual([`pool/127.0.0.2:${port}`]);
      await waitFor(() => gw.backends.length === 1, 10_000, 20);
      const { sent, failed } = await load.stop();
      process.stdout.write(`discovery test: ${sent} requests while replicas joined and left, ${failed} failed\n`);
      expect(failed).toBe(0);

      // No records at all (a headless service with no ready pod): no replicas, not ready.
      dns.records.delete('vllm.test');
      await waitFor(() => ids(gw).length === 0, 10_000, 20);
      expect((await fetch(`${gw.url}/ready`)).status).toBe(503);
      dns.records.set('vllm.test', { a: ['127.0.0.1'] });
      await waitFor(() => ids(gw).length === 1, 10_000, 20);
      expect((await fetch(`${gw.url}/ready`)).status).toBe(200);

      // A reload that names another DNS name resolves it before the swap.
      dns.records.set('other.test', { a: ['127.0.0.2'] });
      writeFileSync(file, yaml.dump(config('other.test')));
      const outcome = await gw.reload();
      expect(outcome).toMatchObject({ ok: true, summary: { backends: { added: [`pool/127.0.0.2:${port}`], removed: [`pool/127.0.0.1:${port}`] } } });
      expect(ids(gw)).toEqual([`pool/127.0.0.2:${port}`]);
    } finally {
      await load.stop();
      await gw.drain();
    }
  });

  it('follows SRV records: each target address with its own port', async () => {
    const [a, b] = await Promise.all([startEngine('vllm', { model: 'm' }), startEngine('vllm', { model: 'm' })]);
    engines.push(a, b);
    dns.records.set('_http._tcp.vllm.test', { srv: [{ target: 'r1.vllm.test', port: a.port }, { target: 'r2.vllm.test', port: b.port }] });
    dns.records.set('r1.vllm.test', { a: ['127.0.0.1'] });
    dns.records.set('r2.vllm.test', { a: ['127.0.0.1'] });
    const gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'pool', type: 'vllm', discover: { dns: '_http._tcp.vllm.test', interval_ms: 100, servers: [dns.server] }, health_interval_ms: 60_000 }],
      routes: [{ model: 'm', backends: ['pool'] }],
    });
    try {
      const sorted = [a.port, b.port].sort((x, y) => x - y);
      expect(ids(gw)).toEqual(sorted.map((p) => `pool/127.0.0.1:${p}`));
      expect(await chat(gw.url, true)).toBe(true);
      dns.records.set('_http._tcp.vllm.test', { srv: [{ target: 'r2.vllm.test', port: b.port }] });
      await waitFor(() => ids(gw).length === 1, 10_000, 20);
      expect(ids(gw)).toEqual([`pool/127.0.0.1:${b.port}`]);
      expect(await chat(gw.url, false)).toBe(true);
    } finally {
      await gw.drain();
    }
  });
});
