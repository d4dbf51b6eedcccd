/**
 * OpenAI's rate-limit headers: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, the reset
 * as a duration ("1s", "6m0s", "20ms": until the bucket is full again). A trio is sent for each
 * limit the key has.
 */
import type { BucketState, TakeResult } from './limit-store.js';

const NAMES = {
  requests: ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'],
  tokens: ['x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens'],
} as const;

export function rateLimitHeaders(result: Pick<TakeResult, 'requests' | 'tokens'>): Record<string, string> {
  const out: Record<string, string> = {};
  put(out, NAMES.requests, result.requests);
  put(out, NAMES.tokens, result.tokens);
  return out;
}

function put(out: Record<string, string>, [limit, remaining, reset]: readonly [string, string, string], b: BucketState | undefined): void {
  if (!b) return;
  out[limit] = String(b.limit);
  out[remaining] = String(b.remaining);
  out[reset] = formatDuration(b.resetMs);
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
