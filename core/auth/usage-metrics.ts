/**
 * Usage per API key and model, labelled by the key's id (never the key): requests admitted,
 * prompt, completion and cached prompt tokens as the engine reported them; requests refused by a
 * limit; and the limit store's failures.
 */
import { Counter, type Registry } from 'prom-client';
import type { Usage } from '../server/sse-relay.js';

export class UsageMetrics {
  readonly requests: Counter<'key' | 'model'>;
  readonly promptTokens: Counter<'key' | 'model'>;
  readonly completionTokens: Counter<'key' | 'model'>;
  readonly cachedTokens: Counter<'key' | 'model'>;
  readonly limited: Counter<'key' | 'limit'>;
  readonly storeFailures: Counter<'op'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({ name: 'switchyard_key_requests_total', help: 'Requests admitted, by API key id and model', labelNames: ['key', 'model'], registers });
    this.promptTokens = new Counter({ name: 'switchyard_key_prompt_tokens_total', help: 'Prompt tokens by API key id and model, from the engine usage', labelNames: ['key', 'model'], registers });
    this.completionTokens = new Counter({ name: 'switchyard_key_completion_tokens_total', help: 'Completion tokens by API key id and model, from the engine usage', labelNames: ['key', 'model'], registers });
    this.cachedTokens = new Counter({ name: 'switchyard_key_cached_prompt_tokens_total', help: 'Prompt tokens served from the engine prefix cache, by API key id and model, where the engine reports them', labelNames: ['key', 'model'], registers });
    this.limited = new Counter({ name: 'switchyard_rate_limited_total', help: 'Requests refused with 429 by a limit: rpm, tpm, concurrency (per key) or client_in_flight (per address, no keys configured); key is "-" for the latter', labelNames: ['key', 'limit'], registers });
    this.storeFailures = new Counter({ name: 'switchyard_limit_store_failures_total', help: 'Rate-limit store operations that failed (store unreachable), by operation', labelNames: ['op'], registers });
  }

  observe(key: string, model: string, usage: Usage | undefined): void {
    if (!usage) return;
    const labels = { key, model };
    if (typeof usage.prompt_tokens === 'number') this.promptTokens.inc(labels, usage.prompt_tokens);
    if (typeof usage.completion_tokens === 'number') this.completionTokens.inc(labels, usage.completion_tokens);
    const cached = usage.prompt_tokens_details?.cached_tokens;
    if (typeof cached === 'number') this.cachedTokens.inc(labels, cached);
  }
}
