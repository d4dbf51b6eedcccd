/**
 * A fleet for benchmarks: a gateway process (`switchyard serve`) whose config lists emulated
 * replicas (`sim:` backends), all stopped together — on stop(), on Ctrl-C, on error. The sims are
 * the gateway's children and watch it, so nothing outlives the fleet.
 *
 *   switchyard bench fleet --config FILE      runs one until Ctrl-C
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { defineCommand, parseCommandLine, usageFailure } from '../core/cli/args.js';
import { spawnSelf } from '../core/cli/self.js';

export interface Fleet {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

const live = new Set<Fleet>();
let hooked = false;
function stopAllOnExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => { for (const f of live) f.child.kill('SIGTERM'); };
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts `switchyard serve` on a config (a file, or a document written to a temp file). */
export async function startFleet(config: string | Record<string, unknown>, opts: { logLevel?: string; timeoutMs?: number } = {}): Promise<Fleet> {
  let file: string;
  if (typeof config === 'string') {
    file = config;
  } else {
    file = path.join(mkdtempSync(path.join(tmpdir(), 'switchyard-fleet-')), 'gateway.yaml');
    writeFileSync(file, yaml.dump(config));
  }
  stopAllOnExit();
  const spawned = await spawnSelf(['serve', '--config', file], {
    env: { SWITCHYARD_LOG_LEVEL: opts.logLevel ?? 'warn' }, timeoutMs: opts.timeoutMs ?? 120_000, killAfterMs: 15_000, what: 'fleet',
  });
  const fleet: Fleet = {
    url: spawned.url,
    child: spawned.child,
    stop: () => {
      live.delete(fleet);
      return spawned.stop();
    },
  };
  live.add(fleet);
  return fleet;
}

const FLEET = defineCommand({
  command: 'switchyard bench fleet',
  usage: `usage: switchyard bench fleet --config FILE

Runs \`switchyard serve --config FILE\` in a child process, as the benchmark scenarios do (the
replicas of its sim: backends are the gateway's children), until Ctrl-C stops them all.

options:
  --config FILE    the gateway config (required)
  -h, --help       this text`,
  options: { config: { type: 'string' } },
});

export async function runFleetCli(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(FLEET, argv);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  if (!values.config) return usageFailure(FLEET, '--config FILE is required');
  const fleet = await startFleet(values.config, { logLevel: 'info' });
  process.stdout.write(`fleet up: gateway at ${fleet.url} (Ctrl-C stops the gateway and every replica)\n`);
  await new Promise<void>((resolve) => fleet.child.once('exit', () => resolve()));
  return 0;
}
