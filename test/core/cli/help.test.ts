/**
 * The `switchyard` command as a user runs it, one real process per command line (the compiled
 * entry when it is up to date, else the TypeScript one under tsx): `--help` and `-h` on every command and subcommand exit
 * 0 with its usage, `--version` prints package.json's version, and an unknown flag exits 2 naming
 * the flag, with the usage. Nothing here starts a gateway or an engine.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCENARIOS } from '../../../bench/scenarios/cli.js';
import { selfCommand } from '../../../core/cli/self.js';

const ROOT = path.join(import.meta.dirname, '..', '..', '..');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Run { code: number; stdout: string; stderr: string }

/**
 * The compiled CLI (dist/, as `npm ci` builds it and users run it) when it is newer than every
 * source file it is built from, else the TypeScript entry under tsx: a process start costs ~0.2 s
 * against ~1 s, over some forty command lines.
 */
function cliCommand(): { command: string; args: string[] } {
  const compiled = path.join(ROOT, 'dist', 'bin', 'main.js');
  if (!existsSync(compiled)) return selfCommand();
  const builtAt = statSync(compiled).mtimeMs;
  const newer = (dir: string): boolean => readdirSync(dir, { withFileTypes: true }).some((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name !== 'node_modules' && e.name !== 'build' && newer(full);
    return e.name.endsWith('.ts') && statSync(full).mtimeMs > builtAt;
  });
  if (['bin', 'core', 'plugins', 'bench', 'native'].some((d) => newer(path.join(ROOT, d)))) return selfCommand();
  return { command: process.execPath, args: [compiled] };
}
const CLI = cliCommand();

/** A few processes at a time: the machine is shared, and tsx start-up is CPU-bound. */
let running = 0;
const waiting: Array<() => void> = [];
async function switchyard(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  if (running >= 3) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    const { command, args: base } = CLI;
    return await new Promise<Run>((resolve) => {
      execFile(command, [...base, ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      });
    });
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Scenarios that parse their flags with core/cli/args.ts; the others get a looser check. */
const SHARED_PARSER_SCENARIOS = ['routing', 'engines-ab', 'slo-capacity', 'in-process'];
const OTHER_SCENARIOS = SCENARIOS.filter((s) => !SHARED_PARSER_SCENARIOS.includes(s));

/** Commands whose usage is Switchyard's own (`usage: switchyard <command>` on stdout). */
const COMMANDS: string[][] = [
  ['serve'], ['check-config'], ['sim'],
  ['bench'], ['bench', 'calibrate'], ['bench', 'run'], ['bench', 'scenario'], ['bench', 'fleet'],
  ...SHARED_PARSER_SCENARIOS.map((s) => ['bench', 'scenario', s]),
];

describe('switchyard --help, -h and --version', () => {
  it.concurrent.each([['--help'], ['-h'], ['help']])('%s prints the command list and exits 0', async (flag) => {
    const r = await switchyard([flag]);
    expect(r.code).toBe(0);
    for (const command of ['serve', 'check-config', 'sim', 'bench calibrate', 'bench run', 'bench scenario', 'bench fleet', '--version']) {
      expect(r.stdout).toContain(command);
    }
  });

  it.concurrent.each([['--version'], ['-V']])('%s prints the package version', async (flag) => {
    const r = await switchyard([flag]);
    expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });

  it.concurrent.each(COMMANDS.flatMap((c) => [[...c, '--help'], [...c, '-h']]))('%s … prints its usage and exits 0', async (...argv: string[]) => {
    const r = await switchyard(argv);
    const command = argv.slice(0, -1).join(' ');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: switchyard ${command}\\b`));
    expect(r.stdout).toContain('-h, --help');
  });

  it.concurrent('bench scenario --help lists every scenario', async () => {
    const r = await switchyard(['bench', 'scenario', '--help']);
    for (const name of SCENARIOS) expect(r.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });

  it.concurrent.each(OTHER_SCENARIOS)('bench scenario %s --help prints its options and exits 0', async (name) => {
    const r = await switchyard(['bench', 'scenario', name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/usage:.*--/s);
  });

  it.concurrent('help COMMAND is COMMAND --help', async () => {
    const r = await switchyard(['help', 'bench', 'fleet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: switchyard bench fleet --config FILE/);
  });

  // Regression: check-config --help opened a file named --help (ENOENT).
  it.concurrent('check-config --help does not read a file named --help', async () => {
    const r = await switchyard(['check-config', '--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toContain('ENOENT');
  });

  it.concurrent('--help wins over an unknown flag on the same line', async () => {
    const r = await switchyard(['serve', '--bogus', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: switchyard serve/);
  });
});

describe('switchyard on a command line that cannot mean what was typed', () => {
  it.concurrent.each([...COMMANDS.filter((c) => c.length > 1 || c[0] !== 'bench'), ['bench', 'scenario', 'overhead'], []])(
    '%s … --no-such-flag exits 2 naming the flag, with the usage',
    async (...command: string[]) => {
      const r = await switchyard([...command, '--no-such-flag']);
      expect(r.code, r.stdout).toBe(2);
      expect(r.stderr).toContain('--no-such-flag');
      expect(r.stderr).toMatch(/usage: /);
      expect(r.stdout).toBe('');
    },
  );

  it.concurrent.each([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['bench', 'frobnicate'], /unknown subcommand 'frobnicate'/],
    [['bench', 'scenario', 'frobnicate'], /unknown scenario 'frobnicate' \(have: routing/],
    [['check-config'], /FILE is required/],
    [['check-config', 'a.yaml', 'b.yaml'], /Unexpected argument 'b.yaml'/],
    [['serve', '--port'], /--port <value>' argument missing/],
    [['bench', 'fleet'], /--config FILE is required/],
  ])('%j exits 2: %s', async (argv, message) => {
    const r = await switchyard(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/usage: /);
  });

  it.concurrent('no command prints the usage and exits 2', async () => {
    const r = await switchyard([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^usage: switchyard <command>/);
  });

  // `npm start --port N`: npm keeps --port (npm_config_port=true) and passes N alone.
  it.concurrent('serve explains npm start --port N instead of failing on a bare number', async () => {
    const r = await switchyard(['serve', '23084'], { npm_config_port: 'true' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('use npm start -- --port 23084');
  });
});
