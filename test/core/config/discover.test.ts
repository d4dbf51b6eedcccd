import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandRoutes, replicaSpec } from '../../../core/config/discover.js';
import { loadConfig } from '../../../core/config/load.js';

function file(text: string): string {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'switchyard-discover-')), 'gateway.yaml');
  writeFileSync(f, text);
  return f;
}

const config = (backend: string, routes = '  - { model: m, backends: [pool] }') => `
backends:
  - ${backend}
routes:
${routes}
`;

describe('discover: config', () => {
  it('reads a discovered backend, its kv_events endpoint naming the replica as {host}', async () => {
    const c = await loadConfig(file(config(`{ id: pool, type: vllm, models: [m], discover: { dns: vllm.default.svc.cluster.local, port: 8000 }, kv_events: { endpoint: "tcp://{host}:5557" } }`)));
    expect(c.backends).toEqual([]);
    expect(c.discovered).toHaveLength(1);
    const d = c.discovered[0]!;
    expect(d.discover).toEqual({ dns: 'vllm.default.svc.cluster.local', records: 'a', port: 8000, scheme: 'http', intervalMs: 5000, servers: undefined });
    expect(replicaSpec(d, { host: '10.1.2.3', port: 8000 })).toMatchObject({
      id: 'pool/10.1.2.3:8000', url: 'http://10.1.2.3:8000', models: ['m'], options: { kv_events: { endpoint: 'tcp://10.1.2.3:5557' } },
    });
    expect(replicaSpec(d, { host: 'fd00::7', port: 8000 })).toMatchObject({
      id: 'pool/[fd00::7]:8000', url: 'http://[fd00::7]:8000', options: { kv_events: { endpoint: 'tcp://[fd00::7]:5557' } },
    });
  });

  it('takes SRV records for a name that starts with _ (their ports), and DNS servers of its own', async () => {
    const c = await loadConfig(file(config(`{ id: pool, type: vllm, discover: { dns: _http._tcp.vllm, servers: ["127.0.0.1:5353", "10.0.0.10", "[::1]:53"], interval_ms: 1000 } }`)));
    expect(c.discovered[0]!.discover).toMatchObject({ records: 'srv', port: undefined, intervalMs: 1000, servers: ['127.0.0.1:5353', '10.0.0.10', '[::1]:53'] });
  });

  it.each([
    [`{ id: pool, type: vllm, discover: { dns: vllm } }`, /backends\[0\]\.discover\.port: expected the replicas' port/],
    [`{ id: pool, type: vllm, url: "http://x:1", discover: { dns: vllm, port: 80 } }`, /backends\[0\]\.url: expected no url beside discover:/],
    [`{ id: pool, type: vllm, discover: { dns: vllm, port: 80, servers: [dns.local] } }`, /backends\[0\]\.discover\.servers\[0\]: expected an IP address/],
    [`{ id: pool, type: vllm, discover: { dns: vllm, port: 80, interval: 5 } }`, /backends\[0\]\.discover\.interval: expected one of the keys/],
    [`{ id: pool, type: vllm, discover: { dns: vllm, port: 80 }, kv_events: { endpoint: "tcp://*:5557" } }`, /kv_events\.endpoint/],
  ])('refuses %s', async (backend, message) => {
    await expect(loadConfig(file(config(backend)))).rejects.toThrow(message);
  });

  it('gives routes that name a discovered backend its replicas, in every arm and shadow', () => {
    const route = {
      model: 'm', aliases: [], backends: ['pool', 'fixed'], arms: [{ name: 'x', backends: ['pool'], weight: 1 }, { name: 'y', backends: ['fixed'], weight: 1 }],
      shadow: { backends: ['pool'], fraction: 0.1 }, policy: { type: 'least-load', options: {} }, retries: 1, timeouts: { firstTokenMs: 1, stallMs: 1, totalMs: 1 },
    };
    const [out] = expandRoutes([route], new Map([['pool', ['pool/10.0.0.1:80', 'pool/10.0.0.2:80']]]));
    expect(out!.backends).toEqual(['pool/10.0.0.1:80', 'pool/10.0.0.2:80', 'fixed']);
    expect(out!.arms.map((a) => a.backends)).toEqual([['pool/10.0.0.1:80', 'pool/10.0.0.2:80'], ['fixed']]);
    expect(out!.shadow!.backends).toEqual(['pool/10.0.0.1:80', 'pool/10.0.0.2:80']);
  });
});
