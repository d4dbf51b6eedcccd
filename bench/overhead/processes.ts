/**
 * The processes one benchmark run starts (upstream, proxies, load generators), kept in one group
 * so that every exit path stops them all: normal end, an error, Ctrl-C, SIGTERM. Where util-linux's
 * `setpriv` is present each child also gets a parent-death signal, so not even a SIGKILL of the
 * benchmark leaves an orphan behind.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface Spawned {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last few KB of stderr and stdout, for error messages. */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));

export class ProcessGroup {
  private readonly live = new Set<Spawned>();
  /** The CPUs a process of this name runs on (`taskset -c` list); undefined: wherever the kernel puts it. */
  pin: ((name: string) => string | undefined) | undefined;

  /** Whether processes can be pinned to CPUs here (util-linux's taskset). */
  static get canPin(): boolean {
    return TASKSET !== undefined;
  }

  spawn(name: string, command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Spawned {
    // setpriv and taskset exec the command in place: the pid we hold is the command's own.
    const cpus = TASKSET ? this.pin?.(name) : undefined;
    const [pinnedCmd, pinnedArgs] = cpus !== undefined ? [TASKSET!, ['-c', cpus, command, ...args]] : [command, args];
    const [cmd, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'TERM', '--', pinnedCmd, ...pinnedArgs]] : [pinnedCmd, pinnedArgs];
    const child = spawn(cmd, argv, {
      cwd: opts.cwd,
      env: { ...process.env, SWITCHYARD_PARENT_PID: String(process.pid), ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    const keep = (d: Buffer) => { tail = (tail + d.toString()).slice(-8000); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      child.once('error', (err) => { tail += `\n${err.message}`; resolve('spawn-error'); });
    });
    const entry: Spawned = {
      name,
      pid: child.pid ?? -1,
      child,
      output: () => tail,
      exited,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const force = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(force);
        }
        this.live.delete(entry);
      },
    };
    this.live.add(entry);
    void exited.then(() => this.live.delete(entry));
    return entry;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((p) => p.stop()));
  }

  /** Last resort on process exit, where nothing asynchronous runs any more. */
  killAllNow(): void {
    for (const p of this.live) {
      try {
        p.child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Resolves with the first match of `pattern` in the child's stdout; fails if it exits first. */
export function waitForOutput(p: Spawned, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`${p.name}: no ${pattern} within ${timeoutMs} ms\n${p.output()}`)), timeoutMs);
    const onData = (d: Buffer) => {
      seen += d.toString();
      const m = pattern.exec(seen);
      if (m) done(undefined, m);
    };
    const done = (err?: Error, m?: RegExpExecArray) => {
      clearTimeout(timer);
      p.child.stdout!.off('data', onData);
      if (err) reject(err);
      else resolve(m!);
    };
    p.child.stdout!.on('data', onData);
    void p.exited.then((code) => done(new Error(`${p.name} exited (${code}) before it was ready\n${p.output()}`)));
  });
}

/** A probe answer that waiting will not change (a 4xx): stop waiting at once. */
export class NotRetryable extends Error {}

/** Polls `probe` until it returns true; fails on timeout or when the process exits first. */
export async function waitUntilReady(p: Spawned, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | string | undefined;
  void p.exited.then((code) => { exited = code; });
  let last = '';
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`${p.name} exited (${exited}) before it was ready\n${p.output()}`);
    try {
      if (await probe()) return;
    } catch (err) {
      if (err instanceof NotRetryable) throw new Error(`${p.name}: ${err.message}`);
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${p.name} was not ready within ${timeoutMs} ms${last ? ` (${last})` : ''}\n${p.output().slice(-2000)}`);
}

let clockTicks: number | undefined;

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on every common Linux). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** [ppid, utime + stime] of one process, from /proc/<pid>/stat; undefined once it is gone. */
function readStat(pid: number): [number, number] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return [Number(fields[1]), Number(fields[11]) + Number(fields[12])];
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds used so far by `pid` and all its descendants (nginx's workers, a gateway's cluster
 * workers). Undefined where /proc is not there.
 */
export function treeCpuSeconds(pid: number): number | undefined {
  if (!existsSync(`/proc/${pid}/stat`)) return undefined;
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const id = Number(name);
    if (!Number.isInteger(id)) continue;
    const stat = readStat(id);
    if (!stat) continue;
    ticks.set(id, stat[1]);
    const siblings = children.get(stat[0]);
    if (siblings) siblings.push(id);
    else children.set(stat[0], [id]);
  }
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const id = stack.pop()!;
    total += ticks.get(id) ?? 0;
    stack.push(...(children.get(id) ?? []));
  }
  return total / ticksPerSecond();
}

/** CPU seconds all cores of this machine have been busy since boot (/proc/stat), for telling
 * how much of a run's CPU went to processes that are not the benchmark's. */
export function machineBusySeconds(): number | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: user + nice + system only, the part that
    // /proc/<pid>/stat charges to processes (loopback traffic's softirq time is charged to none).
    return (cpu[0] + cpu[1] + cpu[2]) / ticksPerSecond();
  } catch {
    return undefined;
  }
}
