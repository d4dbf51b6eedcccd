/**
 * SGLang's cache-aware router (REFERENCE.md §2.1: `smg-project/smg:
 * model_gateway/src/policies/cache_aware.rs`; CLI defaults from `sgl-project/sglang:
 * sgl-model-gateway/src/main.rs`), as a profile of the selection pipeline:
 *
 *   features: load only — SGLang reads no engine metric, only the in-flight requests it tracks
 *   objective: that in-flight count (`routerInFlight`)
 *   picker: balance when max − min > 64 and max > 1.5·min → the least loaded; else the match rate
 *           over the model's approximate radix tree; > 0.3 → the worker with the longest match;
 *           else the least-loaded worker (the newer miss rule, PRs #14305/#14532); then the text
 *           is inserted under the chosen worker — in every branch, balance included.
 *
 * The text is SGLang's "raw request text" for routing (its `extract_text_for_routing`): for a
 * chat, the messages' contents — text parts of multi-part contents — joined with a space; for a
 * completion, the prompt (an array joined with a space). No roles, no template, no tools.
 *
 * Departures, each for a reason:
 * - Eviction runs at insert time, once `eviction_interval_secs` (120 s) has passed since the last,
 *   instead of on a background thread every 120 s: the same bound at the same cadence, and no
 *   timer in a benchmark process. `eviction_interval_secs: 0` evicts on every insert past the bound.
 * - Exact ties (equal in-flight among the least loaded, or equal longest matches and loads) go to
 *   a seeded random choice; SGLang takes the first worker in its list (`min_by_key`). With the
 *   gateway's live in-flight counts ties are brief either way; with static loads (the shared
 *   policy contract) the first-worker rule would never spread.
 * - The matched worker is the candidate with the longest match (ties by load); SGLang's tree
 *   returns one tenant of the deepest matched node.
 */
import type { PolicyFactory } from '../../../core/routing/policy.js';
import { seededRandom } from '../../../core/routing/policy.js';
import { pipelinePolicy, type Objective, type Pick, type Picker } from '../../../core/routing/pipeline.js';
import type { Features } from '../../../core/routing/features.js';
import { ApproxRadixTree } from './radix-tree.js';
import { numericOptions, validateNumeric } from './options.js';

export const SGLANG_OPTIONS = {
  // --cache-threshold, CLI default 0.3 (the struct's Default is 0.5), sgl-model-gateway/src/main.rs
  cache_threshold: { default: 0.3, min: 0, max: 1 },
  // --balance-abs-threshold, CLI default 64 (Default 32)
  balance_abs_threshold: { default: 64, min: 0 },
  // --balance-rel-threshold, CLI default 1.5 (Default 1.1)
  balance_rel_threshold: { default: 1.5, min: 1 },
  // --max-tree-size, CLI default 2^26 characters per worker (Default 10,000)
  max_tree_size: { default: 2 ** 26, min: 1 },
  // --eviction-interval, CLI default 120 s (Default 30)
  eviction_interval_secs: { default: 120, min: 0 },
} as const;

type SglangOptions = Record<keyof typeof SGLANG_OPTIONS, number>;

/** The text SGLang's router matches: message contents (or the prompt) joined with a space. */
export function routingText(body: Readonly<Record<string, unknown>>): string {
  const prompt = body.prompt;
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt)) return prompt.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' ');
  if (!Array.isArray(body.messages)) return '';
  const parts: string[] = [];
  for (const m of body.messages as unknown[]) {
    if (!m || typeof m !== 'object') continue;
    const msg = m as Record<string, unknown>;
    const text = contentText(msg.content);
    // An assistant turn's reasoning joins its content (SGLang: "content reasoning", trimmed).
    const reasoning = typeof msg.reasoning_content === 'string' ? msg.reasoning_content : '';
    const joined = reasoning ? `${text} ${reasoning}`.trim() : text;
    if (joined !== '' || msg.role !== 'assistant') parts.push(joined);
  }
  return parts.join(' ');
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts: string[] = [];
  for (const part of content) {
    if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') texts.push((part as { text: string }).text);
  }
  return texts.join(' ');
}

/** The load SGLang compares: the requests this router has in flight on the worker. */
export const routerInFlight: Objective = { name: 'router in-flight', cost: (f) => f.c.signals.inFlight };

/** SGLang's trees, one per model; exposed so tests and the league can inspect them. */
export class ModelTrees {
  private readonly trees = new Map<string, ApproxRadixTree>();

  of(model: string): ApproxRadixTree {
    let t = this.trees.get(model);
    if (!t) {
      t = new ApproxRadixTree();
      this.trees.set(model, t);
    }
    return t;
  }

  all(): ApproxRadixTree[] {
    return [...this.trees.values()];
  }
}

export function sglangPicker(opts: SglangOptions, trees: ModelTrees, seed: number, now: () => number = Date.now): Picker {
  const random = seededRandom(seed);
  let lastEviction = now();
  const anyOf = (set: readonly Features[]) => set[Math.floor(random() * set.length)];

  function choose(set: readonly Features[], load: (f: Features) => number, text: string, tree: ApproxRadixTree): Pick {
    const loads = set.map(load);
    const max = Math.max(...loads);
    const min = Math.min(...loads);
    const leastLoaded = () => anyOf(set.filter((_, i) => loads[i] === min));
    if (max - min > opts.balance_abs_threshold && max > opts.balance_rel_threshold * min) {
      return { f: leastLoaded(), reason: `load: imbalance ${max} vs ${min} in flight`, kind: 'load' };
    }
    const held = tree.match(text);
    const matched = set.map((f) => held.get(f.c.backend.id) ?? 0);
    const best = Math.max(...matched);
    const rate = text.length > 0 ? best / text.length : 0;
    if (rate > opts.cache_threshold) {
      const holders = set.filter((_, i) => matched[i] === best);
      const lightest = Math.min(...holders.map(load));
      const f = anyOf(holders.filter((h) => load(h) === lightest));
      return { f, reason: `prefix ${best}/${text.length} chars (match rate ${rate.toFixed(2)})`, kind: 'prefix' };
    }
    return { f: leastLoaded(), reason: `miss: match rate ${rate.toFixed(2)}, least loaded (${min} in flight)`, kind: 'cold' };
  }

  return {
    pick(set, objective, sel) {
      const load = (f: Features) => objective?.cost(f, sel) ?? f.c.signals.inFlight;
      const text = routingText(sel.request.body);
      const tree = trees.of(sel.request.model);
      const pick = choose(set, load, text, tree);
      tree.insert(text, pick.f.c.backend.id);
      const t = now();
      if (t - lastEviction >= opts.eviction_interval_secs * 1000) {
        lastEviction = t;
        for (const tr of trees.all()) for (const tenant of tr.tenants()) tr.evict(tenant, opts.max_tree_size);
      }
      return pick;
    },
  };
}

export const sglangCacheAwareFactory: PolicyFactory = {
  type: 'sglang-cache-aware',
  validate: (options) => validateNumeric('sglang-cache-aware', SGLANG_OPTIONS, options),
  create: (options, ctx) => {
    const opts = numericOptions(SGLANG_OPTIONS, options);
    return pipelinePolicy({
      type: 'sglang-cache-aware', features: 'load', filters: [], objective: routerInFlight,
      picker: sglangPicker(opts, new ModelTrees(), ctx.seed),
    }, ctx);
  },
};
