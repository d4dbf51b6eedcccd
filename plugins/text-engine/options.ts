/**
 * Options every HTTP text-engine plugin (triton-trtllm, tgi, deepspeed-mii) takes besides the
 * HTTP ones: the model's tokenizer (prompt rendering and usage), the prompt style, and the end
 * id and stop words where the model's generation_config.json does not say or says otherwise.
 *
 *   tokenizer_json: /models/qwen2.5/tokenizer.json        # default: the Qwen tokenizer package
 *   tokenizer_config: /models/qwen2.5/tokenizer_config.json
 *   generation_config: /models/qwen2.5/generation_config.json   # default: beside tokenizer_config
 *   prompt_style: template                                # or a built-in styler (qwen2.5, glm4, …)
 *   end_id: 151645
 *   stop_words: ["<|endoftext|>"]
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROMPT_STYLES, isPromptStyle } from './prompt/stylers.js';
import type { PromptStyle } from './prompt/types.js';

export interface TextEngineOptions {
  tokenizerJson?: string;
  tokenizerConfig?: string;
  generationConfig?: string;
  tokenizerParallelism: number;
  promptStyle: PromptStyle;
  endId?: number;
  padId?: number;
  stopWords: string[];
}

export const TEXT_ENGINE_KEYS = ['tokenizer_json', 'tokenizer_config', 'generation_config', 'tokenizer_parallelism', 'prompt_style',
  'end_id', 'pad_id', 'stop_words'];

const tokenId = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;

export function validateTextEngineOptions(o: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const k of ['tokenizer_json', 'tokenizer_config', 'generation_config']) {
    if (o[k] !== undefined && (typeof o[k] !== 'string' || o[k] === '')) problems.push(`${k}: expected a file path`);
  }
  if ((o.tokenizer_json === undefined) !== (o.tokenizer_config === undefined)) {
    problems.push('tokenizer_json, tokenizer_config: give both (the model\'s tokenizer.json and tokenizer_config.json) or neither');
  }
  const parallelism = o.tokenizer_parallelism;
  if (parallelism !== undefined && !(typeof parallelism === 'number' && Number.isInteger(parallelism) && parallelism >= 0)) {
    problems.push(`tokenizer_parallelism: expected an integer ≥ 0 (0 tokenizes on the event loop), got ${JSON.stringify(parallelism)}`);
  }
  if (o.prompt_style !== undefined && !isPromptStyle(o.prompt_style)) problems.push(`prompt_style: expected one of ${PROMPT_STYLES.join(', ')}`);
  for (const k of ['end_id', 'pad_id']) if (o[k] !== undefined && !tokenId(o[k])) problems.push(`${k}: expected a token id (an integer ≥ 0)`);
  if (o.stop_words !== undefined && !(Array.isArray(o.stop_words) && o.stop_words.every((s) => typeof s === 'string' && s !== ''))) {
    problems.push('stop_words: expected a list of non-empty strings');
  }
  return problems;
}

export function readTextEngineOptions(o: Record<string, unknown>, configDir: string): TextEngineOptions {
  const file = (k: string): string | undefined => (typeof o[k] === 'string' ? path.resolve(configDir, o[k] as string) : undefined);
  return {
    tokenizerJson: file('tokenizer_json'),
    tokenizerConfig: file('tokenizer_config'),
    generationConfig: file('generation_config'),
    tokenizerParallelism: typeof o.tokenizer_parallelism === 'number' ? o.tokenizer_parallelism : 1,
    promptStyle: isPromptStyle(o.prompt_style) ? o.prompt_style : 'template',
    endId: typeof o.end_id === 'number' ? o.end_id : undefined,
    padId: typeof o.pad_id === 'number' ? o.pad_id : undefined,
    stopWords: Array.isArray(o.stop_words) ? (o.stop_words as string[]) : [],
  };
}

/** What a model's generation_config.json says about ending: its end-of-sequence ids and pad id. */
export interface GenerationConfig {
  eosTokenIds: number[];
  padTokenId?: number;
}

/**
 * The model's generation_config.json (transformers' GenerationConfig: `eos_token_id` is one id or
 * a list, Qwen2.5 lists `<|im_end|>` and `<|endoftext|>`), from the option or beside the
 * tokenizer_config; an empty config when there is none.
 */
export function readGenerationConfig(opts: TextEngineOptions): GenerationConfig {
  const file = opts.generationConfig ?? (opts.tokenizerConfig ? path.join(path.dirname(opts.tokenizerConfig), 'generation_config.json') : undefined);
  if (file === undefined || (opts.generationConfig === undefined && !existsSync(file))) return { eosTokenIds: [] };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`generation_config: cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const o = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
  const eos = Array.isArray(o.eos_token_id) ? o.eos_token_id : [o.eos_token_id];
  return {
    eosTokenIds: eos.filter(tokenId) as number[],
    padTokenId: tokenId(o.pad_token_id) ? (o.pad_token_id as number) : undefined,
  };
}
