/**
 * llm-d's two scheduler configurations (REFERENCE.md §2.2), as profiles of the selection pipeline:
 *
 * - `llmd-approximate`, the Gateway API Inference Extension's default profile: prefix 3 / queue 2 /
 *   kv-cache 2 over the router's own approximate prefix index, max-score picker.
 *   features: load only (the prefix comes from the profile's own index, written after each pick)
 * - `llmd-precise`, llm-d's "precise" preset: precise-prefix 2 / kv-cache 1 / queue 1, the prefix
 *   from the engines' KV-cache events.
 *   features: full (the pipeline's exact match, with Switchyard's 2 s speculation)
 *
 * Neither filters: llm-d's default profiles have no filter beyond the healthy endpoints, which the
 * pipeline keeps before any stage runs.
 */
import type { PolicyFactory } from '../../../core/routing/policy.js';
import { pipelinePolicy } from '../../../core/routing/pipeline.js';
import { ApproximatePrefixScorer, PodBlockIndex, precisePrefixScorer } from './llmd-prefix.js';
import { kvCacheScorer, maxScorePicker, queueScorer, WeightedScore } from './scoring.js';
import { numericOptions, validateNumeric } from './options.js';

export const LLMD_APPROXIMATE_OPTIONS = {
  // GIE default profile weights: queue 2 / kv 2 / prefix 3 (REFERENCE.md §2.2 "Weight presets")
  prefix_weight: { default: 3, min: 0 },
  queue_weight: { default: 2, min: 0 },
  kv_cache_weight: { default: 2, min: 0 },
  // Block size 16·4 characters: 16 tokens (auto-tuned from vllm:cache_config_info) × 4 chars per token
  block_chars: { default: 64, min: 1 },
  // At most 256 blocks are hashed per request (the approximate prefix plugin's maximum)
  max_blocks: { default: 256, min: 1 },
  // Per-pod LRU of 31,250 entries (the plugin's LRU capacity per server)
  lru_capacity_per_server: { default: 31_250, min: 1 },
} as const;

export const LLMD_PRECISE_OPTIONS = {
  // llm-d "precise" preset: precise-prefix 2 / kv 1 / queue 1 (REFERENCE.md §2.2 "Weight presets")
  precise_prefix_weight: { default: 2, min: 0 },
  kv_cache_weight: { default: 1, min: 0 },
  queue_weight: { default: 1, min: 0 },
} as const;

export const llmdApproximateFactory: PolicyFactory = {
  type: 'llmd-approximate',
  validate: (options) => validateNumeric('llmd-approximate', LLMD_APPROXIMATE_OPTIONS, options),
  create: (options, ctx) => {
    const o = numericOptions(LLMD_APPROXIMATE_OPTIONS, options);
    const prefix = new ApproximatePrefixScorer(new PodBlockIndex(o.lru_capacity_per_server), o.block_chars, o.max_blocks);
    const score = new WeightedScore([
      { scorer: prefix, weight: o.prefix_weight },
      { scorer: queueScorer, weight: o.queue_weight },
      { scorer: kvCacheScorer, weight: o.kv_cache_weight },
    ]);
    return pipelinePolicy({
      type: 'llmd-approximate', features: 'load', filters: [], objective: score,
      picker: maxScorePicker(score, ctx.seed, (f, sel) => prefix.record(f, sel)),
    }, ctx);
  },
};

export const llmdPreciseFactory: PolicyFactory = {
  type: 'llmd-precise',
  validate: (options) => validateNumeric('llmd-precise', LLMD_PRECISE_OPTIONS, options),
  create: (options, ctx) => {
    const o = numericOptions(LLMD_PRECISE_OPTIONS, options);
    const score = new WeightedScore([
      { scorer: precisePrefixScorer, weight: o.precise_prefix_weight },
      { scorer: kvCacheScorer, weight: o.kv_cache_weight },
      { scorer: queueScorer, weight: o.queue_weight },
    ]);
    return pipelinePolicy({ type: 'llmd-precise', features: 'full', filters: [], objective: score, picker: maxScorePicker(score, ctx.seed) }, ctx);
  },
};
