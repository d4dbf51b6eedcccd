/**
 * What the load generator itself can drive on one core: closed-loop load at concurrency 64 against
 * a fixed upstream that answers at once (TTFT 0, ITL 0, 64 one-token chunks), with the upstream in
 * its own process so this process's CPU time (process.cpuUsage) is the generator's alone.
 * requests per CPU-second and streamed tokens per CPU-second are the generator's ceiling: a
 * benchmark that asks for more than that measures the generator, not the system under test.
 *
 *   node --import tsx bench/load/self-cost.ts [--seconds 10] [--concurrency 64] [--chunks 64]
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Tokenizer } from '../../core/tokenizer/tokenizer.js';
import { runLoad } from './runner.js';
import type { WorkloadOptions } from './workloads.js';

export interface SelfCost {
  concurrency: number;
  chunks: number;
  requests: number;
  failed: number;
  wallS: number;
  cpuS: number;
  requestsPerS: number;
  tokensPerS: number;
  /** CPU seconds per wall second (1 = one core busy). */
  coreUtilisation: number;
  requestsPerCpuS: number;
  tokensPerCpuS: number;
}

async function startUpstreamProcess(chunks: number): Promise<{ url: string; stop(): void }> {
  const entry = fileURLToPath(new URL('./fixed-upstream.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', entry, '--chunks', String(chunks), '--ttft-ms', '0', '--itl-ms', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`fixed upstream exited with code ${code}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

/** Runs the load for about `seconds` (a short probe sizes the request count) and reads CPU time. */
export async function measureSelfCost(o: { seconds: number; concurrency: number; chunks: number }): Promise<SelfCost> {
  const upstream = await startUpstreamProcess(o.chunks);
  const tokenizer = Tokenizer.qwenDefault();
  const workload: WorkloadOptions = { kind: 'fixed', inputLen: 32, outputLen: o.chunks };
  const run = (numPrompts: number) => runLoad({
    target: { baseUrl: upstream.url, model: 'fixed' }, workload, levels: [{ kind: 'closed', concurrency: o.concurrency }],
    numPrompts, tokenizer, progress: false,
  });
  try {
    // A probe warms the JIT and sizes batches of ~2 s; batches run until `seconds` have passed.
    const probe = await run(o.concurrency * 40);
    const batch = Math.max(o.concurrency * 20, Math.round(probe.levels[0].metrics.requestThroughput * 2));
    let requests = 0;
    let failed = 0;
    let tokens = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    while (performance.now() - t0 < o.seconds * 1000) {
      const level = (await run(batch)).levels[0];
      requests += level.metrics.completed;
      failed += level.metrics.failed;
      for (const r of level.records) if (r.success) tokens += r.itlMs.length + 1;
    }
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    return {
      concurrency: o.concurrency, chunks: o.chunks, requests, failed, wallS, cpuS,
      requestsPerS: requests / wallS, tokensPerS: tokens / wallS, coreUtilisation: cpuS / wallS,
      requestsPerCpuS: requests / cpuS, tokensPerCpuS: tokens / cpuS,
    };
  } finally {
    upstream.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, concurrency: { type: 'string' }, chunks: { type: 'string' } }, strict: true });
  const r = await measureSelfCost({ seconds: Number(values.seconds ?? 10), concurrency: Number(values.concurrency ?? 64), chunks: Number(values.chunks ?? 64) });
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  process.stdout.write(`generator: ${r.requestsPerS.toFixed(0)} req/s and ${r.tokensPerS.toFixed(0)} streamed tokens/s at ${(r.coreUtilisation * 100).toFixed(0)}% of one core `
    + `→ ${r.requestsPerCpuS.toFixed(0)} req and ${r.tokensPerCpuS.toFixed(0)} tokens per CPU-second\n`);
}
