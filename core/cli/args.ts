/**
 * Command-line flags for every `switchyard` command: node:util parseArgs in strict mode, plus the
 * two things it leaves to its caller — `--help`/`-h` printing the command's usage (exit 0), and an
 * unknown flag or stray argument answered with the reason and the usage (exit 2), never ignored.
 *
 * `--help` wins over everything else on the line, so `check-config --help` prints help instead of
 * opening a file named `--help`, and `serve --bogus --help` still helps.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** One command's flags and the usage text shown for `--help` and beside any usage error. */
export interface CommandSpec<O extends OptionsConfig> {
  /** As typed, e.g. `switchyard bench run`: the prefix of every error line. */
  command: string;
  /** Usage and options, as printed by `--help`; it should mention `-h, --help`. */
  usage: string;
  options: O;
  /** Positional arguments the command takes (default none): their count and how to name them. */
  positionals?: { min: number; max: number; name: string };
}

type StrictConfig<O extends OptionsConfig> = { args: string[]; options: O; strict: true; allowPositionals: true };

/** What parseArgs makes of a command's options: `values` typed from the spec. */
export type ParsedCommand<O extends OptionsConfig> = {
  values: ReturnType<typeof parseArgs<StrictConfig<O>>>['values'];
  positionals: string[];
};

/** A command line that cannot mean what was typed (an unknown flag, a missing value, …). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Declares a command's spec; the options' literal types flow into `values`. */
export function defineCommand<O extends OptionsConfig>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

/** `--help` or `-h` anywhere before a `--` terminator. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

/** parseArgs' own message up to its first full stop: "Unknown option '--x'" without the advice. */
function firstSentence(message: string): string {
  return message.split(/\.\s/)[0].replace(/\.$/, '').trim();
}

/** Parses strictly; throws UsageError. Does not look at `--help` (see parseCommandLine). */
export function parseStrict<O extends OptionsConfig>(spec: CommandSpec<O>, argv: string[]): ParsedCommand<O> {
  let parsed: ParsedCommand<O>;
  try {
    parsed = parseArgs({ args: argv, options: spec.options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(firstSentence(err instanceof Error ? err.message : String(err)));
  }
  const { min, max, name } = spec.positionals ?? { min: 0, max: 0, name: '' };
  if (parsed.positionals.length > max) throw new UsageError(`Unexpected argument '${parsed.positionals[max]}'`);
  if (parsed.positionals.length < min) throw new UsageError(`${name} is required`);
  return parsed;
}

export interface CliStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/**
 * The flags of one command, or the exit code to return at once: 0 after printing the usage for
 * `--help`/`-h`, 2 after printing the usage error and the usage.
 */
export function parseCommandLine<O extends OptionsConfig>(
  spec: CommandSpec<O>, argv: string[], io: CliStreams = process,
): ParsedCommand<O> | number {
  if (wantsHelp(argv)) {
    io.stdout.write(`${spec.usage}\n`);
    return 0;
  }
  try {
    return parseStrict(spec, argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageFailure(spec, err.message, io);
  }
}

/** Prints `<command>: <message>` and the usage on stderr; returns the usage-error exit code, 2. */
export function usageFailure(spec: Pick<CommandSpec<OptionsConfig>, 'command' | 'usage'>, message: string, io: CliStreams = process): number {
  io.stderr.write(`${spec.command}: ${message}\n${spec.usage}\n`);
  return 2;
}
