/**
 * Engine-model profiles (native/profiles.yaml): one per GPU + model + engine. A profile names the
 * engine's real KV block size, derives KV capacity from GPU memory and the model's shape, and
 * carries the step-time coefficients fitted against published throughput tables
 * (`switchyard bench calibrate --fit`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { ConfigReader as Reader, ConfigError, type Obj } from '../core/config/reader.js';
import { packageRoot } from '../core/util/package-root.js';
import type { EngineProfile, SchedulerPolicy } from './types.js';

export type SimEngineKind = 'vllm' | 'lmdeploy' | 'trtllm';

export interface SimProfile {
  name: string;
  engine: SimEngineKind;
  /** Hugging Face id of the modelled model, e.g. Qwen/Qwen2.5-7B-Instruct. */
  model: string;
  gpu: string;
  engineProfile: EngineProfile;
  /** Per-request cost of the engine's API server outside the step loop (model ms). */
  frontendOverheadMs: number;
  /** How KV capacity was derived, for /sim/info and the docs. */
  kvCapacity: { bytesPerToken: number; kvBytes: number; tokens: number };
}

export const DEFAULT_PROFILES_FILE = path.join(packageRoot(import.meta.url), 'native', 'profiles.yaml');

/** A profile file that fails validation: the message names the file and the path inside it. */
export { ConfigError as ProfileError } from '../core/config/reader.js';

const ENGINES = ['vllm', 'lmdeploy', 'trtllm'] as const;
const POLICIES: readonly SchedulerPolicy[] = ['guaranteed-no-evict', 'max-utilization'];

function parseProfile(r: Reader, doc: Obj, name: string): SimProfile {
  const at = `profiles.${name}`;
  const p = r.obj((r.obj(doc.profiles, 'profiles'))[name], at);
  const gpuKey = r.str(p, 'gpu', at);
  const gpu = r.obj(r.obj(doc.gpus, 'gpus')[gpuKey], `gpus.${gpuKey}`);
  const modelKey = r.str(p, 'model', at);
  const model = r.obj(r.obj(doc.models, 'models')[modelKey], `models.${modelKey}`);
  const kv = r.obj(p.kv_cache, `${at}.kv_cache`);
  const sched = r.obj(p.scheduler, `${at}.scheduler`);
  const step = r.obj(p.step_ms, `${at}.step_ms`);

  const gpus = r.int(p, 'gpus', at, undefined, 1);
  const totalBytes = r.num(gpu, 'memory_gb', `gpus.${gpuKey}`, undefined, 1) * 1e9 * gpus;
  const dtypeBytes = r.num(model, 'dtype_bytes', `models.${modelKey}`, undefined, 1);
  const weightBytes = r.num(model, 'params_b', `models.${modelKey}`, undefined, 0.1) * 1e9 * dtypeBytes;
  const bytesPerToken =
    2 * r.int(model, 'layers', `models.${modelKey}`, undefined, 1) * r.int(model, 'kv_heads', `models.${modelKey}`, undefined, 1) *
    r.int(model, 'head_dim', `models.${modelKey}`, undefined, 1) * dtypeBytes;
  const fraction = r.num(kv, 'memory_fraction', `${at}.kv_cache`, undefined);
  const reserve = r.num(kv, 'reserve_gb', `${at}.kv_cache`, undefined) * 1e9 * gpus;
  // vLLM's gpu_memory_utilization caps *total* memory; TensorRT-LLM's free_gpu_memory_fraction
  // and LMDeploy's cache_max_entry_count take a share of what is *free* after the weights.
  const of = r.oneOf(kv, 'fraction_of', `${at}.kv_cache`, ['total', 'free'] as const);
  const kvBytes = of === 'total'
    ? fraction * totalBytes - weightBytes - reserve
    : fraction * (totalBytes - weightBytes - reserve);
  const blockSize = r.int(kv, 'block_size', `${at}.kv_cache`, undefined, 1);
  const numBlocks = Math.floor(kvBytes / (bytesPerToken * blockSize));
  if (numBlocks < 1) r.fail(`${at}.kv_cache`, 'memory left for a KV cache after the weights', kvBytes);

  const engineProfile: EngineProfile = {
    name,
    blockSize,
    numBlocks,
    maxBatchSize: r.int(sched, 'max_batch_size', `${at}.scheduler`, undefined, 1),
    maxNumTokens: r.int(sched, 'max_num_tokens', `${at}.scheduler`, undefined, 1),
    chunkedPrefill: r.bool(sched, 'chunked_prefill', `${at}.scheduler`, undefined),
    enablePrefixCaching: r.bool(sched, 'prefix_caching', `${at}.scheduler`, undefined),
    schedulerPolicy: r.oneOf(sched, 'policy', `${at}.scheduler`, POLICIES),
    maxModelLen: r.int(sched, 'max_model_len', `${at}.scheduler`, undefined, 2),
    maxQueueSize: r.int(sched, 'max_queue_size', `${at}.scheduler`, undefined, 0),
    stepBaseMs: r.num(step, 'base', `${at}.step_ms`, undefined, 1),
    stepPerSeqMs: r.num(step, 'per_seq', `${at}.step_ms`, undefined),
    stepPerPrefillTokenMs: r.num(step, 'per_prefill_token', `${at}.step_ms`, undefined),
    stepPerKvTokenMs: r.num(step, 'per_kv_token', `${at}.step_ms`, undefined),
  };
  return {
    name,
    engine: r.oneOf(p, 'engine', at, ENGINES),
    model: r.str(model, 'hf', `models.${modelKey}`),
    gpu: gpus > 1 ? `${gpus}x ${r.str(gpu, 'name', `gpus.${gpuKey}`)}` : r.str(gpu, 'name', `gpus.${gpuKey}`),
    engineProfile,
    frontendOverheadMs: r.num(p, 'frontend_overhead_ms', at, undefined),
    kvCapacity: { bytesPerToken, kvBytes, tokens: numBlocks * blockSize },
  };
}

const cache = new Map<string, Obj>();

function readDoc(file: string): Obj {
  let doc = cache.get(file);
  if (!doc) {
    const parsed: unknown = yaml.load(readFileSync(file, 'utf8'), { filename: file });
    doc = new Reader(file).obj(parsed, '(top level)');
    cache.set(file, doc);
  }
  return doc;
}

export function listProfiles(file = DEFAULT_PROFILES_FILE): string[] {
  return Object.keys(new Reader(file).obj(readDoc(file).profiles, 'profiles'));
}

export function loadProfile(name: string, file = DEFAULT_PROFILES_FILE): SimProfile {
  const doc = readDoc(file);
  const names = listProfiles(file);
  if (!names.includes(name)) {
    throw new ConfigError(`${file}: no profile named '${name}' (have: ${names.join(', ')})`);
  }
  return parseProfile(new Reader(file), doc, name);
}
