import { describe, expect, it } from 'vitest';
import { formatDuration, rateLimitHeaders, retryAfterSeconds } from '../../../core/auth/rate-headers.js';

describe('rate-limit headers', () => {
  it('formats durations as OpenAI does', () => {
    expect([0, 20, 999, 1000, 1500, 59_999, 60_000, 360_000, 3_723_000].map(formatDuration))
      .toEqual(['0s', '20ms', '999ms', '1s', '1.5s', '59.999s', '1m0s', '6m0s', '1h2m3s']);
    expect(retryAfterSeconds(1)).toBe('1');
    expect(retryAfterSeconds(2001)).toBe('3');
  });

  it('sends a trio per limit the key has', () => {
    expect(rateLimitHeaders({ requests: { limit: 60, remaining: 59, resetMs: 1000 }, tokens: { limit: 1000, remaining: 900, resetMs: 6000 } })).toEqual({
      'x-ratelimit-limit-requests': '60', 'x-ratelimit-remaining-requests': '59', 'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '1000', 'x-ratelimit-remaining-tokens': '900', 'x-ratelimit-reset-tokens': '6s',
    });
    expect(rateLimitHeaders({})).toEqual({});
  });
});
