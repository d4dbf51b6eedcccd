/**
 * conf/grafana/switchyard.json queries only series the gateway exports: a real gateway in front of
 * emulated engines serves a little traffic (a prefix-affinity route and an A/B route), and every
 * metric name in every panel's and variable's PromQL must be one its /metrics page declares — a
 * histogram's `_bucket`, `_sum` and `_count` series by the histogram's own name.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../bench/sim/server.js';
import type { Gateway } from '../../core/server/gateway.js';
import { startEngine, startTestGateway } from '../core/server/gateway-helpers.js';

const DASHBOARD = path.join(import.meta.dirname, '..', '..', 'conf', 'grafana', 'switchyard.json');

interface Target { expr: string; refId: string; datasource?: { uid?: string } }
interface Panel { type: string; title: string; datasource?: { type?: string; uid?: string }; targets?: Target[]; gridPos?: unknown }
interface Variable { name: string; type: string; query?: unknown; definition?: string }
interface Dashboard { uid: string; title: string; panels: Panel[]; templating: { list: Variable[] } }

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** Metric name → Prometheus type, from the `# TYPE` lines (present before any observation). */
function exportedTypes(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1], m[2]);
  return types;
}

/** Whether a series name a query uses is exported: as itself, or as a histogram's or summary's part. */
function isExported(name: string, types: Map<string, string>): boolean {
  if (types.has(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (!m) return false;
  const type = types.get(m[1]);
  return type === 'histogram' || (type === 'summary' && m[2] !== 'bucket');
}

const namesIn = (expr: string) => [...new Set(expr.match(/\bswitchyard_\w+/g) ?? [])];

const panels = dashboard.panels.filter((p) => p.type !== 'row');
const variableQueries = dashboard.templating.list.filter((v) => v.type === 'query').map((v) => v.definition ?? JSON.stringify(v.query));

describe('the Grafana dashboard', () => {
  let engines: SimServer[];
  let gw: Gateway;
  let types: Map<string, string>;
  let metricsText: string;

  beforeAll(async () => {
    engines = await Promise.all([startEngine('vllm', { enablePromptTokensDetails: true }), startEngine('vllm', { enablePromptTokensDetails: true }), startEngine('trtllm-serve')]);
    gw = await startTestGateway({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [
        { id: 'vllm-a', type: 'vllm', url: engines[0].url },
        { id: 'vllm-b', type: 'vllm', url: engines[1].url },
        { id: 'trt', type: 'trtllm-serve', url: engines[2].url },
      ],
      routes: [
        { model: 'qwen', backends: ['vllm-a', 'vllm-b'], policy: { type: 'prefix-affinity' } },
        { model: 'qwen-ab', arms: [{ name: 'vllm', backends: ['vllm-a'], weight: 1 }, { name: 'trt', backends: ['trt'], weight: 1 }] },
      ],
    });
    const system = 'You are a careful assistant. '.repeat(40);
    for (const [i, model] of ['qwen', 'qwen', 'qwen', 'qwen-ab', 'qwen-ab', 'qwen-ab', 'qwen-ab', 'no-such-model'].entries()) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'system', content: system }, { role: 'user', content: `question ${i}` }], max_tokens: 4, stream: true }),
      });
      await res.text();
    }
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    metricsText = await res.text();
    types = exportedTypes(metricsText);
  });
  afterAll(async () => {
    await gw?.drain();
    await Promise.all((engines ?? []).map((e) => e.close()));
  });

  it('has panels with queries on the datasource variable, and model and backend variables', () => {
    expect(dashboard.uid).toBe('switchyard-gateway');
    expect(panels.length).toBeGreaterThan(10);
    const names = dashboard.templating.list.map((v) => `${v.name}:${v.type}`);
    expect(names).toEqual(expect.arrayContaining(['datasource:datasource', 'model:query', 'backend:query']));
    for (const p of panels) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.gridPos, p.title).toBeDefined();
      for (const t of p.targets ?? []) expect(namesIn(t.expr).length, `${p.title} ${t.refId}`).toBeGreaterThan(0);
    }
  });

  it('queries only metrics the gateway exports', () => {
    const missing: string[] = [];
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        for (const name of namesIn(t.expr)) if (!isExported(name, types)) missing.push(`${p.title}: ${name}`);
      }
    }
    for (const q of variableQueries) for (const name of namesIn(q)) if (!isExported(name, types)) missing.push(`variable: ${name}`);
    expect(missing).toEqual([]);
  });

  it('covers every switchyard_ series family the gateway exports, except per-key ones', () => {
    const family = (name: string) => {
      const m = /^(.*)_(bucket|sum|count)$/.exec(name);
      return m && types.get(m[1]) === 'histogram' ? m[1] : name;
    };
    const queried = new Set(panels.flatMap((p) => (p.targets ?? []).flatMap((t) => namesIn(t.expr))).map(family));
    const unqueried = [...types.keys()].filter((n) => n.startsWith('switchyard_') && !queried.has(n)
      // per-key usage exists only with an auth: section (a key id label), not in this config
      && !/^switchyard_(key_|rate_limited|limit_store)/.test(n));
    expect(unqueried).toEqual([]);
  });

  // Regression: collectDefaultMetrics' prefix doubled the name (switchyard_process_process_cpu_seconds_total).
  it('exports Node\'s process metrics under their standard names, as stock Node dashboards query them', () => {
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) expect(types.has(name), name).toBe(true);
    expect([...types.keys()].filter((n) => n.includes('process_process_') || n.startsWith('switchyard_process_') || n.startsWith('switchyard_nodejs_'))).toEqual([]);
  });

  // A scrape at 10,000 connections held the event loop 30 ms listing every descriptor and handle.
  it('counts open descriptors off the event loop and exports no per-handle listing', () => {
    if (process.platform !== 'linux') return;
    const fds = Number(/^process_open_fds (\d+)$/m.exec(metricsText)?.[1]);
    expect(fds).toBeGreaterThan(3);
    expect(fds).toBeLessThan(100_000);
    expect([...types.keys()].filter((n) => n.startsWith('nodejs_active_handles') || n.startsWith('nodejs_active_resources'))).toEqual([]);
  });

  it('sees the traffic in the series its main panels use', () => {
    for (const series of ['switchyard_requests_total{', 'switchyard_time_to_first_token_seconds_bucket{', 'switchyard_routing_decisions_total{',
      'switchyard_arm_requests_total{', 'switchyard_backend_healthy{']) {
      expect(metricsText, series).toContain(series);
    }
  });

  it('tells histogram parts from names that merely end like them', () => {
    const t = new Map([['a_seconds', 'histogram'], ['b_count', 'counter'], ['c', 'summary']]);
    expect(isExported('a_seconds_bucket', t)).toBe(true);
    expect(isExported('a_seconds_count', t)).toBe(true);
    expect(isExported('b_count', t)).toBe(true);
    expect(isExported('b', t)).toBe(false);
    expect(isExported('c_bucket', t)).toBe(false);
    expect(isExported('c_sum', t)).toBe(true);
    expect(isExported('a_seconds', t)).toBe(true);
  });
});
