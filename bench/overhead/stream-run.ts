/**
 * The streaming variant of the overhead benchmark (`run.ts --stream`): the zero upstream streams
 * 64 content chunks 5 ms apart; undici clients hold `--connections` streams open for
 * `--duration` seconds against each target, and the table shows the TTFT and mean ITL each
 * proxy adds to the direct row — the node floor's row (floor-proxy.ts relaying each chunk as it
 * comes) is what any Node gateway adds.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { measureStreams, type StreamStats } from './client.js';
import { packageVersion } from './load.js';
import type { ProcessGroup } from './processes.js';
import { cpuPerChunkUs, describeMachine, streamTable, type StreamRow } from './report.js';
import {
  ensureBuilt, INSTALL_HINT, nginxVersion, roundOrder, say, startPlans, switchyardVersion, warnIfDisturbed, withCpu,
  type Options, type Plan,
} from './harness.js';
import { floorName, MODEL, nginxBinary, startFloor, startNginx, startSwitchyard, startZero } from './targets.js';

export const ITL_MS = 5;
export const CHUNKS = 64;

export async function runStream(o: Options, group: ProcessGroup, dir: string): Promise<Record<string, unknown>> {
  const built = o.targets.has('switchyard') ? await ensureBuilt(group, o.gateway, o.build) : undefined;
  if (built) say(built);
  const zero = await startZero(group, { itlMs: ITL_MS, chunks: CHUNKS });
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Stream me something.' }], max_tokens: CHUNKS, stream: true });
  // Readiness probes are non-streamed: a paced stream would only make them slower.
  const probeBody = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'ready?' }], max_tokens: 1 });
  const bin = nginxBinary();
  const plans: Plan[] = [];
  if (o.targets.has('direct')) plans.push({ name: 'direct', start: async () => ({ ...zero, process: undefined, stop: async () => {} }) });
  if (o.targets.has('nginx')) {
    const name = 'nginx (worker_processes auto)';
    if (bin) plans.push({ name, start: () => startNginx(group, { bin, dir, upstream: zero.base, workers: 'auto', body: probeBody }) });
    else plans.push({ name, skipped: `nginx is not installed: ${INSTALL_HINT}` });
  }
  if (o.targets.has('floor')) {
    // node:http + undici relaying each chunk as it comes: what any Node gateway adds.
    plans.push({ name: floorName(1), start: () => startFloor(group, { upstream: zero.base, workers: 1, body: probeBody }) });
  }
  if (o.targets.has('switchyard')) {
    const name = 'switchyard (workers: 1)';
    if (built) plans.push({ name, skipped: built.split('\n')[0] });
    else plans.push({ name, start: () => startSwitchyard(group, { root: o.gateway, dir, upstream: zero.base, workers: 1, body: probeBody }) });
    const { baseline } = o;
    if (baseline) {
      // Another built checkout in the same run, so a change to the relay is measured against the code before it.
      const baseName = 'switchyard baseline (workers: 1)';
      mkdirSync(path.join(dir, 'baseline'), { recursive: true });
      plans.push({
        name: baseName,
        start: async () => ({ ...(await startSwitchyard(group, { root: baseline, dir: path.join(dir, 'baseline'), upstream: zero.base, workers: 1, body: probeBody })), name: baseName }),
      });
    }
  }

  const rows: StreamRow[] = [];
  /** Every measured run of each row, in order: `--repeat` runs the rows interleaved, round by round. */
  const runs = new Map<string, Array<{ stats: StreamStats; proxyCores: number | undefined; otherCores: number | undefined }>>();
  const started = await startPlans(plans);
  try {
    if (o.warmupS > 0) {
      for (const { target } of started) if (target) await measureStreams(target, body, { concurrency: o.connections, durationS: o.warmupS });
    }
    for (let round = 1; round <= o.repeat; round++) {
      for (const { target } of roundOrder(started, round)) {
        if (!target) continue;
        say(`${target.name}: ${o.repeat > 1 ? `run ${round}/${o.repeat}, ` : ''}${o.durationS} s of ${o.connections} concurrent streams`);
        const { result: stats, cores, others } = await withCpu([target.process], () => measureStreams(target, body, { concurrency: o.connections, durationS: o.durationS }));
        if (!runs.has(target.name)) runs.set(target.name, []);
        runs.get(target.name)!.push({ stats, proxyCores: cores[0], otherCores: others });
        warnIfDisturbed(target.name, others);
      }
    }
    for (const { name, target, skipped } of started) {
      if (!target) {
        rows.push({ name, skipped });
        continue;
      }
      // The row shows its median run by TTFT p50; every run's TTFT p50 is listed under the table.
      const mine = [...runs.get(target.name)!].sort((a, b) => a.stats.ttftP50Ms - b.stats.ttftP50Ms);
      rows.push({ name: target.name, ...mine[Math.floor((mine.length - 1) / 2)] });
    }
  } finally {
    await Promise.all(started.map((s) => s.target?.stop()));
    await zero.stop();
  }

  const machine = describeMachine();
  const versions = { node: process.version, undici: packageVersion('undici'), switchyard: switchyardVersion(o.gateway), ...(bin ? { nginx: nginxVersion(bin) } : {}) };
  process.stdout.write([
    `## Gateway overhead, streaming: ${CHUNKS} content chunks ${ITL_MS} ms apart from a zero upstream`,
    '',
    `machine: ${machine.cpus} × ${machine.model}, ${machine.memoryGiB} GiB, ${machine.kernel}`,
    `load: undici ${packageVersion('undici')} from the benchmark process, ${o.connections} concurrent streams (closed loop), ${o.durationS} s per run after ${o.warmupS} s warm-up`
      + (o.repeat > 1 ? `, ${o.repeat} runs per row, interleaved (the median run by TTFT p50 shown; of two, the faster)` : ', one run per row'),
    `versions: ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    '',
    streamTable(rows),
    '',
    'TTFT: first content chunk − just before the POST. ITL: gaps between consecutive content chunks, pooled over all streams (vLLM definitions).',
    '"added" columns: this row minus the direct row. other CPU: busy CPU on the machine that was not this benchmark\'s.',
    'proxy µs/chunk: the proxy process tree\'s CPU time per content chunk relayed.',
    ...baselineRatios(rows),
    ...(o.repeat > 1 ? ['', `TTFT p50 of each run, in order: ${[...runs].map(([name, r]) => `${name} ${r.map((x) => x.stats.ttftP50Ms.toFixed(2)).join(' / ')} ms`).join('; ')}.`] : []),
    '',
  ].join('\n'));
  return { kind: 'stream', date: new Date().toISOString(), machine, versions, itlMs: ITL_MS, chunks: CHUNKS, options: { ...o, targets: [...o.targets] }, rows };
}

/** Each Switchyard row against its baseline row, when the run had one. */
function baselineRatios(rows: StreamRow[]): string[] {
  const base = rows.find((r) => r.name.startsWith('switchyard baseline'));
  const mine = rows.find((r) => r.name.startsWith('switchyard (') && r.stats);
  if (!base?.stats || !mine?.stats) return [];
  const cpu = (r: StreamRow) => cpuPerChunkUs(r);
  const direct = rows.find((r) => r.name === 'direct')?.stats;
  const added = (r: StreamRow) => (direct && r.stats ? r.stats.itlMeanMs - direct.itlMeanMs : NaN);
  return [
    `${mine.name} vs ${base.name}: CPU per chunk ${(100 * cpu(mine) / cpu(base)).toFixed(1)}%, ` +
      `added ITL mean ${added(mine).toFixed(3)} vs ${added(base).toFixed(3)} ms, streams/s ${(100 * mine.stats.streamsPerS / base.stats.streamsPerS).toFixed(1)}%.`,
  ];
}
