/**
 * `switchyard bench scenario slo-capacity`: for each engine arm, the highest Poisson request rate
 * that keeps p90 TTFT ≤ --ttft and mean TPOT ≤ --tpot (model ms), found by search — "which engine
 * serves more under my SLO", answered automatically. Each arm is one emulated replica behind the
 * gateway; the search doubles the rate until the SLO breaks, then bisects.
 */
import { writeFileSync } from 'node:fs';
import { defineCommand, parseCommandLine } from '../../core/cli/args.js';
import { Tokenizer } from '../../core/tokenizer/tokenizer.js';
import { freePort, startFleet } from '../fleet.js';
import { runLoad } from '../load/runner.js';
import { fmt, table, writeReport } from './common.js';

const ARMS: Record<string, { face: 'vllm' | 'trtllm-serve' | 'lmdeploy'; profile: string }> = {
  vllm: { face: 'vllm', profile: 'a10-qwen2.5-7b-vllm' },
  trtllm: { face: 'trtllm-serve', profile: 'a10-qwen2.5-7b-trtllm' },
  lmdeploy: { face: 'lmdeploy', profile: 'a10-qwen2.5-7b-lmdeploy' },
};

interface Probe { rate: number; p90TtftMs: number; meanTpotMs: number; tokS: number; ok: boolean }

const SPEC = defineCommand({
  command: 'switchyard bench scenario slo-capacity',
  usage: `usage: switchyard bench scenario slo-capacity [options]

Per engine arm, the highest Poisson request rate that keeps p90 TTFT ≤ --ttft and mean TPOT ≤
--tpot (model ms), found by doubling then bisecting.

options:
  --quick                  3 probes of 12 prompts, 256 input and 16 output tokens
  --arms A,…               of ${Object.keys(ARMS).join(', ')} (default vllm,trtllm)
  --ttft MS                p90 TTFT limit, model ms (default 1000)
  --tpot MS                mean TPOT limit, model ms (default 60)
  --input-len N            prompt tokens (default 1024)
  --output-len N           output tokens (default 128)
  --probes N               rates tried per arm (default 8)
  --prompts-per-probe N    (default 64)
  --time-scale X           model time runs X times faster than real time (default 10; --quick 20)
  --json FILE              results as JSON
  --report DIR             DIR/index.html with charts, and DIR/results.json
  -h, --help               this text`,
  options: {
    quick: { type: 'boolean', default: false }, json: { type: 'string' }, report: { type: 'string' },
    arms: { type: 'string', default: 'vllm,trtllm' }, ttft: { type: 'string', default: '1000' }, tpot: { type: 'string', default: '60' },
    'input-len': { type: 'string', default: '1024' }, 'output-len': { type: 'string', default: '128' },
    'time-scale': { type: 'string' }, probes: { type: 'string' }, 'prompts-per-probe': { type: 'string' },
  },
});

export async function runSloCapacityScenario(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(SPEC, argv);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const quick = values.quick!;
  const timeScale = Number(values['time-scale'] ?? (quick ? 20 : 10));
  const ttft = Number(values.ttft);
  const tpot = Number(values.tpot);
  const inputLen = quick ? 256 : Number(values['input-len']);
  const outputLen = quick ? 16 : Number(values['output-len']);
  const maxProbes = Number(values.probes ?? (quick ? 3 : 8));
  const perProbe = Number(values['prompts-per-probe'] ?? (quick ? 12 : 64));
  const arms = values.arms!.split(',');
  const tokenizer = Tokenizer.qwenDefault();
  const results: Array<{ arm: string; capacity: number; at?: Probe; probes: Probe[] }> = [];
  for (const arm of arms) {
    const spec = ARMS[arm];
    if (!spec) throw new Error(`unknown arm ${arm} (have: ${Object.keys(ARMS).join(', ')})`);
    const port = await freePort();
    // A bare API server: the profile's fitted overhead belongs to the published benchmark's stack.
    const fleet = await startFleet({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: arm, type: spec.face, models: ['m'], sim: { profile: spec.profile, port, time_scale: timeScale, args: ['--frontend-overhead-ms', '20'] } }],
      routes: [{ model: 'm', backends: [arm] }],
    });
    const probes: Probe[] = [];
    try {
      const probe = async (rate: number): Promise<Probe> => {
        const load = await runLoad({
          target: { baseUrl: fleet.url, model: 'm' }, workload: { kind: 'random', inputLen, outputLen, rangeRatio: 0, prefixLen: 0 },
          // Model-time rate → real-time rate; latencies back to model time below.
          levels: [{ kind: 'open', rate: rate * timeScale, burstiness: 1 }], numPrompts: perProbe, seed: probes.length + 1, ignoreEos: true, tokenizer, progress: false,
        });
        const m = load.levels[0].metrics;
        const p: Probe = {
          rate, p90TtftMs: m.ttft.percentiles['90'] * timeScale, meanTpotMs: m.tpot.mean * timeScale,
          tokS: m.totalTokenThroughput / timeScale, ok: false,
        };
        p.ok = m.failed === 0 && p.p90TtftMs <= ttft && p.meanTpotMs <= tpot;
        probes.push(p);
        return p;
      };
      let lo = 0;
      let hi = 0;
      let rate = 0.5;
      while (probes.length < maxProbes) {
        const p = await probe(rate);
        if (p.ok) lo = rate; else { hi = rate; break; }
        rate *= 2;
      }
      while (hi > 0 && probes.length < maxProbes) {
        rate = (lo + hi) / 2;
        if ((await probe(rate)).ok) lo = rate; else hi = rate;
      }
      const at = probes.filter((p) => p.ok && p.rate === lo)[0];
      results.push({ arm, capacity: lo, at, probes });
    } finally {
      await fleet.stop();
    }
  }
  const header = ['arm', 'max req/s under SLO', 'p90 TTFT ms there', 'mean TPOT ms there', 'tok/s there', 'vs first arm'];
  const rows = results.map((r) => [r.arm, fmt(r.capacity, 2), fmt(r.at?.p90TtftMs, 0), fmt(r.at?.meanTpotMs, 1), fmt(r.at?.tokS, 0),
    results[0].capacity > 0 ? `${fmt(100 * (r.capacity / results[0].capacity - 1))}%` : '-']);
  process.stdout.write(`SLO capacity: p90 TTFT ≤ ${ttft} ms, mean TPOT ≤ ${tpot} ms; ${inputLen} in / ${outputLen} out, Poisson; ` +
    `SIMULATED a10 profiles, time scale ${timeScale}, model time\n${table(header, rows)}\n`);
  const json = { scenario: 'slo-capacity', ttft, tpot, inputLen, outputLen, timeScale, arms: results };
  if (values.json) writeFileSync(values.json, JSON.stringify(json, null, 2));
  if (values.report) writeReport(values.report, 'Request rate each engine sustains under the SLO', header, rows, [{ title: 'Max req/s under SLO', column: 1, unit: 'req/s' }], json);
  return 0;
}
