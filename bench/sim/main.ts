/**
 * `switchyard sim`: runs one emulated engine replica until SIGINT or SIGTERM.
 *
 * Direct use: `npx tsx bench/sim/main.ts --engine vllm --profile a10-qwen2.5-7b-vllm --port 8001`.
 */
import { fileURLToPath } from 'node:url';
import { wantsHelp } from '../../core/cli/args.js';
import { watchParent } from '../../core/cli/self.js';
import { SIM_USAGE, SimArgsError, parseSimArgs } from './options.js';
import { startSim } from './server.js';

/**
 * Parses flags, starts the replica, prints one line, and resolves once a signal has stopped it,
 * with the exit code (0; 2 for bad flags, after the reason and the usage; 1 if stopping failed).
 */
export async function runSimCli(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(SIM_USAGE);
    return 0;
  }
  let options;
  try {
    options = parseSimArgs(argv);
  } catch (err) {
    if (!(err instanceof SimArgsError)) throw err;
    console.error(`switchyard sim: ${err.message}\n${SIM_USAGE}`);
    return 2;
  }
  const sim = await startSim(options);
  const replica = options.replicaName ?? `${options.engine}-${sim.port}`;
  const metrics = sim.metricsUrl === undefined ? '' : `, metrics on ${sim.metricsUrl}`;
  console.log(`sim ${options.engine} ${options.release} ${options.profile} listening on ${sim.url} (time scale ${options.timeScale}, replica ${replica}${metrics})`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // Closing the engine joins its native threads; only then may the process exit.
      sim.close().then(
        () => {
          console.log(`sim ${replica} stopped (${signal})`);
          resolve(0);
        },
        (err: unknown) => {
          console.error(`sim ${replica}: error while stopping: ${err instanceof Error ? err.message : String(err)}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    // Started by a gateway or a benchmark: never outlive it.
    watchParent(() => stop('SIGTERM'));
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runSimCli(process.argv.slice(2)).then((code) => { if (code !== 0) process.exitCode = code; }, (err: unknown) => {
    console.error(`switchyard sim: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
