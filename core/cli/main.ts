/**
 * The `switchyard` command: one entry, subcommands `serve`, `check-config`, `sim` and `bench`.
 */
import { fileURLToPath } from 'node:url';

const USAGE = `usage: switchyard <command> [options]
commands:
  serve [--config FILE] [--port N]                            run the gateway (default config: conf/gateway.yaml)
  check-config FILE                                           validate a gateway config
  sim --engine vllm|lmdeploy|trtllm-serve --profile NAME …   run one emulated engine replica
  bench calibrate --table ID|all [--tolerance PCT]             check the engine model against published tables
  bench run --base-url URL --model NAME …                       the load generator
  bench scenario NAME [--quick] [--json FILE] [--report DIR]    routing, …
  bench fleet --config FILE                                     a gateway with its emulated replicas, until Ctrl-C
run a command with --help for its options`;

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
      const { runSimCli } = await import('../../bench/sim/main.js');
      await runSimCli(rest);
      return 0;
    }
    case 'bench': {
      const [sub, ...args] = rest;
      if (sub === 'calibrate') {
        const { runCalibrateCli } = await import('../../bench/calibrate/cli.js');
        return runCalibrateCli(args);
      }
      if (sub === 'run') {
        const { runBenchCli } = await import('../../bench/load/cli.js');
        return runBenchCli(args);
      }
      if (sub === 'scenario') {
        const { runScenarioCli } = await import('../../bench/scenarios/cli.js');
        return runScenarioCli(args);
      }
      if (sub === 'fleet') {
        const { runFleetCli } = await import('../../bench/fleet.js');
        return runFleetCli(args);
      }
      process.stderr.write(`switchyard bench: unknown subcommand '${sub ?? ''}'\n${USAGE}\n`);
      return 2;
    }
    case undefined:
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`switchyard: unknown command '${command}'\n${USAGE}\n`);
      return 2;
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
