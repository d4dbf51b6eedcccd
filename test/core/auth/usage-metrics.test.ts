import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { UsageMetrics } from '../../../core/auth/usage-metrics.js';

// The per-key counters are tallied in plain fields and read by the scrape: what a scrape shows
// must be what labelled counters would have shown, however often it is scraped.
describe('usage metrics', () => {
  const scrape = async (registry: Registry) => (await registry.metrics()).split('\n').filter((l) => l.startsWith('switchyard_key_'));

  it('shows each key and model\'s admitted requests and reported tokens at every scrape, counted once', async () => {
    const registry = new Registry();
    const usage = new UsageMetrics(registry);
    const a = usage.tally('team-a', 'm');
    a.requests += 2;
    usage.observe(a, { prompt_tokens: 10, completion_tokens: 4 });
    usage.observe(a, { prompt_tokens: 5, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 3 } });
    expect(usage.tally('team-a', 'm')).toBe(a);
    const b = usage.tally('team-b', 'm');
    b.requests++;
    usage.observe(b, undefined);
    const first = await scrape(registry);
    expect(first).toEqual(expect.arrayContaining([
      'switchyard_key_requests_total{key="team-a",model="m"} 2',
      'switchyard_key_requests_total{key="team-b",model="m"} 1',
      'switchyard_key_prompt_tokens_total{key="team-a",model="m"} 15',
      'switchyard_key_completion_tokens_total{key="team-a",model="m"} 5',
      'switchyard_key_cached_prompt_tokens_total{key="team-a",model="m"} 3',
    ]));
    // No usage reported: no token series for that key (not a zero one).
    expect(first.filter((l) => l.includes('team-b'))).toEqual(['switchyard_key_requests_total{key="team-b",model="m"} 1']);
    expect(await scrape(registry)).toEqual(first);
    a.requests++;
    expect(await scrape(registry)).toContain('switchyard_key_requests_total{key="team-a",model="m"} 3');
  });

  it('ignores a count an engine got wrong (negative, NaN, infinite, a string): the scrape never fails', async () => {
    const registry = new Registry();
    const usage = new UsageMetrics(registry);
    const t = usage.tally('k', 'm');
    usage.observe(t, { prompt_tokens: 7, completion_tokens: 2 });
    for (const bad of [-5, Number.NaN, Number.POSITIVE_INFINITY, '12' as unknown as number]) {
      usage.observe(t, { prompt_tokens: bad, completion_tokens: bad, prompt_tokens_details: { cached_tokens: bad } });
    }
    const lines = await scrape(registry);
    expect(lines).toContain('switchyard_key_prompt_tokens_total{key="k",model="m"} 7');
    expect(lines).toContain('switchyard_key_completion_tokens_total{key="k",model="m"} 2');
    expect(lines.some((l) => l.startsWith('switchyard_key_cached_prompt_tokens_total{'))).toBe(false);
  });
});
