/** `switchyard bench scenario NAME [--quick] [--json FILE] [--report DIR]` */
export const SCENARIOS = ['routing', 'engines-ab', 'slo-capacity', 'overhead', 'in-process', 'league'] as const;

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
    default:
      process.stderr.write(`switchyard bench scenario: unknown scenario '${name ?? ''}' (have: ${SCENARIOS.join(', ')})\n`);
      return 2;
  }
}
