/**
 * What both variants of the overhead benchmark share: their options, building the gateway,
 * starting the targets of a run, measuring CPU around a load run, and version strings.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../core/util/package-root.js';
import { machineBusySeconds, treeCpuSeconds, type ProcessGroup, type Spawned } from './processes.js';
import { gitCommit } from './report.js';
import { cliEntry, type Target } from './targets.js';

export const ROOT = packageRoot(import.meta.url);
export const PEERS = path.join(ROOT, 'bench', '.peers');
export const INSTALL_HINT = 'run bench/overhead/install.sh';

export interface Options {
  durationS: number;
  warmupS: number;
  connections: number;
  threads: number;
  stream: boolean;
  tool?: string;
  targets: Set<string>;
  headerSamples: number;
  build: boolean;
  repeat: number;
  /** The Switchyard checkout whose dist/ runs. */
  gateway: string;
  /** Another checkout (built) measured beside it in the same run, its rows named `baseline`. */
  baseline?: string;
  /** Worker counts of the Switchyard (and baseline, floor) rows. */
  workers: number[];
  json?: string;
  /** Directory for an HTML page of the results (bench/scenarios' report format). */
  report?: string;
  /** One-process proxies on CPU 1, the upstream, redis and the load generator on CPU 0 (pinRule). */
  pin: boolean;
}

/**
 * `--pin`: which CPU a process of the run gets. On a small machine the kernel moves the proxy,
 * the upstream and wrk's threads between cores from one run to the next, and a row's req/s
 * swings by a third; pinned, the proxy under test has a core of its own and the rest share the
 * other. Rows of more than one process (workers: 2, nginx auto) are left unpinned.
 */
export function pinRule(name: string): string | undefined {
  if (['wrk', 'autocannon', 'zero upstream', 'redis-server'].includes(name)) return '0';
  if (/\(workers: 1\)$|\(1 process\)$|\(worker_processes 1\)$|^portkey$/.test(name)) return '1';
  return undefined;
}

export const say = (line: string): void => { process.stderr.write(`overhead: ${line}\n`); };

/** Compiled JS is what production runs: build it when it is missing (or asked to). */
export async function ensureBuilt(group: ProcessGroup, root: string, force: boolean): Promise<string | undefined> {
  const entry = path.join(root, 'dist', 'bin', 'main.js');
  if (existsSync(entry) && !force) {
    const newer = newestSource(root, statSync(entry).mtimeMs);
    if (newer) say(`dist/ is older than ${newer}: benchmarking the last build (pass --build to rebuild)`);
    return undefined;
  }
  say(force ? 'running npm run build (--build)' : 'dist/bin/main.js is missing: running npm run build');
  const p = group.spawn('npm run build', 'npm', ['run', 'build'], { cwd: root });
  const code = await p.exited;
  if (code !== 0 || !existsSync(entry)) return `npm run build failed (${code}):\n${p.output()}`;
  return undefined;
}

/** A gateway source file changed since the last build, if any. */
function newestSource(root: string, builtAt: number): string | undefined {
  const walk = (dir: string): string | undefined => {
    if (!existsSync(dir)) return undefined;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) {
        const hit = walk(file);
        if (hit) return hit;
      } else if (e.name.endsWith('.ts') && statSync(file).mtimeMs > builtAt) {
        return path.relative(root, file);
      }
    }
    return undefined;
  };
  return walk(path.join(root, 'core')) ?? walk(path.join(root, 'plugins'));
}

export function nginxVersion(bin: string): string {
  // `nginx -v` writes its version to stderr.
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return /nginx\/(\S+)/.exec(`${r.stderr ?? ''}${r.stdout ?? ''}`)?.[1] ?? 'unknown';
}

export function switchyardVersion(root: string): string {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const commit = gitCommit(root);
  const entry = cliEntry(root);
  const built = existsSync(entry) ? `, dist built ${statSync(entry).mtime.toISOString().slice(0, 16)}Z` : '';
  return `${pkg.version}${commit ? ` @ ${commit}` : ''} (${root === ROOT ? 'this checkout' : root}${built})`;
}

export interface Measured<T> {
  result: T;
  /** CPU of each given process tree during the run, in cores (1 = one core busy). */
  cores: Array<number | undefined>;
  /** Busy CPU on the machine that was not this benchmark's own process tree, in cores. */
  others?: number;
}

/**
 * Runs `fn` while measuring the CPU of the given processes' trees; and the machine's busy CPU
 * that was not this benchmark's (load generator, upstream, proxies are all its descendants),
 * which says whether something else on the machine disturbed the run.
 */
export async function withCpu<T>(procs: Array<Spawned | undefined>, fn: () => Promise<T>): Promise<Measured<T>> {
  const trees = [...procs.map((p) => p?.pid), process.pid];
  const before = trees.map((pid) => (pid ? treeCpuSeconds(pid) : undefined));
  const machineBefore = machineBusySeconds();
  const t0 = performance.now();
  const result = await fn();
  const wall = (performance.now() - t0) / 1000;
  const machineAfter = machineBusySeconds();
  const used = trees.map((pid, i) => {
    const b = before[i];
    const a = pid ? treeCpuSeconds(pid) : undefined;
    return a === undefined || b === undefined ? undefined : (a - b) / wall;
  });
  const self = used.pop();
  const others = machineAfter === undefined || machineBefore === undefined || self === undefined
    ? undefined : Math.max(0, (machineAfter - machineBefore) / wall - self);
  return { result, cores: used, others };
}

export function warnIfDisturbed(name: string, others: number | undefined): void {
  if (others !== undefined && others > 0.15) {
    say(`${name}: WARNING other processes used ${Math.round(others * 100)}% of a core during this run; its numbers are disturbed`);
  }
}

/** A row of a run: how to start its target, or why it cannot run here. */
export type Plan = { name: string; start: () => Promise<Target> } | { name: string; skipped: string };

/** Starts every plan's target in order; a target that fails to start becomes a skipped row. */
/**
 * The rows in the order of one round of interleaved runs: as listed in odd rounds, reversed in
 * even ones. Run in one fixed order, a row measured right after a given other one (or first in
 * every round) carries that position's disturbance each time. (A/A runs — one build in two rows —
 * still differ by 3-5% on this shared 2-core machine: the order only takes position out of it.)
 */
export function roundOrder<T>(rows: readonly T[], round: number): readonly T[] {
  return round % 2 === 1 ? rows : [...rows].reverse();
}

export async function startPlans(plans: Plan[]): Promise<Array<{ name: string; target?: Target; skipped?: string }>> {
  const out: Array<{ name: string; target?: Target; skipped?: string }> = [];
  for (const plan of plans) {
    if ('skipped' in plan) {
      say(`${plan.name}: skipped — ${plan.skipped}`);
      out.push({ name: plan.name, skipped: plan.skipped });
      continue;
    }
    say(`${plan.name}: starting`);
    try {
      out.push({ name: plan.name, target: await plan.start() });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      say(`${plan.name}: could not start — ${message}`);
      out.push({ name: plan.name, skipped: message.split('\n')[0] });
    }
  }
  return out;
}
