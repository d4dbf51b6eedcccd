import { writeFileSync } from 'node:fs';
import { get } from 'node:http';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../bench/sim/server.js';
import { spawnSelf, type SpawnedSelf } from '../../../core/cli/self.js';
import { startEngine, waitFor, writeConfig } from './gateway-helpers.js';

/** A steady stream of requests, streamed and not, from `workers` loops, counting what happens. */
class Traffic {
  started = 0;
  completed = 0;
  failed = 0;
  inFlight = 0;
  readonly failures: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(private readonly url: string, workers: number) {
    this.loops = Array.from({ length: workers }, (_, i) => this.loop(i));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(worker: number): Promise<void> {
    for (let n = 0; this.running; n++) {
      const stream = (worker + n) % 2 === 0;
      // A shared system prompt: the kept backends' prefix indexes fill.
      const body = {
        model: 'm', stream, max_tokens: 24,
        messages: [{ role: 'system', content: 'You answer questions about the switchyard gateway. '.repeat(20) }, { role: 'user', content: `question ${worker}-${n}` }],
      };
      this.started++;
      this.inFlight++;
      try {
        const res = await fetch(`${this.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        const text = await res.text();
        const ok = res.status === 200 && (stream ? text.includes('data: [DONE]') && !text.includes('"error"') : (JSON.parse(text) as { choices?: unknown[] }).choices?.length === 1);
        if (ok) this.completed++;
        else this.fail(`${res.status} ${text.slice(0, 300)}`);
      } catch (err) {
        this.fail(String(err));
      } finally {
        this.inFlight--;
      }
    }
  }

  private fail(what: string): void {
    this.failed++;
    this.failures.push(what);
  }
}

/** GET on a connection of its own: with workers, successive calls reach different workers. */
function getFresh(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

interface RoutingView {
  backends: Array<{ id: string; health: { since: number }; prefix_index: { chunks: number }; latency_model: { ttft: { samples: number } } }>;
}

// The gateway as its own process (the CLI), reloaded under load: backends added and removed, a
// policy changed, an invalid config refused; by POST /admin/reload and by SIGHUP.
describe('hot reload', () => {
  const engines: Record<string, SimServer> = {};
  let file: string;
  let gw: SpawnedSelf;
  let log = '';

  const backend = (id: string) => ({ id, type: 'vllm', url: engines[id]!.url, health_interval_ms: 60_000 });
  const write = (backends: string[], policy: string, extra: Record<string, unknown> = {}) => {
    writeFileSync(file, yaml.dump({
      listen: { host: '127.0.0.1', port: 0 },
      backends: backends.map(backend),
      routes: [{ model: 'm', backends, policy: { type: policy } }],
      ...extra,
    }));
  };
  const routing = async () => (await (await fetch(`${gw.url}/admin/routing`)).json()) as RoutingView;
  const reload = async () => {
    const res = await fetch(`${gw.url}/admin/reload`, { method: 'POST' });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { backends: Record<string, string[]>; in_flight_at_swap: number; errors: string[] } };
  };

  beforeAll(async () => {
    // Requests that last tens of milliseconds, so that some are always in flight at a swap.
    for (const id of ['a', 'b', 'c']) engines[id] = await startEngine('vllm', { timeScale: 4, model: 'm', replicaName: `sim-${id}` });
    file = writeConfig({});
    write(['a', 'b'], 'least-load');
    gw = await spawnSelf(['serve', '--config', file], { env: { SWITCHYARD_LOG_LEVEL: 'info' }, timeoutMs: 60_000 });
    gw.child.stdout!.on('data', (d: Buffer) => { log += d.toString(); });
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all(Object.values(engines).map((e) => e.close()));
  });

  it('swaps backends and routes under load with no failed request, keeps what kept backends learned, refuses an invalid config', async () => {
    const traffic = new Traffic(gw.url, 6);
    const swaps: Array<{ step: string; clientInFlight: number; gatewayInFlight: number }> = [];
    // Some traffic on the new set before the next step.
    const settle = async () => {
      const done = traffic.completed;
      await waitFor(() => traffic.completed >= done + 24, 30_000, 20);
    };
    try {
      // b has learned something: a fitted latency model and prefix chunks.
      await waitFor(async () => {
        const b = (await routing()).backends.find((x) => x.id === 'b')!;
        return b.latency_model.ttft.samples > 0 && b.prefix_index.chunks > 0;
      }, 30_000, 100);
      const before = (await routing()).backends.find((b) => b.id === 'b')!;
      const cSince = () => routing().then((v) => v.backends.find((b) => b.id === 'c')?.health.since);

      // 1. Add a backend.
      write(['a', 'b', 'c'], 'least-load');
      let clientInFlight = traffic.inFlight;
      let r = await reload();
      expect(r.status).toBe(200);
      expect(r.body.backends).toEqual({ added: ['c'], replaced: [], removed: [], kept: ['a', 'b'] });
      swaps.push({ step: 'add c (POST)', clientInFlight, gatewayInFlight: r.body.in_flight_at_swap });
      await settle();
      await waitFor(async () => (await routing()).backends.find((b) => b.id === 'c')!.prefix_index.chunks > 0, 30_000, 100);

      // 2. Change the route's policy: the route is rebuilt over the same backend objects.
      write(['a', 'b', 'c'], 'round-robin');
      clientInFlight = traffic.inFlight;
      r = await reload();
      expect(r.status).toBe(200);
      expect(r.body.backends).toEqual({ added: [], replaced: [], removed: [], kept: ['a', 'b', 'c'] });
      expect(r.body.routes).toEqual([{ model: 'm', backends: ['a', 'b', 'c'], policy: 'round-robin', rebuilt: true }]);
      swaps.push({ step: 'policy → round-robin (POST)', clientInFlight, gatewayInFlight: r.body.in_flight_at_swap });
      await settle();

      // 3. An invalid config is refused with its error; the old one keeps serving.
      writeFileSync(file, yaml.dump({ listen: { host: '127.0.0.1', port: 0 }, backends: [backend('a')], routes: [{ model: 'm', backends: ['a', 'x'], policy: { type: 'fastest' } }] }));
      r = await reload();
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: { code: 'invalid_config' } });
      expect(r.body.errors.join('\n')).toMatch(/routes\[0\]\.backends\[1\]: expected a backend id/);
      expect((await routing()).backends.map((b) => b.id)).toEqual(['a', 'b', 'c']);
      expect(log).toMatch(/config reload refused/);
      await settle();

      // 4. Remove a backend, by SIGHUP.
      write(['b', 'c'], 'round-robin');
      clientInFlight = traffic.inFlight;
      gw.child.kill('SIGHUP');
      await waitFor(() => /"removed":\["a"\]/.test(log), 30_000, 50);
      const line = log.split('\n').find((l) => l.includes('"removed":["a"]'))!;
      swaps.push({ step: 'remove a (SIGHUP)', clientInFlight, gatewayInFlight: (JSON.parse(line) as { inFlightAtSwap: number }).inFlightAtSwap });
      expect((await routing()).backends.map((b) => b.id)).toEqual(['b', 'c']);
      // a closes once the requests in flight at the swap are done.
      await waitFor(() => /backends a reload removed or replaced are closed/.test(log), 30_000, 50);
      await settle();

      // 5. Change a backend's section: it is replaced under the same id; b stays as it was.
      writeFileSync(file, yaml.dump({
        listen: { host: '127.0.0.1', port: 0 },
        backends: [backend('b'), { ...backend('c'), labels: { zone: 'z2' } }],
        routes: [{ model: 'm', backends: ['b', 'c'], policy: { type: 'round-robin' } }],
      }));
      const cBefore = await cSince();
      clientInFlight = traffic.inFlight;
      r = await reload();
      expect(r.status).toBe(200);
      expect(r.body.backends).toEqual({ added: [], replaced: ['c'], removed: [], kept: ['b'] });
      // A new object with its own health checks (its `since` is its own start).
      expect(await cSince()).toBeGreaterThan(cBefore!);
      swaps.push({ step: 'replace c (POST)', clientInFlight, gatewayInFlight: r.body.in_flight_at_swap });

      // b, kept through every reload, is the same object (its health checks' `since` unchanged) and
      // kept its fitted latency model and its prefix index.
      const after = (await routing()).backends.find((b) => b.id === 'b')!;
      expect(after.health.since).toBe(before.health.since);
      expect(after.latency_model.ttft.samples).toBeGreaterThanOrEqual(before.latency_model.ttft.samples);
      expect(after.prefix_index.chunks).toBeGreaterThanOrEqual(before.prefix_index.chunks);
      await settle();
    } finally {
      await traffic.stop();
    }
    const figures = { started: traffic.started, completed: traffic.completed, failed: traffic.failed, swaps };
    process.stdout.write(`reload test figures: ${JSON.stringify(figures, null, 1)}\n`);
    expect(traffic.failures).toEqual([]);
    expect(traffic.failed).toBe(0);
    expect(swaps.every((s) => s.gatewayInFlight > 0)).toBe(true);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_backend_healthy\{backend="c"/);
    expect(metrics).not.toMatch(/switchyard_backend_healthy\{backend="a"/);
  });

  it('with workers: reloads every worker, on SIGHUP to the primary and on POST to one worker', async () => {
    const own = writeConfig({});
    const config = (ids: string[]) => writeFileSync(own, yaml.dump({
      listen: { host: '127.0.0.1', port: 0 }, workers: 2, backends: ids.map(backend), routes: [{ model: 'm', backends: ids }],
    }));
    config(['a']);
    const cluster = await spawnSelf(['serve', '--config', own], { env: { SWITCHYARD_LOG_LEVEL: 'warn' }, timeoutMs: 60_000 });
    // What every worker serves: eight requests on eight connections (the primary deals them round-robin).
    const served = async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const models = JSON.parse(await getFresh(`${cluster.url}/v1/models`)) as { data: Array<{ switchyard: { backends: string[] } }> };
        seen.add(models.data[0]!.switchyard.backends.join(','));
      }
      return [...seen];
    };
    try {
      expect(await served()).toEqual(['a']);
      config(['a', 'b']);
      const res = await fetch(`${cluster.url}/admin/reload`, { method: 'POST' });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { backends: { added: string[] } }).backends.added).toEqual(['b']);
      await waitFor(async () => (await served()).join(' ') === 'a,b', 30_000, 100);
      config(['b']);
      cluster.child.kill('SIGHUP');
      await waitFor(async () => (await served()).join(' ') === 'b', 30_000, 100);
    } finally {
      await cluster.stop();
    }
  });
});
