/**
 * Closed-loop load against one URL for a fixed time: wrk (preferred: C, multi-threaded, the
 * least client overhead), autocannon when wrk is missing, else a built-in undici loop. Each
 * reports the same numbers: requests/s, latency p50/p90/p99, failures.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Pool } from 'undici';
import type { ProcessGroup } from './processes.js';

export interface LoadSpec {
  /** Full URL, path included. */
  url: string;
  body: string;
  headers: Record<string, string>;
  durationS: number;
  connections: number;
  threads: number;
}

export interface LoadResult {
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Answers with a status outside 2xx/3xx. */
  non2xx: number;
  /** Connect, read, write errors and timeouts. */
  errors: number;
}

export interface LoadTool {
  name: 'wrk' | 'autocannon' | 'undici';
  version: string;
  run(spec: LoadSpec, group: ProcessGroup, workDir: string): Promise<LoadResult>;
}

/** np.percentile's linear interpolation on sorted data. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

function which(bin: string, extra: string[] = []): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', ...extra]) {
    if (dir && existsSync(path.join(dir, bin))) return path.join(dir, bin);
  }
  return undefined;
}

function versionOf(bin: string, args: string[], pattern: RegExp): string {
  try {
    const out = execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return pattern.exec(out)?.[1] ?? out.trim().split('\n')[0];
  } catch (err) {
    // `wrk -v` prints its version and then exits 1 for the missing URL.
    const out = String((err as { stdout?: unknown }).stdout ?? '') + String((err as { stderr?: unknown }).stderr ?? '');
    return pattern.exec(out)?.[1] ?? 'unknown';
  }
}

/** The installed version of an npm package this project depends on. */
export function packageVersion(name: string): string {
  try {
    let dir = path.dirname(createRequire(import.meta.url).resolve(name));
    while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
    return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

/** Parses wrk's report (run with `--latency`). Throws if the report is not there. */
export function parseWrk(text: string): LoadResult {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const rps = num(/Requests\/sec:\s+([\d.]+)/);
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(text);
  if (rps === undefined || !total) throw new Error(`wrk: could not read its report:\n${text}`);
  const pct: Record<string, number> = {};
  for (const m of text.matchAll(/^\s+(50|75|90|99)(?:\.000)?%\s+([\d.]+)(us|ms|s|m|h)\s*$/gm)) {
    pct[m[1]] = Number(m[2]) * UNIT_MS[m[3]];
  }
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    durationS: (Number(total[2]) * UNIT_MS[total[3]]) / 1000,
    rps,
    p50Ms: pct['50'] ?? NaN,
    p90Ms: pct['90'] ?? NaN,
    p99Ms: pct['99'] ?? NaN,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) ?? 0,
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** A Lua long string that cannot be closed by anything inside `s`. */
function luaString(s: string): string {
  let eq = '';
  while (s.includes(`]${eq}]`)) eq += '=';
  return `[${eq}[${s}]${eq}]`;
}

export function wrkScript(spec: Pick<LoadSpec, 'body' | 'headers'>): string {
  return [
    'wrk.method = "POST"',
    `wrk.body = ${luaString(spec.body)}`,
    ...Object.entries(spec.headers).map(([k, v]) => `wrk.headers[ ${luaString(k)} ] = ${luaString(v)}`),
    '',
  ].join('\n');
}

async function runChild(group: ProcessGroup, name: string, bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const p = group.spawn(name, bin, args);
  let stdout = '';
  let stderr = '';
  p.child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  p.child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const code = await p.exited;
  if (code !== 0) throw new Error(`${name} exited (${code}):\n${p.output()}`);
  return { stdout, stderr };
}

function wrkTool(bin: string): LoadTool {
  return {
    name: 'wrk',
    version: versionOf(bin, ['-v'], /wrk\s+(\S+)/),
    async run(spec, group, workDir) {
      const script = path.join(workDir, 'post.lua');
      writeFileSync(script, wrkScript(spec));
      const out = await runChild(group, 'wrk', bin, [
        '-t', String(spec.threads), '-c', String(spec.connections), '-d', `${Math.max(1, Math.round(spec.durationS))}s` /* wrk takes whole seconds */,
        '--latency', '-s', script, spec.url,
      ]);
      // A script that does not load is only a warning to wrk, which then sends plain GETs.
      if (out.stderr.includes(`${script}:`)) throw new Error(`wrk could not load ${script}: ${out.stderr.trim()}`);
      return parseWrk(out.stdout);
    },
  };
}

interface AutocannonReport {
  requests: { total: number; average: number };
  latency: { p50: number; p90: number; p99: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

function autocannonTool(bin: string): LoadTool {
  return {
    name: 'autocannon',
    version: versionOf(bin, ['--version'], /autocannon v?(\S+)/),
    async run(spec, group) {
      const out = await runChild(group, 'autocannon', bin, [
        '-c', String(spec.connections), '-d', String(spec.durationS), '-w', String(Math.max(0, spec.threads - 1)),
        '-m', 'POST', '-b', spec.body, ...Object.entries(spec.headers).flatMap(([k, v]) => ['-H', `${k}=${v}`]),
        '--json', spec.url,
      ]);
      const r = JSON.parse(out.stdout.slice(out.stdout.indexOf('{'))) as AutocannonReport;
      return {
        requests: r.requests.total, durationS: r.duration, rps: r.requests.total / r.duration,
        p50Ms: r.latency.p50, p90Ms: r.latency.p90, p99Ms: r.latency.p99,
        non2xx: r.non2xx, errors: r.errors + r.timeouts,
      };
    },
  };
}

/**
 * The fallback: `connections` closed loops on one undici Pool in this process. One event loop
 * drives them all, so it saturates sooner than wrk; its numbers compare with each other only.
 */
export const undiciTool: LoadTool = {
  name: 'undici',
  version: packageVersion('undici'),
  async run(spec) {
    const target = new URL(spec.url);
    const pool = new Pool(target.origin, { connections: spec.connections, pipelining: 1, keepAliveTimeout: 60_000 });
    const latencies: number[] = [];
    let non2xx = 0;
    let errors = 0;
    const started = performance.now();
    const until = started + spec.durationS * 1000;
    const loop = async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          const res = await pool.request({ path: target.pathname, method: 'POST', headers: spec.headers, body: spec.body });
          await res.body.dump();
          if (res.statusCode >= 400) non2xx++;
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    };
    await Promise.all(Array.from({ length: spec.connections }, loop));
    const durationS = (performance.now() - started) / 1000;
    await pool.close();
    const sorted = Float64Array.from(latencies).sort();
    return {
      requests: sorted.length, durationS, rps: sorted.length / durationS,
      p50Ms: percentile(sorted, 50), p90Ms: percentile(sorted, 90), p99Ms: percentile(sorted, 99),
      non2xx, errors,
    };
  },
};

/** wrk if installed, else autocannon (on PATH or in bench/.peers), else the undici loop. */
export function pickLoadTool(peersDir: string, forced?: string): { tool: LoadTool; note?: string } {
  const wrk = which('wrk');
  const autocannon = which('autocannon', [path.join(peersDir, 'node_modules', '.bin')]);
  if (forced === 'undici') return { tool: undiciTool };
  if (forced === 'wrk' && !wrk) return { tool: undiciTool, note: 'wrk is missing: run bench/overhead/install.sh; using the built-in undici loop' };
  if (forced === 'autocannon' && !autocannon) {
    return { tool: undiciTool, note: 'autocannon is missing: run bench/overhead/install.sh --autocannon; using the built-in undici loop' };
  }
  if (wrk && forced !== 'autocannon') return { tool: wrkTool(wrk) };
  if (autocannon) return { tool: autocannonTool(autocannon), note: forced ? undefined : 'wrk is missing (run bench/overhead/install.sh); using autocannon' };
  return { tool: undiciTool, note: 'wrk is missing: run bench/overhead/install.sh; using the built-in undici loop' };
}

export { which };
