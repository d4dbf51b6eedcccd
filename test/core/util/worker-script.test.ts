import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');

describe('startWorker', () => {
  it('starts workers in a process run with per-process flags (--max-old-space-size, --stack-size, --title), keeping the flags a worker takes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-worker-'));
    const script = path.join(dir, 'main.mjs');
    // The worker reports the flags it started with.
    writeFileSync(script, `
      const { startWorker, workerExecArgv } = await import(${JSON.stringify(path.join(root, 'core/util/worker-script.ts'))});
      const w = startWorker("require('node:worker_threads').parentPort.postMessage(process.execArgv)", { eval: true, execArgv: workerExecArgv() });
      w.once('message', (argv) => { console.log(JSON.stringify(argv)); void w.terminate(); });
    `);
    const { stdout } = await run(process.execPath, ['--max-old-space-size=512', '--stack-size=2000', '--title', 'sy-worker-test', '--enable-source-maps', '--import', 'tsx', script], { cwd: root });
    const argv = JSON.parse(stdout.trim()) as string[];
    expect(argv).toContain('--enable-source-maps');
    expect(argv).toContain('--import');
    // Refused in a worker's execArgv, left to the process; a separate value goes with its flag.
    expect(argv.filter((a) => a.startsWith('--max-old-space-size') || a.startsWith('--stack-size') || a === '--title' || a === 'sy-worker-test')).toEqual([]);
  });
});
