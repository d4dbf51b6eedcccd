/** `switchyard bench scenario NAME [--quick] [--json FILE] [--report DIR]` */
import { usageFailure, wantsHelp } from '../../core/cli/args.js';

export const SCENARIOS = ['routing', 'engines-ab', 'slo-capacity', 'overhead', 'in-process', 'league'] as const;

/** One line each for `bench scenario --help`; a scenario without one is listed by name alone. */
const SUMMARIES: Partial<Record<string, string>> = {
  routing: 'routing policies on a shared-prefix workload over emulated vLLM replicas',
  'engines-ab': 'engine arm A vs B: throughput per concurrency, direct, via the gateway, via an A/B route',
  'slo-capacity': 'per engine arm, the highest request rate that meets a TTFT/TPOT SLO',
  overhead: "the gateway's own overhead on a zero-latency upstream, beside nginx and a node floor",
  'in-process': 'one profile in the gateway process vs over HTTP',
};

const USAGE = () => `usage: switchyard bench scenario NAME [--quick] [--json FILE] [--report DIR] [options]

Each scenario starts its own fleet of simulated replicas and stops it.

scenarios:
${SCENARIOS.map((s) => `  ${s.padEnd(14)}${SUMMARIES[s] ?? ''}`.trimEnd()).join('\n')}

options:
  -h, --help    this text; after NAME, that scenario's options`;

export async function runScenarioCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  switch (name) {
    case 'routing': {
      const { runRoutingScenario } = await import('./routing.js');
      return runRoutingScenario(rest);
    }
    case 'engines-ab': {
      const { runEnginesAbScenario } = await import('./engines-ab.js');
      return runEnginesAbScenario(rest);
    }
    case 'slo-capacity': {
      const { runSloCapacityScenario } = await import('./slo-capacity.js');
      return runSloCapacityScenario(rest);
    }
    case 'overhead': {
      const { runOverheadCli } = await import('../overhead/run.js');
      return runOverheadCli(rest);
    }
    case 'in-process': {
      const { runInProcessScenario } = await import('./in-process.js');
      return runInProcessScenario(rest);
    }
    case 'league': return (await import('../league/cli.js')).runLeagueScenario(rest);
    default: {
      const spec = { command: 'switchyard bench scenario', usage: USAGE() };
      if (name === undefined) return usageFailure(spec, 'which scenario?');
      if (wantsHelp([name])) {
        process.stdout.write(`${spec.usage}\n`);
        return 0;
      }
      return usageFailure(spec, `unknown scenario '${name}' (have: ${SCENARIOS.join(', ')})`);
    }
  }
}
