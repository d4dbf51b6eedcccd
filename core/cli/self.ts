import { fileURLToPath } from 'node:url';

/**
 * How to start another `switchyard` process from this one (a sim replica, a gateway worker): the
 * same node binary on the same CLI entry — compiled JS in production, the TypeScript source with
 * the tsx loader in development and tests.
 */
export function selfCommand(): { command: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const entry = fileURLToPath(new URL(fromSource ? './main.ts' : './main.js', import.meta.url));
  return { command: process.execPath, args: fromSource ? ['--import', 'tsx', entry] : [entry] };
}
