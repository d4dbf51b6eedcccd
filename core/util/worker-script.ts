import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * How to start a worker thread on one of core's modules, compiled (dist/, production) or from
 * source under tsx (tests, benches): a compiled module runs as it is; a TypeScript one through
 * tsx's loader, since a worker does not inherit the parent's loader hooks.
 */
export function workerScript(moduleUrl: string, name: string): { script: URL | string; evalCode: boolean } {
  const isTs = moduleUrl.endsWith('.ts');
  const url = new URL(`./${name}${isTs ? '.ts' : '.js'}`, moduleUrl);
  if (!isTs) return { script: url, evalCode: false };
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(url.href);
  const code = `import(${api}).then(({ tsImport }) => tsImport(${entry}, ${entry}));`;
  return { script: code, evalCode: true };
}

/**
 * Workers inherit the parent's execArgv by default, but some entry-point flags are fatal in a
 * worker (`node --input-type=module -e …` makes every worker die at start). Keep the rest
 * (--enable-source-maps, --conditions …) so workers behave like the main thread.
 */
export function workerExecArgv(): string[] {
  const out: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg.startsWith('--input-type=') || arg.startsWith('--eval=') || arg.startsWith('--print=')) continue;
    if (['--input-type', '-e', '--eval', '-p', '--print'].includes(arg)) {
      i++; // skips the flag's value too
      continue;
    }
    out.push(arg);
  }
  return out;
}

/**
 * A worker thread with the parent's flags, as workerExecArgv keeps them. Node refuses a worker
 * whose explicit execArgv holds a per-process option — `--max-old-space-size`, `--stack-size`,
 * `--expose-gc`, `--title`… (ERR_WORKER_INVALID_EXEC_ARGV, which names them) — though it lets a
 * worker inherit them silently: a gateway started as `node --max-old-space-size=4096 …` answered
 * every body over 1 MB with a 500 and never started its tokenizer workers. The options Node
 * names are left to the process (they are the process's own: its heap, its title) and the
 * worker starts with the rest.
 */
export function startWorker(script: URL | string, options: WorkerOptions & { execArgv: string[] }): Worker {
  try {
    return new Worker(script, options);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
    // "Initiated Worker with invalid execArgv flags: --a=1, --b" (node's lib/internal/errors.js).
    const message = (err as Error).message;
    const refused = new Set(message.slice(message.indexOf(': ') + 2).split(', '));
    const kept: string[] = [];
    const args = options.execArgv;
    for (let i = 0; i < args.length; i++) {
      if (!refused.has(args[i])) {
        kept.push(args[i]);
        continue;
      }
      // `--flag value`: the value goes with it.
      if (!args[i].includes('=') && i + 1 < args.length && !args[i + 1].startsWith('-')) i++;
    }
    return new Worker(script, { ...options, execArgv: kept });
  }
}
