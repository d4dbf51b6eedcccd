/** `switchyard bench scenario NAME [--quick] [--json FILE] [--report DIR]` */
export const SCENARIOS = ['routing'] as const;

export async function runScenarioCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  switch (name) {
    case 'routing': {
      const { runRoutingScenario } = await import('./routing.js');
      return runRoutingScenario(rest);
    }
    default:
      process.stderr.write(`switchyard bench scenario: unknown scenario '${name ?? ''}' (have: ${SCENARIOS.join(', ')})\n`);
      return 2;
  }
}
