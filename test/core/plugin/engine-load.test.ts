import { describe, expect, it } from 'vitest';
import { compactLoad, intervalHitRate } from '../../../core/plugin/engine-load.js';

describe('intervalHitRate', () => {
  it('is Δhits / Δqueries between two reads', () => {
    expect(intervalHitRate({ prefixQueries: 100, prefixHits: 20 }, { prefixQueries: 300, prefixHits: 170 })).toBe(0.75);
  });

  it('uses the totals for the first read', () => {
    expect(intervalHitRate(undefined, { prefixQueries: 200, prefixHits: 50 })).toBe(0.25);
  });

  it('is undefined when nothing was looked up in between', () => {
    expect(intervalHitRate({ prefixQueries: 100, prefixHits: 20 }, { prefixQueries: 100, prefixHits: 20 })).toBeUndefined();
    expect(intervalHitRate(undefined, { prefixQueries: 0, prefixHits: 0 })).toBeUndefined();
  });

  it('treats a counter that went down as an engine restart: the new totals are the interval', () => {
    expect(intervalHitRate({ prefixQueries: 1000, prefixHits: 900 }, { prefixQueries: 40, prefixHits: 10 })).toBe(0.25);
  });

  it("falls back to the engine's own gauge when there are no counters", () => {
    expect(intervalHitRate({ prefixHitRate: 0.1 }, { prefixHitRate: 0.4 })).toBe(0.4);
    expect(intervalHitRate(undefined, {})).toBeUndefined();
  });

  it('clamps to 0..1', () => {
    expect(intervalHitRate({ prefixQueries: 10, prefixHits: 0 }, { prefixQueries: 20, prefixHits: 30 })).toBe(1);
  });
});

describe('compactLoad', () => {
  it('drops undefined fields and keeps zeros', () => {
    const load = compactLoad({ running: 0, waiting: undefined, kvUsage: 0.5 });
    expect(load).toStrictEqual({ running: 0, kvUsage: 0.5 });
    expect('waiting' in load).toBe(false);
  });
});
