/**
 * Where the gateway's time goes under the overhead benchmark's load: the compiled gateway runs
 * with `node --cpu-prof` in front of the zero upstream, wrk loads it, and the .cpuprofile it
 * writes on exit is summarised as the top self-time functions (file:line) and the time per
 * package or area.
 *
 *   node --import tsx bench/overhead/profile.ts [--duration 10] [--connections 32] [--threads 2]
 *        [--workers 1] [--top 25] [--keep DIR] [--gateway DIR (a checkout with dist/; default this one)]
 *        [--stream]   (the streaming load of `run.ts --stream`: 64 chunks 5 ms apart, --connections streams)
 *        [--tenants]  (the `switchyard + key, limits (memory), prefix-affinity` row's gateway)
 *        [--floor]    (the node floor of floor-proxy.ts instead of Switchyard, under the same load:
 *                      the reference the gateway's profile is read against)
 *
 * Lines are those of the compiled JS in dist/ (tsc keeps functions and their order, so the
 * TypeScript function of the same name is the place to look).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { packageRoot } from '../../core/util/package-root.js';
import { pickLoadTool } from './load.js';
import { ProcessGroup } from './processes.js';
import { MODEL, startFloor, startSwitchyard, startZero } from './targets.js';
import { measureStreams } from './client.js';
import { CHUNKS as STREAM_CHUNKS, ITL_MS as STREAM_ITL_MS } from './stream-run.js';

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface Hotspot { name: string; where: string; selfMs: number; share: number }

const ROOT = packageRoot(import.meta.url);

function shortUrl(url: string, root: string): string {
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) return file.slice(nm + '/node_modules/'.length);
  return file.startsWith(`${root}/`) ? path.relative(root, file) : file;
}

/** The area a frame belongs to: an npm package, node's internals, the gateway's own code, or V8. */
function areaOf(frame: CallFrame, root: string): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, 2).join('/')}`;
  const short = shortUrl(url, root);
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = short.split('/');
    return `npm:${parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  return short.split('/').slice(0, 3).join('/');
}

/** Self time per function and per area from a V8 .cpuprofile (ms of samples attributed to it). */
export function summariseProfile(profile: CpuProfile, top = 25, root = ROOT): { totalMs: number; functions: Hotspot[]; areas: Hotspot[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  let totalUs = 0;
  const fns = new Map<string, Hotspot>();
  const areas = new Map<string, Hotspot>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') continue;
    totalUs += us;
    const where = f.url ? `${shortUrl(f.url, root)}:${f.lineNumber + 1}:${f.columnNumber + 1}` : '';
    const key = `${f.functionName}@${where}`;
    const fn = fns.get(key) ?? { name: f.functionName || '(anonymous)', where, selfMs: 0, share: 0 };
    fn.selfMs += us / 1000;
    fns.set(key, fn);
    const area = areaOf(f, root);
    const a = areas.get(area) ?? { name: area, where: '', selfMs: 0, share: 0 };
    a.selfMs += us / 1000;
    areas.set(area, a);
  }
  const rank = (m: Map<string, Hotspot>, n: number) => [...m.values()]
    .map((h) => ({ ...h, share: h.selfMs / (totalUs / 1000) }))
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, n);
  return { totalMs: totalUs / 1000, functions: rank(fns, top), areas: rank(areas, 20) };
}

export function formatSummary(s: ReturnType<typeof summariseProfile>): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  return [
    `busy samples: ${(s.totalMs / 1000).toFixed(2)} s (idle excluded)`,
    '',
    '| self % | self ms | function | file:line:col |',
    '|-------:|--------:|:---------|:--------------|',
    ...s.functions.map((h) => `| ${pct(h.share)} | ${h.selfMs.toFixed(0)} | ${h.name} | ${h.where || '–'} |`),
    '',
    '| self % | self ms | area |',
    '|-------:|--------:|:-----|',
    ...s.areas.map((h) => `| ${pct(h.share)} | ${h.selfMs.toFixed(0)} | ${h.name} |`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '32' },
      threads: { type: 'string', default: '2' }, workers: { type: 'string', default: '1' },
      top: { type: 'string', default: '25' }, keep: { type: 'string' }, gateway: { type: 'string', default: ROOT },
      stream: { type: 'boolean', default: false }, tenants: { type: 'boolean', default: false }, floor: { type: 'boolean', default: false },
    },
  });
  const { tool, note } = pickLoadTool(path.join(ROOT, 'bench', '.peers'));
  const gateway = path.resolve(values.gateway);
  if (note) process.stderr.write(`profile: ${note}\n`);
  const group = new ProcessGroup();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-profile-'));
  const profDir = values.keep ? path.resolve(values.keep) : path.join(dir, 'prof');
  mkdirSync(profDir, { recursive: true });
  const stopOnSignal = () => { void group.stopAll().finally(() => process.exit(130)); };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  process.on('exit', () => group.killAllNow());
  try {
    const zero = await startZero(group, values.stream ? { itlMs: STREAM_ITL_MS, chunks: STREAM_CHUNKS } : {});
    const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say hello in five words.' }], max_tokens: 16 });
    const nodeArgs = ['--cpu-prof', '--cpu-prof-dir', profDir];
    const gw = values.floor
      ? await startFloor(group, { upstream: zero.base, workers: Number(values.workers), body, nodeArgs })
      : await startSwitchyard(group, {
        root: gateway, dir, upstream: zero.base, workers: Number(values.workers), body, nodeArgs,
        setup: values.tenants ? { kind: 'tenants' } : { kind: 'plain' },
      });
    const load = values.stream ? 'streams' : tool.name;
    let served = 0;
    process.stderr.write(`profile: ${values.duration} s of ${load} at ${values.connections} connections on ${gw.name}\n`);
    if (values.stream) {
      const streamBody = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Stream me something.' }], max_tokens: STREAM_CHUNKS, stream: true });
      const s = await measureStreams(gw, streamBody, { concurrency: Number(values.connections), durationS: Number(values.duration) });
      served = s.streamsPerS * Number(values.duration);
      process.stderr.write(`profile: ${s.streamsPerS.toFixed(1)} streams/s, TTFT p50 ${s.ttftP50Ms.toFixed(2)} ms, ITL mean ${s.itlMeanMs.toFixed(2)} ms (profiling slows it)\n`);
    } else {
      const r = await tool.run({
        url: gw.url, body, headers: { 'content-type': 'application/json', ...gw.headers },
        durationS: Number(values.duration), connections: Number(values.connections), threads: Number(values.threads),
      }, group, dir);
      served = r.rps * Number(values.duration);
      process.stderr.write(`profile: ${Math.round(r.rps)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms (profiling slows it)\n`);
    }
    // The profile is written when the gateway exits: SIGTERM drains and exits cleanly.
    await gw.stop();
    await zero.stop();
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length === 0) throw new Error(`no .cpuprofile in ${profDir}: the gateway did not exit cleanly`);
    for (const f of files) {
      const summary = summariseProfile(JSON.parse(readFileSync(path.join(profDir, f), 'utf8')) as CpuProfile, Number(values.top), gateway);
      if (summary.totalMs < 100) continue; // a cluster primary: it only forwards connections
      const per = served > 0 ? ` — ${((summary.totalMs * 1000) / served).toFixed(1)} µs busy per ${values.stream ? 'stream' : 'request'}` : '';
      process.stdout.write(`### ${f}${per}\n\n${formatSummary(summary)}\n\n`);
    }
    if (values.keep) process.stderr.write(`profile: kept ${files.map((f) => path.join(profDir, f)).join(', ')}\n`);
    return 0;
  } finally {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
    process.stderr.write(`profile: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
