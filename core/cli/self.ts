import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * How to start another `switchyard` process from this one (a sim replica, a gateway worker): the
 * same node binary on the same CLI entry — compiled JS in production, the TypeScript source with
 * the tsx loader in development and tests.
 */
export function selfCommand(): { command: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  // The CLI's entry is the composition root, bin/main (dist/bin/main.js once compiled).
  const entry = fileURLToPath(new URL(fromSource ? '../../bin/main.ts' : '../../bin/main.js', import.meta.url));
  return { command: process.execPath, args: fromSource ? ['--import', 'tsx', entry] : [entry] };
}

export interface SpawnedSelf {
  url: string;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after `killAfterMs`; resolves when the process is gone. */
  stop(): Promise<void>;
}

/**
 * Runs `switchyard <args>` as a child and resolves with the URL of its "listening on" line. The
 * child learns this process's pid (SWITCHYARD_PARENT_PID) so it can stop when its parent dies.
 */
export async function spawnSelf(
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv; timeoutMs?: number; killAfterMs?: number; what?: string;
    /** Another CLI entry file to run with this node (e.g. the compiled dist/bin/main.js from a benchmark run from source). */
    entry?: string;
    /** node's own flags for the child (e.g. --cpu-prof), before the entry. */
    nodeArgs?: string[];
  } = {},
): Promise<SpawnedSelf> {
  const { command, args: base } = opts.entry ? { command: process.execPath, args: [opts.entry] } : selfCommand();
  const what = opts.what ?? args[0] ?? 'switchyard';
  const child = spawn(command, [...(opts.nodeArgs ?? []), ...base, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env, SWITCHYARD_PARENT_PID: String(process.pid) },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-8000); });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${stderr}`));
    };
    const timer = setTimeout(() => fail(new Error(`${what} did not start within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => fail(new Error(`${what} exited with code ${code} before listening`)));
  });
  child.removeAllListeners('exit');
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const force = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 5000);
      child.once('exit', () => { clearTimeout(force); resolve(); });
      child.kill('SIGTERM');
    });
  return { url, child, stop };
}

/**
 * When started by another switchyard process (spawnSelf), call `onGone` once that parent is gone
 * — even if it was killed without the chance to stop its children.
 */
export function watchParent(onGone: () => void): void {
  const parent = Number(process.env.SWITCHYARD_PARENT_PID);
  if (!(parent > 0)) return;
  const watch = setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      clearInterval(watch);
      onGone();
    }
  }, 1000);
  watch.unref();
}
