import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseBenchRunArgs, parseSlo, runBenchCli } from '../../../bench/load/cli.js';
import { PERCENTILES } from '../../../bench/load/metrics.js';
import { spawnSim, type SpawnedSim } from '../../../bench/sim/spawn.js';

const BASE = ['--base-url', 'http://127.0.0.1:8000', '--model', 'm'];

describe('bench run flags', () => {
  it('builds closed-loop levels from --concurrency and open-loop levels from --request-rate', () => {
    const closed = parseBenchRunArgs([...BASE, '--concurrency', '1,2,4'], {});
    expect(closed !== 'help' && closed.load.levels).toEqual([1, 2, 4].map((c) => ({ kind: 'closed', concurrency: c })));
    const open = parseBenchRunArgs([...BASE, '--request-rate', '2,inf', '--burstiness', '0.5', '--max-concurrency', '8'], {});
    expect(open !== 'help' && open.load.levels).toEqual([
      { kind: 'open', rate: 2, burstiness: 0.5, maxConcurrency: 8 }, { kind: 'open', rate: Infinity, burstiness: 0.5, maxConcurrency: 8 },
    ]);
    const dflt = parseBenchRunArgs(BASE, { OPENAI_API_KEY: 'k' });
    expect(dflt !== 'help' && dflt.load).toMatchObject({ levels: [{ kind: 'closed', concurrency: 1 }], seed: 0, warmup: 0, target: { headers: { authorization: 'Bearer k' } } });
    expect(parseSlo('ttft=500,tpot=50')).toEqual({ ttft: 500, tpot: 50 });
    expect(parseSlo('ttft:200 e2el:2000')).toEqual({ ttft: 200, e2el: 2000 });
  });

  it.each([
    [['--concurrency', '2'], /--base-url URL is required/],
    [[...BASE, '--concurency', '2'], /Unknown option '--concurency'/],
    [[...BASE, '--concurrency', '1,x'], /--concurrency: expected an integer ≥ 1, got "x"/],
    [[...BASE, '--concurrency', '2', '--request-rate', '3'], /cannot be combined/],
    [[...BASE, '--burstiness', '2'], /give --request-rate too/],
    [[...BASE, '--request-rate', '0'], /--request-rate: expected a positive number or inf/],
    [[...BASE, '--slo', 'ttft=fast'], /--slo: expected a positive number/],
    [[...BASE, '--slo', 'latency=5'], /--slo: expected ttft=MS/],
    [[...BASE, '--workload', 'fixed', '--random-input-len', '5'], /--random-input-len belongs to --workload random/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseBenchRunArgs(argv, {})).toThrow(message);
  });

  it('exits 2 with the reason on stderr for bad flags', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await runBenchCli([...BASE, '--num-prompts', '0'])).toBe(2);
      expect(String(err.mock.calls[0][0])).toMatch(/--num-prompts: expected an integer ≥ 1/);
    } finally {
      err.mockRestore();
    }
  });
});

describe('bench run end to end against an emulated vLLM replica', () => {
  let sim: SpawnedSim;

  beforeAll(async () => {
    sim = await spawnSim(['--engine', 'vllm', '--profile', 'a10-qwen2.5-7b-vllm', '--port', '0', '--time-scale', '50']);
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('sweeps two concurrency levels and writes vLLM-style JSON and an HTML report', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sy-bench-run-'));
    const json = path.join(dir, 'out.json');
    const report = path.join(dir, 'report');
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await runBenchCli(['--base-url', sim.url, '--model', 'Qwen/Qwen2.5-7B-Instruct', '--workload', 'random', '--random-input-len', '128',
        '--random-output-len', '16', '--concurrency', '1,2', '--num-prompts', '8', '--warmup', '1', '--seed', '3', '--slo', 'ttft=2000,tpot=200',
        '--json', json, '--report', report]);
    } finally {
      out.mockRestore();
    }
    expect(code).toBe(0);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as Array<Record<string, unknown>>;
    expect(doc).toHaveLength(2);
    const keys = ['date', 'backend', 'model_id', 'num_prompts', 'request_rate', 'burstiness', 'max_concurrency', 'duration', 'completed', 'failed',
      'total_input_tokens', 'total_output_tokens', 'request_throughput', 'request_goodput', 'output_throughput', 'total_token_throughput',
      'max_output_tokens_per_s', 'max_concurrent_requests', 'switchyard_backend_share', 'switchyard_imbalance', 'switchyard_shed',
      'switchyard_errors_by_status', 'switchyard_cached_tokens', 'switchyard_kv_hit_rate', 'switchyard_git_sha', 'switchyard_seed', 'switchyard_workload_params'];
    for (const metric of ['ttft', 'tpot', 'itl', 'e2el']) {
      keys.push(`mean_${metric}_ms`, `median_${metric}_ms`, `std_${metric}_ms`, ...PERCENTILES.map((p) => `p${p}_${metric}_ms`));
    }
    for (const entry of doc) for (const key of keys) expect(entry, key).toHaveProperty([key]);
    expect(doc.map((e) => e.max_concurrency)).toEqual([1, 2]);
    expect(doc.map((e) => e.completed)).toEqual([8, 8]);
    expect(doc[0]).toMatchObject({ model_id: 'Qwen/Qwen2.5-7B-Instruct', num_prompts: 8, failed: 0, switchyard_shed: 0, switchyard_seed: 3 });
    expect(doc[0].total_output_tokens).toBe(8 * 16);
    expect(doc[0]['p99.9_ttft_ms']).toBeGreaterThan(0);
    const html = readFileSync(path.join(report, 'index.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script|https?:\/\/cdn/);
    expect(JSON.parse(readFileSync(path.join(report, 'results.json'), 'utf8'))).toEqual(doc);
  });
});
