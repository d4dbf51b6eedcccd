/**
 * The `switchyard` command: one entry, subcommands `serve`, `check-config`, `sim` and `bench`.
 * With bin/serve.ts, bin/simulated.ts and bin/plugins.ts it is the composition root: the one
 * place that joins core to the plugins (registered by serve and check-config) and to bench (the
 * emulated engines, the benchmarks). Each command's modules are imported when it runs, so
 * `--help` loads no plugin and `serve` no benchmark. Core imports neither.
 * Every command and subcommand answers `--help`/`-h` (core/cli/args.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../core/util/package-root.js';
import { usageFailure, wantsHelp } from '../core/cli/args.js';

const USAGE = `usage: switchyard <command> [options]

commands:
  serve [--config FILE] [--port N]      run the gateway (default config: conf/gateway.yaml)
  check-config FILE                     validate a gateway config and print its routes
  sim --engine ENGINE --profile NAME    run one emulated engine replica (vllm, lmdeploy, trtllm-serve)
  bench calibrate --table ID|all        check the engine model against published tables
  bench run --base-url URL --model M    the load generator
  bench scenario NAME [--quick]         a benchmark scenario with its own fleet (bench scenario --help lists them)
  bench fleet --config FILE             a gateway with its emulated replicas, until Ctrl-C

options:
  -h, --help                            this text; after a command, that command's options
  -V, --version                         the version

switchyard help COMMAND … is the same as switchyard COMMAND … --help`;

const BENCH_USAGE = `usage: switchyard bench <subcommand> [options]

subcommands:
  calibrate --table ID|all              check the engine model against published tables
  run --base-url URL --model M          the load generator
  scenario NAME [--quick]               a benchmark scenario with its own fleet (bench scenario --help lists them)
  fleet --config FILE                   a gateway with its emulated replicas, until Ctrl-C

options:
  -h, --help                            this text; after a subcommand, its options`;

/** The version in package.json. */
export function version(): string {
  const pkg: unknown = JSON.parse(readFileSync(path.join(packageRoot(import.meta.url), 'package.json'), 'utf8'));
  const v = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
  return typeof v === 'string' ? v : 'unknown';
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { runServe } = await import('./serve.js');
      return runServe(rest);
    }
    case 'check-config': {
      const { runCheckConfig } = await import('./serve.js');
      return runCheckConfig(rest);
    }
    case 'sim': {
      const { runSimCli } = await import('../bench/sim/main.js');
      return runSimCli(rest);
    }
    case 'bench':
      return runBench(rest);
    case 'help':
      return rest.length === 0 ? help() : main([...rest, '--help']);
    case '--help':
    case '-h':
      return help();
    case '--version':
    case '-V':
      process.stdout.write(`${version()}\n`);
      return 0;
    case undefined:
      process.stderr.write(`${USAGE}\n`);
      return 2;
    default:
      return usageFailure({ command: 'switchyard', usage: USAGE },
        command.startsWith('-') ? `Unknown option '${command}'` : `unknown command '${command}'`);
  }
}

function help(): number {
  process.stdout.write(`${USAGE}\n`);
  return 0;
}

async function runBench(argv: string[]): Promise<number> {
  const [sub, ...args] = argv;
  switch (sub) {
    case 'calibrate': {
      const { runCalibrateCli } = await import('../bench/calibrate/cli.js');
      return runCalibrateCli(args);
    }
    case 'run': {
      const { runBenchCli } = await import('../bench/load/cli.js');
      return runBenchCli(args);
    }
    case 'scenario': {
      const { runScenarioCli } = await import('../bench/scenarios/cli.js');
      return runScenarioCli(args);
    }
    case 'fleet': {
      const { runFleetCli } = await import('../bench/fleet.js');
      return runFleetCli(args);
    }
    case undefined:
      process.stderr.write(`${BENCH_USAGE}\n`);
      return 2;
    default:
      if (wantsHelp([sub])) {
        process.stdout.write(`${BENCH_USAGE}\n`);
        return 0;
      }
      return usageFailure({ command: 'switchyard bench', usage: BENCH_USAGE },
        sub.startsWith('-') ? `Unknown option '${sub}'` : `unknown subcommand '${sub}'`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => { if (code !== 0) process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`switchyard: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
