import { describe, expect, it } from 'vitest';
import { LatencyModels } from '../../../core/routing/latency-model.js';
import { seededRandom } from '../../../core/routing/policy.js';

describe('latency model: the prefill slope', () => {
  it('takes a slope its own samples identify', () => {
    const models = new LatencyModels();
    const a = models.of('a');
    for (let i = 0; i < 40; i++) {
      const uncachedTokens = (i % 5) * 800;
      a.observeTtft({ uncachedTokens, ahead: i % 4 }, 20 + 0.04 * uncachedTokens + 30 * (i % 4));
    }
    expect(a.identifiesPrefill()).toBe(true);
    expect(a.predictPrefill(1000)).toBeCloseTo(40, 0);
  });

  it('borrows the fleet\'s steepest identified slope when its samples cannot tell prefill from queueing', () => {
    const models = new LatencyModels();
    const random = seededRandom(3);
    for (const [id, slope] of [['a', 0.04], ['b', 0.06]] as const) {
      const m = models.of(id);
      for (let i = 0; i < 40; i++) {
        const uncachedTokens = (i % 5) * 800;
        m.observeTtft({ uncachedTokens, ahead: 0 }, 20 + slope * uncachedTokens + 5 * random());
      }
    }
    // Every sample a 3,600-token cold prompt behind a queue this gateway did not see: TTFT varies,
    // the prompt does not.
    const c = models.of('c');
    for (let i = 0; i < 40; i++) c.observeTtft({ uncachedTokens: 3600, ahead: 0 }, 300 + 900 * random());
    expect(c.fitted).toBe(true);
    expect(c.identifiesPrefill()).toBe(false);
    expect(c.predictPrefill(1000)).toBeCloseTo(models.of('b').predictPrefill(1000), 6);
    expect(c.predictPrefill(1000)).toBeGreaterThan(55);
    // Alone, with nothing to borrow, it never goes below zero.
    const alone = new LatencyModels().of('x');
    for (let i = 0; i < 40; i++) alone.observeTtft({ uncachedTokens: 3600, ahead: 0 }, 300 + 900 * random());
    expect(alone.predictPrefill(1000)).toBeGreaterThanOrEqual(0);
  });
});
