/**
 * Integration-test fixtures: emulated engines on free loopback ports (bench/sim, in process),
 * a gateway config written to a temp file pointing at them, and the gateway itself on port 0.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { loadConfig } from '../../../core/config/load.js';
import { startGateway, type Gateway } from '../../../core/server/gateway.js';
import { withSimDefaults, type SimOptions } from '../../../bench/sim/options.js';
import { startSim, type SimServer } from '../../../bench/sim/server.js';

export { waitFor } from '../../bench/sim/helpers.js';

export function simProfile(engine: SimOptions['engine']): string {
  return engine === 'trtllm-serve' ? 'a10-qwen2.5-7b-trtllm' : `a10-qwen2.5-7b-${engine}`;
}

export async function startEngine(engine: SimOptions['engine'], extra: Partial<SimOptions> = {}): Promise<SimServer> {
  return startSim(withSimDefaults({
    engine, profile: simProfile(engine), port: 0, timeScale: 50, model: `engine-${engine}`,
    replicaName: `sim-${engine}`, frontendOverheadMs: 0, ...extra,
  }));
}

export function writeConfig(doc: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-test-'));
  const file = path.join(dir, 'gateway.yaml');
  writeFileSync(file, yaml.dump(doc));
  return file;
}

export async function startTestGateway(doc: unknown): Promise<Gateway> {
  const config = await loadConfig(writeConfig(doc));
  return startGateway(config, { port: 0, host: '127.0.0.1', logLevel: 'silent' });
}

/**
 * Two emulated vLLM replicas, `a` and `b`, behind a gateway with these routes. Health checks run
 * rarely, so only the passive path (retries, the breaker) acts on a failing replica.
 */
export async function startReplicaPair(routes: unknown[]): Promise<{ a: SimServer; b: SimServer; gw: Gateway }> {
  const [a, b] = await Promise.all([startEngine('vllm'), startEngine('vllm')]);
  const gw = await startTestGateway({
    listen: { host: '127.0.0.1', port: 0 },
    // The emulator's fault header (X-Return-Error) reaches the engines: tests provoke engine errors with it.
    backends: [{ id: 'a', type: 'vllm', url: a.url, health_interval_ms: 60_000, forward_headers: ['x-return-error'] }, { id: 'b', type: 'vllm', url: b.url, health_interval_ms: 60_000, forward_headers: ['x-return-error'] }],
    routes,
  });
  return { a, b, gw };
}

export interface SseRead {
  status: number;
  headers: Headers;
  events: string[];
}

/** POST and collect the SSE `data:` payloads. */
export async function postSse(url: string, body: unknown, signal?: AbortSignal): Promise<SseRead> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  const text = await res.text();
  const events = text.split('\n\n').map((e) => e.trim()).filter(Boolean).map((e) => e.replace(/^data: ?/, ''));
  return { status: res.status, headers: res.headers, events };
}
