/**
 * `switchyard bench scenario engines-ab`: the shape of the published grps-trtllm tables — engine
 * arm A vs arm B, total-token throughput vs concurrency, short and long inputs, with a row of
 * percent change — measured directly against each engine and through the gateway (one route per
 * arm). On the emulated a10 profiles it reproduces bench/data/published-tables.json; pointed at a
 * user's engines (--a-url/--b-url) it answers their question the same way.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadProfile } from '../../core/engine/profiles.js';
import { Tokenizer } from '../../core/tokenizer/tokenizer.js';
import { findTable } from '../calibrate/tables.js';
import { freePort, startFleet } from '../fleet.js';
import { runLoad } from '../load/runner.js';
import { fmt, table, writeReport } from './common.js';

const FACE: Record<string, 'vllm' | 'trtllm-serve'> = { vllm: 'vllm', trtllm: 'trtllm-serve' };

export async function runEnginesAbScenario(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false }, json: { type: 'string' }, report: { type: 'string' },
      tables: { type: 'string' }, concurrency: { type: 'string' }, 'time-scale': { type: 'string', default: '20' },
      'requests-per-client': { type: 'string' },
    },
  });
  const quick = values.quick!;
  const tableIds = (values.tables ?? (quick ? 'a10-qwen2.5-7b-short' : 'a10-qwen2.5-7b-short,a10-qwen2.5-7b-long')).split(',');
  const timeScale = Number(values['time-scale']);
  const perClient = Number(values['requests-per-client'] ?? (quick ? 2 : 3));
  const tokenizer = Tokenizer.qwenDefault();
  const out: Array<Record<string, unknown>> = [];
  const allRows: Array<Array<string | number>> = [];
  let worst = 0;
  for (const id of tableIds) {
    const { table: published, workload } = findTable(id);
    const levels = values.concurrency ? values.concurrency.split(',').map(Number) : quick ? [1, 4] : published.concurrency;
    const arms = Object.keys(published.arms);
    const ports = await Promise.all(arms.map(() => freePort()));
    const fleet = await startFleet({
      listen: { host: '127.0.0.1', port: 0 },
      backends: arms.map((arm, i) => ({
        id: arm, type: FACE[arm], models: ['m'], sim: { profile: workload.profiles[arm], port: ports[i], time_scale: timeScale },
      })),
      routes: arms.map((arm) => ({ model: arm, backends: [arm] })),
    });
    try {
      const measured: Record<string, Record<string, number[]>> = {};
      for (const [i, arm] of arms.entries()) {
        measured[arm] = { direct: [], gateway: [] };
        for (const path of ['direct', 'gateway'] as const) {
          for (const c of levels) {
            const target = path === 'direct'
              ? { baseUrl: `http://127.0.0.1:${ports[i]}`, model: 'm' }
              : { baseUrl: fleet.url, model: arm };
            const load = await runLoad({
              target, workload: { kind: 'fixed', inputLen: workload.promptTokens, outputLen: workload.outputTokens },
              levels: [{ kind: 'closed', concurrency: c }], numPrompts: c * perClient, warmup: c, seed: 1, ignoreEos: true, tokenizer, progress: false,
            });
            // Real time × time scale = model time: tokens/s of the modelled GPU.
            measured[arm][path].push(load.levels[0].metrics.totalTokenThroughput / timeScale);
          }
        }
      }
      const cells = published.concurrency.map((c, k) => ({ c, k })).filter(({ c }) => levels.includes(c));
      const header = ['row', ...cells.map(({ c }) => String(c))];
      const rows: Array<Array<string | number>> = [];
      for (const arm of arms) {
        const pub = cells.map(({ k }) => published.arms[arm][k]);
        rows.push([`${arm} published`, ...pub.map((v) => fmt(v, 2))]);
        for (const path of ['direct', 'gateway'] as const) {
          const m = measured[arm][path];
          rows.push([`${arm} ${path}`, ...m.map((v) => fmt(v, 2))]);
          const errs = m.map((v, j) => 100 * (v / pub[j] - 1));
          if (path === 'direct') worst = Math.max(worst, ...errs.map(Math.abs));
          rows.push([`  error`, ...errs.map((e) => `${e >= 0 ? '+' : ''}${fmt(e)}%`)]);
        }
      }
      if (arms.length === 2) {
        const [a, b] = arms;
        rows.push([`${b} vs ${a} published`, ...cells.map(({ k }) => `${fmt(100 * (published.arms[b][k] / published.arms[a][k] - 1))}%`)]);
        rows.push([`${b} vs ${a} via gateway`, ...measured[b].gateway.map((v, j) => `${fmt(100 * (v / measured[a].gateway[j] - 1))}%`)]);
      }
      process.stdout.write(`\n${id}: ${published.hardware}, ${published.model}; ${workload.promptTokens} in / ${workload.outputTokens} out; ` +
        `total tokens/s, closed loop (SIMULATED engines: ${arms.map((a) => loadProfile(workload.profiles[a]).name).join(' vs ')}; time scale ${timeScale})\n`);
      process.stdout.write(`${table(header, rows)}\n`);
      out.push({ table: id, concurrency: cells.map(({ c }) => c), published: Object.fromEntries(arms.map((a) => [a, cells.map(({ k }) => published.arms[a][k])])), measured });
      allRows.push(...rows.map((r) => [`${id} ${r[0]}`, ...r.slice(1)]));
    } finally {
      await fleet.stop();
    }
  }
  process.stdout.write(`\nworst direct cell vs published: ${fmt(worst)}% (${worst <= 15 ? 'within' : 'OUTSIDE'} ±15%)\n`);
  const json = { scenario: 'engines-ab', timeScale, worst_error_pct: worst, tables: out };
  if (values.json) writeFileSync(values.json, JSON.stringify(json, null, 2));
  if (values.report) writeReport(values.report, 'Engine A/B on the published grps-trtllm workloads', ['row', ...allRows[0].slice(1).map((_, i) => `col ${i + 1}`)], allRows, [], json);
  return 0;
}
