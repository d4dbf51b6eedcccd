/**
 * NVIDIA Dynamo's KV router (REFERENCE.md §2.3: `ai-dynamo/dynamo: docs/router/kv_cache_routing.md`,
 * defaults from `lib/llm/src/kv_router/config.rs`), as a profile of the selection pipeline:
 *
 *   features: full — the match is exact from the engine's KV events where they are live (Dynamo's
 *             default `use_kv_events`), else the gateway's approximate index of its own placements
 *             (the learner's, fed at dispatch: Dynamo's `--no-kv-events` ApproxKvIndexer also
 *             records the router's own decisions)
 *   objective: logit = overlap_score_weight · (ISL − cached) / block_size + decode_blocks
 *   picker: temperature 0 → the least logit, ties to the worker with the smaller tree, then at
 *           random (seeded); temperature T > 0 → p ∝ exp(−(l − l_min) / ((l_max − l_min) · T))
 *
 * decode_blocks is the worker's active blocks as Dynamo tallies them, estimated from this
 * gateway's placements and in-flight counts (active-blocks.ts). The placement is recorded at pick.
 *
 * Departures: the approximate index is the gateway's LRU of byte chunks (core/routing/prefix-index.ts),
 * not Dynamo's token-block tree with a 120 s TTL (`router_ttl_secs`); the cached tokens it reports
 * are chunks × their estimated tokens. Output blocks are not in the decode tally (active-blocks.ts).
 * Dynamo's "potential" decode blocks also add the incoming request's own blocks; they are the same
 * on every worker, so they change no pick at temperature 0 and are left out (the logits then read
 * as Dynamo's documented example does).
 */
import type { PolicyFactory, RoutingState } from '../../../core/routing/policy.js';
import { seededRandom } from '../../../core/routing/policy.js';
import { pipelinePolicy, type Objective, type Picker, type Profile, type Selection } from '../../../core/routing/pipeline.js';
import { matchNote, type Features } from '../../../core/routing/features.js';
import { ActiveBlocks, type Placement } from './active-blocks.js';
import { numericOptions, validateNumeric } from './options.js';

export const DYNAMO_OPTIONS = {
  // overlap_score_weight 1.0 (--kv-overlap-score-weight), lib/llm/src/kv_router/config.rs
  overlap_score_weight: { default: 1, min: 0 },
  // router_temperature 0.0 (--router-temperature), lib/llm/src/kv_router/config.rs
  router_temperature: { default: 0, min: 0 },
  // Block size where the backend's KV events do not give one: Dynamo's --kv-cache-block-size is
  // "backend-specific"; 16 is vLLM's (REFERENCE.md §1.1 cheat sheet, `cache_config_info{block_size}`).
  block_size: { default: 16, min: 1 },
} as const;

export type DynamoOptions = Record<keyof typeof DYNAMO_OPTIONS, number>;

/** The pipeline's estimate of tokens from the prompt's bytes where it is not tokenized. */
const BYTES_PER_TOKEN = 4;

/** The backend's engine block size where its KV events are live, else the configured one. */
function blockSizeOf(f: Features, fallback: number): number {
  return (f.exact ? f.c.backend.kvCache?.blockSize : undefined) ?? fallback;
}

export interface LogitParts {
  prefillBlocks: number;
  decodeBlocks: number;
  logit: number;
}

export function dynamoLogit(f: Features, sel: Selection, opts: DynamoOptions, active: ActiveBlocks): LogitParts {
  const isl = sel.shape?.promptTokens ?? 0;
  const prefillBlocks = Math.max(0, isl - f.matchTokens) / blockSizeOf(f, opts.block_size);
  const decodeBlocks = active.active(f.c.backend.id, f.c.signals.inFlight);
  return { prefillBlocks, decodeBlocks, logit: opts.overlap_score_weight * prefillBlocks + decodeBlocks };
}

export function dynamoObjective(opts: DynamoOptions, active: ActiveBlocks): Objective {
  return { name: 'dynamo logit', cost: (f, sel) => dynamoLogit(f, sel, opts, active).logit };
}

/** Blocks the router's index holds for the backend: the engine's (KV events), else the gateway's chunks. */
export function treeSize(f: Features, state: RoutingState): number {
  if (f.exact) {
    const blocks = f.c.backend.kvCache?.describe().blocks;
    if (typeof blocks === 'number') return blocks;
  }
  return state.prefixes.of(f.c.backend.id).size;
}

/** The request's blocks as recorded in the decode tally (see active-blocks.ts). */
function placementOf(f: Features, sel: Selection, state: RoutingState, opts: DynamoOptions): Placement {
  const isl = sel.shape?.promptTokens ?? 0;
  const bs = blockSizeOf(f, opts.block_size);
  const tokens = sel.request.tokens;
  if (f.exact && tokens) {
    const keys = tokens.keys(bs);
    return { keys, blocksPerKey: 1, tailBlocks: Math.max(0, Math.ceil(isl / bs) - keys.length) };
  }
  const chunks = sel.shape?.chunks ?? [];
  const chunkTokens = state.chunkBytes / BYTES_PER_TOKEN;
  const tail = Math.max(0, isl - chunks.length * chunkTokens);
  return { keys: chunks, blocksPerKey: chunkTokens / bs, tailBlocks: Math.ceil(tail / bs) };
}

export function dynamoPicker(opts: DynamoOptions, active: ActiveBlocks, state: RoutingState, seed: number): Picker {
  const random = seededRandom(seed);
  return {
    // The objective's logit, computed here with its parts for the decision's reason.
    pick(set, _objective, sel) {
      const parts = set.map((f) => dynamoLogit(f, sel, opts, active));
      const logits = parts.map((p) => p.logit);
      const min = Math.min(...logits);
      const max = Math.max(...logits);
      let i: number;
      if (opts.router_temperature > 0 && max > min) {
        const weights = logits.map((l) => Math.exp(-(l - min) / ((max - min) * opts.router_temperature)));
        let u = random() * weights.reduce((a, b) => a + b, 0);
        i = 0;
        while (i < weights.length - 1 && u >= weights[i]) u -= weights[i++];
      } else {
        const tied = set.map((_, j) => j).filter((j) => logits[j] <= min + 1e-9);
        const sizes = tied.map((j) => treeSize(set[j], state));
        const smallest = Math.min(...sizes);
        const small = tied.filter((_, k) => sizes[k] === smallest);
        i = small[Math.floor(random() * small.length)];
      }
      const f = set[i];
      const p = parts[i];
      active.place(f.c.backend.id, placementOf(f, sel, state, opts));
      const cost = `logit ${logits[i].toFixed(1)} = ${opts.overlap_score_weight}·${p.prefillBlocks.toFixed(1)} prefill + ${p.decodeBlocks.toFixed(1)} decode blocks`;
      if (f.match > 0) return { f, reason: `${cost}, ${matchNote(f)}`, kind: 'prefix' };
      return { f, reason: cost, kind: sel.held ? 'spread' : 'cold' };
    },
  };
}

/** The profile, with its decode tally given (tests seed one). */
export function dynamoProfile(opts: DynamoOptions, active: ActiveBlocks, state: RoutingState, seed: number): Profile {
  return {
    type: 'dynamo-kv', features: 'full', bytesPerToken: BYTES_PER_TOKEN, filters: [],
    objective: dynamoObjective(opts, active), picker: dynamoPicker(opts, active, state, seed),
  };
}

export const dynamoKvFactory: PolicyFactory = {
  type: 'dynamo-kv',
  validate: (options) => validateNumeric('dynamo-kv', DYNAMO_OPTIONS, options),
  create: (options, ctx) => pipelinePolicy(dynamoProfile(numericOptions(DYNAMO_OPTIONS, options), new ActiveBlocks(), ctx.state, ctx.seed), ctx),
};
