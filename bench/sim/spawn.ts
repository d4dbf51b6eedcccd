/**
 * Starts an emulated engine replica (`switchyard sim …`) as a child process and waits for its
 * "listening on" line. Benchmarks run faces in their own processes so the load generator and the
 * face do not share one event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { selfCommand } from '../../core/cli/self.js';

export interface SpawnedSim {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function spawnSim(args: string[], timeoutMs = 30_000): Promise<SpawnedSim> {
  const { command, args: base } = selfCommand();
  const child = spawn(command, [...base, 'sim', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SWITCHYARD_PARENT_PID: String(process.pid) },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`sim did not start within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${stderr}`));
    };
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => fail(new Error(`sim exited with code ${code} before listening`)));
  });
  child.removeAllListeners('exit');
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => { clearTimeout(force); resolve(); });
      child.kill('SIGTERM');
    });
  return { url, child, stop };
}
