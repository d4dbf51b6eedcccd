import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScenarioCli } from '../../../bench/scenarios/cli.js';

type Json = Record<string, any>;

// Every scenario end to end in its --quick form: real gateway and replica processes, a few
// seconds each. Correctness of the numbers is tested in test/bench/load; here, that each scenario
// runs, writes its JSON and report, and reports what it promises.
describe('bench scenarios (--quick)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-scenarios-'));

  it('routing', async () => {
    const json = path.join(dir, 'routing.json');
    expect(await runScenarioCli(['routing', '--quick', '--json', json, '--report', path.join(dir, 'routing')])).toBe(0);
    const out = JSON.parse(readFileSync(json, 'utf8')) as Json;
    expect(out.results.map((r: Json) => r.policy)).toEqual(['round-robin', 'prefix-affinity']);
    for (const r of out.results) {
      expect(r.completed).toBeGreaterThan(0);
      expect(r.prefix_hit_rate).toBeGreaterThanOrEqual(0);
    }
    expect(out.oracleHitRate).toBeGreaterThan(0);
    expect(readFileSync(path.join(dir, 'routing', 'index.html'), 'utf8')).toContain('<svg');
  }, 120_000);

  it('engines-ab', async () => {
    const json = path.join(dir, 'engines-ab.json');
    expect(await runScenarioCli(['engines-ab', '--quick', '--json', json, '--report', path.join(dir, 'engines-ab')])).toBe(0);
    const out = JSON.parse(readFileSync(json, 'utf8')) as Json;
    const t = out.tables[0];
    expect(t.table).toBe('a10-qwen2.5-7b-short');
    expect(Object.keys(t.measured)).toEqual(['vllm', 'trtllm']);
    expect(t.measured.vllm.gateway).toHaveLength(2);
    // The A/B route served both arms at every level, and its /admin/ab report compares them.
    for (const arm of ['vllm', 'trtllm']) for (const v of t.measured[arm].ab) expect(v).toBeGreaterThan(0);
    for (const r of t.ab_reports) {
      expect(r.arms.map((a: Json) => a.name).sort()).toEqual(['trtllm', 'vllm']);
      expect(r.comparisons[0]).toMatchObject({ baseline: expect.any(String), arm: expect.any(String) });
    }
    expect((readFileSync(path.join(dir, 'engines-ab', 'index.html'), 'utf8').match(/<svg/g) ?? []).length).toBe(2);
    expect(out.worst_error_pct).toBeGreaterThanOrEqual(0);
    // The Triton arm: the same profile through the trtllm-serve face, the Triton face and in
    // process, one gateway, every level served on each.
    const triton = out.tables.find((x: Json) => x.triton_arm !== undefined)?.triton_arm;
    expect(Object.keys(triton.arms)).toHaveLength(3);
    for (const arm of Object.values(triton.arms) as Json[]) {
      expect(arm.tokens_per_s).toHaveLength(triton.concurrency.length);
      for (const v of arm.tokens_per_s) expect(v).toBeGreaterThan(0);
    }
  }, 120_000);

  it('slo-capacity', async () => {
    const json = path.join(dir, 'slo.json');
    expect(await runScenarioCli(['slo-capacity', '--quick', '--json', json])).toBe(0);
    const out = JSON.parse(readFileSync(json, 'utf8')) as Json;
    expect(out.arms.map((a: Json) => a.arm)).toEqual(['vllm', 'trtllm']);
    for (const a of out.arms) {
      expect(a.probes.length).toBeGreaterThan(0);
      expect(a.capacity).toBeGreaterThanOrEqual(0);
    }
  }, 120_000);

  it('overhead', async () => {
    const json = path.join(dir, 'overhead.json');
    expect(await runScenarioCli(['overhead', '--quick', '--json', json, '--report', path.join(dir, 'overhead')])).toBe(0);
    const out = JSON.parse(readFileSync(json, 'utf8')) as Json;
    const rows = new Map<string, Json>(out.rows.map((r: Json) => [r.name, r]));
    // nginx rows need nginx installed (.ci/run installs it); every other row runs anywhere.
    // The tenants rows send a key checked against limits, in memory and in a redis-server of the run's own (.ci/run installs it).
    for (const name of [
      'direct', 'node floor (1 process)', 'node floor (2 processes)', 'switchyard (workers: 1)', 'switchyard (workers: 2)',
      'node floor + key, limits, prefix-affinity, metrics (1 process)',
      'switchyard + key, limits (memory), prefix-affinity (workers: 1)', 'switchyard + key, limits (redis), prefix-affinity (workers: 1)',
    ]) {
      const row = rows.get(name)!;
      expect(row.skipped, name).toBeUndefined();
      expect(row.load.rps, name).toBeGreaterThan(0);
      expect(row.load.non2xx + row.load.errors, name).toBe(0);
    }
    const header = rows.get('switchyard (workers: 1)')!.overheadHeader;
    expect(header.samples).toBe(200);
    expect(rows.get('switchyard + key, limits (redis), prefix-affinity (workers: 1)')!.overheadHeader.samples).toBe(200);
    expect(header.p50Ms).toBeGreaterThan(0);
    const html = readFileSync(path.join(dir, 'overhead', 'index.html'), 'utf8');
    expect(html).toContain('switchyard (workers: 1)');
    expect(html).toContain('<svg');
  }, 180_000);

  it('in-process', async () => {
    const json = path.join(dir, 'in-process.json');
    expect(await runScenarioCli(['in-process', '--quick', '--json', json, '--report', path.join(dir, 'in-process')])).toBe(0);
    const out = JSON.parse(readFileSync(json, 'utf8')) as Json;
    expect(out.levels.map((l: Json) => l.concurrency)).toEqual([1, 4]);
    for (const l of out.levels) {
      expect(l.in_process.tokS).toBeGreaterThan(0);
      expect(l.over_http.tokS).toBeGreaterThan(0);
    }
    expect(existsSync(path.join(dir, 'in-process', 'index.html'))).toBe(true);
  }, 120_000);
});
