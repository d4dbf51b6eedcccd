/**
 * Request generators for `switchyard bench run` (REFERENCE §4.3). Each is deterministic in its
 * seed, and its prompt pieces have exact token counts under the Qwen tokenizer: a length asked for
 * is a length the engine sees.
 */
import type { Tokenizer } from '../../core/tokenizer/tokenizer.js';
import { createRng, mixSeed, nextSeed, randInt, shuffle } from './random.js';
import { ConversationSource, ListSource, type BenchMessage, type Conversation, type RequestSource, type WorkloadRequest } from './source.js';
import { seamlessText, textWithTokens } from './text.js';
import { readTrace, traceRequests } from './trace.js';

export { parseWorkloadArgs, WORKLOAD_ARG_OPTIONS, WORKLOAD_KINDS, type WorkloadKind } from './workload-args.js';

export interface FixedOptions { kind: 'fixed'; inputLen: number; outputLen: number }
/** vLLM's random dataset. */
export interface RandomOptions { kind: 'random'; inputLen: number; outputLen: number; rangeRatio: number; prefixLen: number }
/** SGLang's generated-shared-prefix (GSP) dataset. */
export interface SharedPrefixOptions {
  kind: 'shared-prefix'; numGroups: number; promptsPerGroup: number; systemPromptLen: number; questionLen: number; outputLen: number;
  /** Zipf exponent of group popularity (s > 0): the same total of prompts, most of them on a few groups. */
  zipf?: number;
}

/** Prompts per group under Zipf(s) popularity, summing to `total`, every group at least one. */
export function zipfCounts(groups: number, total: number, s: number): number[] {
  const weights = Array.from({ length: groups }, (_, k) => 1 / (k + 1) ** s);
  const sum = weights.reduce((a, b) => a + b, 0);
  const counts = weights.map((w) => Math.max(1, Math.floor((w / sum) * total)));
  let left = total - counts.reduce((a, b) => a + b, 0);
  for (let k = 0; left > 0; k = (k + 1) % groups, left--) counts[k]++;
  return counts;
}
/** production-stack's multi-round QA. */
export interface MultiRoundOptions {
  kind: 'multi-round'; numUsers: number; numRounds: number; sharedSystemPrompt: number; userHistoryPrompt: number; answerLen: number;
}
/** vLLM's prefix-repetition dataset. */
export interface PrefixRepetitionOptions { kind: 'prefix-repetition'; prefixLen: number; suffixLen: number; numPrefixes: number; outputLen: number }
export interface TraceOptions { kind: 'trace'; file: string; blockSize: number; speedup: number }

export type WorkloadOptions =
  | FixedOptions | RandomOptions | SharedPrefixOptions | MultiRoundOptions | PrefixRepetitionOptions | TraceOptions;

export interface BuildContext {
  tokenizer: Tokenizer;
  seed: number;
  /** Requests wanted; default: the workload's own (1000, or what its shape implies). */
  numPrompts?: number;
  /** `--ignore-eos` for every request (shared-prefix and trace always set it). */
  ignoreEos?: boolean;
}

export interface Workload {
  options: WorkloadOptions;
  /** Requests one run of it sends (multi-round: fewer if a turn fails). */
  size: number;
  /** True when requests carry their own arrival times (trace replay). */
  timed: boolean;
  /** A fresh source over the workload (conversations start over). */
  source(): RequestSource;
}

/** vLLM's `--num-prompts` default. */
export const DEFAULT_NUM_PROMPTS = 1000;

/**
 * Prompt tokens after the chat template, computed as Σ content tokens + the template's own tokens.
 * The template's share is measured once per message shape by rendering one request; it is
 * constant because Qwen's template wraps each content between special tokens and a newline, where
 * the byte-level pre-tokenizer never merges.
 */
class PromptCounter {
  private readonly overhead = new Map<string, number>();

  constructor(private readonly tokenizer: Tokenizer) {}

  count(messages: BenchMessage[], contentTokens: number): number {
    const shape = messages.map((m) => m.role).join(',');
    let extra = this.overhead.get(shape);
    if (extra === undefined) {
      const rendered = this.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
      extra = this.tokenizer.encode(rendered).length - contentTokens;
      this.overhead.set(shape, extra);
    }
    return contentTokens + extra;
  }
}

function staticWorkload(options: WorkloadOptions, requests: WorkloadRequest[], timed = false): Workload {
  return { options, size: requests.length, timed, source: () => new ListSource(requests) };
}

function userRequest(counter: PromptCounter, messages: BenchMessage[], contentTokens: number, maxTokens: number, extra: Partial<WorkloadRequest> = {}): WorkloadRequest {
  return { messages, maxTokens, expectedPromptTokens: counter.count(messages, contentTokens), ...extra };
}

function fixed(o: FixedOptions, ctx: BuildContext, counter: PromptCounter): Workload {
  const n = ctx.numPrompts ?? DEFAULT_NUM_PROMPTS;
  const messages: BenchMessage[] = [{ role: 'user', content: textWithTokens(ctx.tokenizer, o.inputLen, nextSeed(createRng(ctx.seed))) }];
  const request = userRequest(counter, messages, o.inputLen, o.outputLen, { ignoreEos: ctx.ignoreEos });
  return staticWorkload(o, Array.from({ length: n }, () => request));
}

/**
 * vLLM RandomDataset.get_sampling_params: lengths uniform over [⌊len·(1−r)⌋, ⌈len·(1+r)⌉] (output at
 * least 1), after a prefix of `prefixLen` tokens shared by every request. Qwen adds no special
 * tokens, so nothing is subtracted from the input length.
 */
function random(o: RandomOptions, ctx: BuildContext, counter: PromptCounter): Workload {
  const n = ctx.numPrompts ?? DEFAULT_NUM_PROMPTS;
  const rng = createRng(ctx.seed);
  const inLow = Math.floor(o.inputLen * (1 - o.rangeRatio));
  const inHigh = Math.ceil(o.inputLen * (1 + o.rangeRatio));
  const outLow = Math.max(1, Math.floor(o.outputLen * (1 - o.rangeRatio)));
  const outHigh = Math.max(1, Math.ceil(o.outputLen * (1 + o.rangeRatio)));
  const prefix = o.prefixLen > 0 ? textWithTokens(ctx.tokenizer, o.prefixLen, nextSeed(rng)) : '';
  const inputLens = Array.from({ length: n }, () => randInt(rng, inLow, inHigh));
  const outputLens = Array.from({ length: n }, () => randInt(rng, outLow, outHigh));
  const requests = inputLens.map((len, i) => {
    const body = prefix === '' ? textWithTokens(ctx.tokenizer, len, nextSeed(rng)) : seamlessText(ctx.tokenizer, len, nextSeed(rng)).text;
    return userRequest(counter, [{ role: 'user', content: prefix + body }], o.prefixLen + len, outputLens[i], { ignoreEos: ctx.ignoreEos });
  });
  return staticWorkload(o, requests);
}

/**
 * SGLang sample_generated_shared_prefix_requests: one system prompt per group (the shared prefix),
 * a distinct question per request, shuffled with the seed, `ignore_eos` on. SGLang joins the two
 * into one prompt; here the system prompt is the system message, so its tokens stay exact.
 */
function sharedPrefix(o: SharedPrefixOptions, ctx: BuildContext, counter: PromptCounter): Workload {
  const rng = createRng(ctx.seed);
  // Seeds are drawn in generation order, then the (group, seed) pairs are shuffled and cut to
  // --num-prompts before any text is made: a short run costs only the prompts it sends, and is
  // the head of the full run's order.
  const systemSeeds = Array.from({ length: o.numGroups }, () => nextSeed(rng));
  const slots: Array<{ group: number; seed: number }> = [];
  const perGroup = o.zipf ? zipfCounts(o.numGroups, o.numGroups * o.promptsPerGroup, o.zipf) : new Array<number>(o.numGroups).fill(o.promptsPerGroup);
  for (let g = 0; g < o.numGroups; g++) {
    for (let p = 0; p < perGroup[g]; p++) slots.push({ group: g, seed: nextSeed(rng) });
  }
  shuffle(slots, rng);
  const systems = new Map<number, string>();
  const requests = slots.slice(0, ctx.numPrompts ?? slots.length).map(({ group, seed }) => {
    let system = systems.get(group);
    if (system === undefined) {
      system = textWithTokens(ctx.tokenizer, o.systemPromptLen, systemSeeds[group]);
      systems.set(group, system);
    }
    const messages: BenchMessage[] = [
      { role: 'system', content: system },
      { role: 'user', content: textWithTokens(ctx.tokenizer, o.questionLen, seed) },
    ];
    return userRequest(counter, messages, o.systemPromptLen + o.questionLen, o.outputLen, { group, ignoreEos: true });
  });
  return staticWorkload(o, requests);
}

/**
 * vLLM PrefixRepetitionRandomDataset: `numPrefixes` prefixes, ⌊N / numPrefixes⌋ requests each,
 * prefix + own suffix, shuffled.
 */
function prefixRepetition(o: PrefixRepetitionOptions, ctx: BuildContext, counter: PromptCounter): Workload {
  const n = ctx.numPrompts ?? DEFAULT_NUM_PROMPTS;
  const perPrefix = Math.floor(n / o.numPrefixes);
  if (perPrefix === 0) throw new RangeError(`--num-prompts (${n}) must be at least --prefix-repetition-num-prefixes (${o.numPrefixes})`);
  const rng = createRng(ctx.seed);
  const requests: WorkloadRequest[] = [];
  for (let g = 0; g < o.numPrefixes; g++) {
    const prefix = textWithTokens(ctx.tokenizer, o.prefixLen, nextSeed(rng));
    for (let i = 0; i < perPrefix; i++) {
      const content = prefix + seamlessText(ctx.tokenizer, o.suffixLen, nextSeed(rng)).text;
      requests.push(userRequest(counter, [{ role: 'user', content }], o.prefixLen + o.suffixLen, o.outputLen, { group: g, ignoreEos: ctx.ignoreEos }));
    }
  }
  return staticWorkload(o, shuffle(requests, rng));
}

/** production-stack's question text (multi-round-qa.py `_build_new_question`). */
export function multiRoundQuestion(k: number): string {
  return `Here's question #${k}: can you tell me a new long story with a happy ending?`;
}

/**
 * production-stack multi-round QA: a system prompt shared by every user, then per user a long
 * history and one question per round; each later turn carries the conversation so far with the
 * model's real answers. Each history is a unique 32-token head followed by one body text shared by
 * all users: a prefix cache can only reuse a prefix, and the heads diverge right after the system
 * prompt, so caching behaves as with wholly distinct histories — at a fraction of the cost of
 * tokenizing 320 × 20,000 tokens of prose.
 */
function multiRound(o: MultiRoundOptions, ctx: BuildContext): Workload {
  const rng = createRng(ctx.seed);
  const system = o.sharedSystemPrompt > 0 ? textWithTokens(ctx.tokenizer, o.sharedSystemPrompt, nextSeed(rng)) : '';
  const headLen = Math.min(32, o.userHistoryPrompt);
  const body = seamlessText(ctx.tokenizer, o.userHistoryPrompt - headLen, nextSeed(rng)).text;
  const opening: BenchMessage[] = system === '' ? [] : [{ role: 'system', content: system }];
  const conversations: Conversation[] = Array.from({ length: o.numUsers }, () => {
    const history = headLen > 0 ? textWithTokens(ctx.tokenizer, headLen, nextSeed(rng)) + body : '';
    const questions = Array.from({ length: o.numRounds }, (_, k) => multiRoundQuestion(k + 1));
    if (history !== '') questions[0] = `${history}\n\n${questions[0]}`;
    return { opening, questions, maxTokens: o.answerLen, ignoreEos: ctx.ignoreEos };
  });
  const limit = ctx.numPrompts ?? o.numUsers * o.numRounds;
  return { options: o, size: Math.min(limit, o.numUsers * o.numRounds), timed: false, source: () => new ConversationSource(conversations, limit) };
}

function trace(o: TraceOptions, ctx: BuildContext, counter: PromptCounter): Workload {
  const entries = readTrace(o.file);
  const built = traceRequests(entries, ctx.tokenizer, { blockSize: o.blockSize, speedup: o.speedup, seed: ctx.seed, limit: ctx.numPrompts ?? entries.length });
  const requests = built.map(({ contentTokens, ...r }) => ({ ...r, expectedPromptTokens: counter.count(r.messages, contentTokens) }));
  return staticWorkload(o, requests, true);
}

/** Builds a workload; the same options, tokenizer and seed always give the same requests. */
export function buildWorkload(options: WorkloadOptions, ctx: BuildContext): Workload {
  const counter = new PromptCounter(ctx.tokenizer);
  const c = { ...ctx, seed: mixSeed(ctx.seed, 0) };
  switch (options.kind) {
    case 'fixed': return fixed(options, c, counter);
    case 'random': return random(options, c, counter);
    case 'shared-prefix': return sharedPrefix(options, c, counter);
    case 'multi-round': return multiRound(options, c);
    case 'prefix-repetition': return prefixRepetition(options, c, counter);
    case 'trace': return trace(options, c, counter);
  }
}

/** The workload's parameters under their command-line names, for run metadata. */
export function workloadParams(o: WorkloadOptions): Record<string, string | number> {
  switch (o.kind) {
    case 'fixed': return { fixed_input_len: o.inputLen, fixed_output_len: o.outputLen };
    case 'random': return { random_input_len: o.inputLen, random_output_len: o.outputLen, random_range_ratio: o.rangeRatio, random_prefix_len: o.prefixLen };
    case 'shared-prefix': return {
      gsp_num_groups: o.numGroups, gsp_prompts_per_group: o.promptsPerGroup, gsp_system_prompt_len: o.systemPromptLen,
      gsp_question_len: o.questionLen, gsp_output_len: o.outputLen,
    };
    case 'multi-round': return {
      num_users: o.numUsers, num_rounds: o.numRounds, shared_system_prompt: o.sharedSystemPrompt,
      user_history_prompt: o.userHistoryPrompt, answer_len: o.answerLen,
    };
    case 'prefix-repetition': return {
      prefix_repetition_prefix_len: o.prefixLen, prefix_repetition_suffix_len: o.suffixLen,
      prefix_repetition_num_prefixes: o.numPrefixes, prefix_repetition_output_len: o.outputLen,
    };
    case 'trace': return { trace_file: o.file, trace_block_size: o.blockSize, trace_speedup: o.speedup };
  }
}
