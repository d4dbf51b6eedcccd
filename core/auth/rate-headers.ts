/**
 * OpenAI's rate-limit headers: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, the reset
 * as a duration ("1s", "6m0s", "20ms": until the bucket is full again). A trio is sent for each
 * limit the key has.
 */
import type { BucketState, TakeResult } from './limit-store.js';

export function rateLimitHeaders(result: Pick<TakeResult, 'requests' | 'tokens'>): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (kind: 'requests' | 'tokens', b: BucketState | undefined) => {
    if (!b) return;
    out[`x-ratelimit-limit-${kind}`] = String(b.limit);
    out[`x-ratelimit-remaining-${kind}`] = String(b.remaining);
    out[`x-ratelimit-reset-${kind}`] = formatDuration(b.resetMs);
  };
  put('requests', result.requests);
  put('tokens', result.tokens);
  return out;
}

/** "0s", "20ms", "1.5s", "6m0s", "1h2m3s" (the shape OpenAI sends). */
export function formatDuration(ms: number): string {
  const v = Math.max(0, Math.ceil(ms));
  if (v === 0) return '0s';
  if (v < 1000) return `${v}ms`;
  if (v < 60_000) return `${Number((v / 1000).toFixed(3))}s`;
  const h = Math.floor(v / 3_600_000);
  const m = Math.floor((v % 3_600_000) / 60_000);
  const s = Number(((v % 60_000) / 1000).toFixed(3));
  return `${h > 0 ? `${h}h` : ''}${m}m${s}s`;
}

/** Retry-After in whole seconds, at least 1. */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}
