/**
 * Usage per API key and model, labelled by the key's id (never the key): requests admitted,
 * prompt, completion and cached prompt tokens as the engine reported them; requests refused by a
 * limit; and the limit store's failures.
 *
 * The per-request counts go to a tally of plain fields, one per key and model, that the four
 * counters read when they are scraped (prom-client's `collect`): a labelled `inc` hashes and
 * checks its labels on every call (~0.4 µs for the four of a request, measured in a loop, more
 * under load), and the scrape is once in seconds, not once a request.
 */
import { Counter, type Registry } from 'prom-client';
import type { Usage } from '../server/sse-relay.js';

/** One key's use of one model: what its requests added up to since the gateway started. */
export interface UsageTally {
  readonly labels: { readonly key: string; readonly model: string };
  requests: number;
  /** Undefined until an engine reported it (no series before then). */
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  cachedTokens: number | undefined;
}

type TallyField = 'requests' | 'promptTokens' | 'completionTokens' | 'cachedTokens';

export class UsageMetrics {
  // Read from the tallies at each scrape, which resets them first: counted only through `tally`.
  private readonly requests: Counter<'key' | 'model'>;
  private readonly promptTokens: Counter<'key' | 'model'>;
  private readonly completionTokens: Counter<'key' | 'model'>;
  private readonly cachedTokens: Counter<'key' | 'model'>;
  readonly limited: Counter<'key' | 'limit'>;
  readonly storeFailures: Counter<'op'>;
  /** By key id, then model. */
  private readonly tallies = new Map<string, Map<string, UsageTally>>();

  constructor(registry: Registry) {
    const registers = [registry];
    const tallied = (field: TallyField) => {
      const tallies = this.tallies;
      return function collect(this: Counter<'key' | 'model'>): void {
        this.reset();
        for (const byModel of tallies.values()) {
          for (const t of byModel.values()) {
            const v = t[field];
            if (v !== undefined) this.inc(t.labels, v);
          }
        }
      };
    };
    this.requests = new Counter({ name: 'switchyard_key_requests_total', help: 'Requests admitted, by API key id and model', labelNames: ['key', 'model'], registers, collect: tallied('requests') });
    this.promptTokens = new Counter({ name: 'switchyard_key_prompt_tokens_total', help: 'Prompt tokens by API key id and model, from the engine usage', labelNames: ['key', 'model'], registers, collect: tallied('promptTokens') });
    this.completionTokens = new Counter({ name: 'switchyard_key_completion_tokens_total', help: 'Completion tokens by API key id and model, from the engine usage', labelNames: ['key', 'model'], registers, collect: tallied('completionTokens') });
    this.cachedTokens = new Counter({ name: 'switchyard_key_cached_prompt_tokens_total', help: 'Prompt tokens served from the engine prefix cache, by API key id and model, where the engine reports them', labelNames: ['key', 'model'], registers, collect: tallied('cachedTokens') });
    this.limited = new Counter({ name: 'switchyard_rate_limited_total', help: 'Requests refused with 429 by a limit: rpm, tpm, concurrency (per key) or client_in_flight (per address, no keys configured); key is "-" for the latter', labelNames: ['key', 'limit'], registers });
    this.storeFailures = new Counter({ name: 'switchyard_limit_store_failures_total', help: 'Rate-limit store operations that failed (store unreachable), by operation', labelNames: ['op'], registers });
  }

  /** The tally of `key` on `model`, made on first use (a request admitted counts in it). */
  tally(key: string, model: string): UsageTally {
    let byModel = this.tallies.get(key);
    if (!byModel) this.tallies.set(key, (byModel = new Map()));
    let t = byModel.get(model);
    if (!t) {
      t = { labels: { key, model }, requests: 0, promptTokens: undefined, completionTokens: undefined, cachedTokens: undefined };
      byModel.set(model, t);
    }
    return t;
  }

  observe(t: UsageTally, usage: Usage | undefined): void {
    if (!usage) return;
    if (isCount(usage.prompt_tokens)) t.promptTokens = (t.promptTokens ?? 0) + usage.prompt_tokens;
    if (isCount(usage.completion_tokens)) t.completionTokens = (t.completionTokens ?? 0) + usage.completion_tokens;
    const cached = usage.prompt_tokens_details?.cached_tokens;
    if (isCount(cached)) t.cachedTokens = (t.cachedTokens ?? 0) + cached;
  }
}

/** A token count an engine may report: a counter must not go down, nor be NaN at the scrape. */
function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}
