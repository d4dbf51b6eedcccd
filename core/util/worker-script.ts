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
