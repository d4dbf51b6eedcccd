/**
 * Workload flags of `switchyard bench run`, named as the benchmark each workload comes from names
 * them (vLLM `--random-*` / `--prefix-repetition-*`, SGLang `--gsp-*`, production-stack's
 * multi-round flags), so a command line can be carried over. A flag that belongs to another
 * workload is an error, not silently ignored.
 */
import type { WorkloadOptions } from './workloads.js';

export const WORKLOAD_KINDS = ['fixed', 'random', 'shared-prefix', 'multi-round', 'prefix-repetition', 'trace'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export class WorkloadArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkloadArgsError';
  }
}

type Kind = 'int' | 'ratio' | 'positive' | 'string';
interface FlagSpec { workload: WorkloadKind; kind: Kind; default?: number }

/** Every workload flag, the workload it belongs to, and its default. */
const FLAGS: Record<string, FlagSpec> = {
  'fixed-input-len': { workload: 'fixed', kind: 'int', default: 1024 },
  'fixed-output-len': { workload: 'fixed', kind: 'int', default: 128 },
  'random-input-len': { workload: 'random', kind: 'int', default: 1024 },
  'random-output-len': { workload: 'random', kind: 'int', default: 128 },
  'random-range-ratio': { workload: 'random', kind: 'ratio', default: 0 },
  'random-prefix-len': { workload: 'random', kind: 'int', default: 0 },
  'gsp-num-groups': { workload: 'shared-prefix', kind: 'int', default: 64 },
  'gsp-prompts-per-group': { workload: 'shared-prefix', kind: 'int', default: 16 },
  'gsp-system-prompt-len': { workload: 'shared-prefix', kind: 'int', default: 2048 },
  'gsp-question-len': { workload: 'shared-prefix', kind: 'int', default: 128 },
  'gsp-output-len': { workload: 'shared-prefix', kind: 'int', default: 256 },
  'num-users': { workload: 'multi-round', kind: 'int', default: 320 },
  'num-rounds': { workload: 'multi-round', kind: 'int', default: 10 },
  'shared-system-prompt': { workload: 'multi-round', kind: 'int', default: 1000 },
  'user-history-prompt': { workload: 'multi-round', kind: 'int', default: 20000 },
  'answer-len': { workload: 'multi-round', kind: 'int', default: 100 },
  'prefix-repetition-prefix-len': { workload: 'prefix-repetition', kind: 'int', default: 256 },
  'prefix-repetition-suffix-len': { workload: 'prefix-repetition', kind: 'int', default: 256 },
  'prefix-repetition-num-prefixes': { workload: 'prefix-repetition', kind: 'int', default: 10 },
  'prefix-repetition-output-len': { workload: 'prefix-repetition', kind: 'int', default: 128 },
  'trace-file': { workload: 'trace', kind: 'string' },
  'trace-block-size': { workload: 'trace', kind: 'int', default: 512 },
  'trace-speedup': { workload: 'trace', kind: 'positive', default: 1 },
};

/** `node:util` parseArgs option table for the workload flags (merge into the command's own). */
export const WORKLOAD_ARG_OPTIONS: Record<string, { type: 'string' }> = Object.fromEntries(
  ['workload', ...Object.keys(FLAGS)].map((name) => [name, { type: 'string' as const }]),
);

/** Lengths may be 0 where vLLM allows it (prefix lengths); counts must be positive. */
const MAY_BE_ZERO = new Set(['random-prefix-len', 'shared-system-prompt', 'user-history-prompt', 'prefix-repetition-prefix-len', 'random-input-len']);

function numberFlag(name: string, text: string, spec: FlagSpec): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new WorkloadArgsError(`--${name}: expected a number, got "${text}"`);
  if (spec.kind === 'int') {
    const min = MAY_BE_ZERO.has(name) ? 0 : 1;
    if (!Number.isInteger(n) || n < min) throw new WorkloadArgsError(`--${name}: expected an integer ≥ ${min}, got "${text}"`);
  } else if (spec.kind === 'ratio') {
    if (n < 0 || n >= 1) throw new WorkloadArgsError(`--${name}: expected a number in [0, 1), got "${text}"`);
  } else if (n <= 0) {
    throw new WorkloadArgsError(`--${name}: expected a positive number, got "${text}"`);
  }
  return n;
}

/** Parses `--workload` and its flags from parseArgs `values`; other keys are ignored. */
export function parseWorkloadArgs(values: Readonly<Record<string, unknown>>): WorkloadOptions {
  const kindText = values.workload ?? 'random';
  if (typeof kindText !== 'string' || !(WORKLOAD_KINDS as readonly string[]).includes(kindText)) {
    throw new WorkloadArgsError(`--workload: expected one of ${WORKLOAD_KINDS.join(', ')}, got "${String(kindText)}"`);
  }
  const kind = kindText as WorkloadKind;
  const num = (name: string): number => {
    const spec = FLAGS[name];
    const text = values[name];
    return typeof text === 'string' ? numberFlag(name, text, spec) : spec.default!;
  };
  for (const [name, spec] of Object.entries(FLAGS)) {
    if (values[name] !== undefined && spec.workload !== kind) {
      throw new WorkloadArgsError(`--${name} belongs to --workload ${spec.workload}, not ${kind}`);
    }
  }
  switch (kind) {
    case 'fixed':
      return { kind, inputLen: num('fixed-input-len'), outputLen: num('fixed-output-len') };
    case 'random': {
      const o = { kind, inputLen: num('random-input-len'), outputLen: num('random-output-len'), rangeRatio: num('random-range-ratio'), prefixLen: num('random-prefix-len') };
      if (o.prefixLen + Math.floor(o.inputLen * (1 - o.rangeRatio)) < 1) {
        throw new WorkloadArgsError('--random-input-len is too small: prefix + ⌊input·(1 − range ratio)⌋ must be at least 1 token');
      }
      return o;
    }
    case 'shared-prefix':
      return {
        kind, numGroups: num('gsp-num-groups'), promptsPerGroup: num('gsp-prompts-per-group'), systemPromptLen: num('gsp-system-prompt-len'),
        questionLen: num('gsp-question-len'), outputLen: num('gsp-output-len'),
      };
    case 'multi-round':
      return {
        kind, numUsers: num('num-users'), numRounds: num('num-rounds'), sharedSystemPrompt: num('shared-system-prompt'),
        userHistoryPrompt: num('user-history-prompt'), answerLen: num('answer-len'),
      };
    case 'prefix-repetition':
      return {
        kind, prefixLen: num('prefix-repetition-prefix-len'), suffixLen: num('prefix-repetition-suffix-len'),
        numPrefixes: num('prefix-repetition-num-prefixes'), outputLen: num('prefix-repetition-output-len'),
      };
    case 'trace': {
      const file = values['trace-file'];
      if (typeof file !== 'string' || file === '') throw new WorkloadArgsError('--workload trace needs --trace-file FILE (Mooncake JSONL)');
      return { kind, file, blockSize: num('trace-block-size'), speedup: num('trace-speedup') };
    }
  }
}
