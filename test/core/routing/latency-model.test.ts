import { describe, expect, it } from 'vitest';
import { LatencyModels, MEMORY_BOUND_KV_USAGE } from '../../../core/routing/latency-model.js';
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

describe('latency model: alike backends share one', () => {
  const h100 = { type: 'http', engine: 'vllm', capabilities: { kvCapacityTokens: 400_000 } };
  const sample = (m: ReturnType<LatencyModels['of']>, i: number) => m.observeTtft({ uncachedTokens: (i % 5) * 800, ahead: i % 3 }, 20 + 0.04 * (i % 5) * 800 + 30 * (i % 3));

  it('fits a fleet of alike backends after minSamples outcomes anywhere, from all of their samples', () => {
    const models = new LatencyModels();
    const ids = ['a', 'b', 'c', 'd'];
    for (const id of ids) models.of(id, { ...h100 });
    // Three samples each: none has the 12 of its own.
    for (let i = 0; i < 12; i++) sample(models.of(ids[i % 4]), i);
    for (const id of ids) {
      expect(models.of(id).fitted).toBe(true);
      expect(models.of(id).sharesModel).toBe(true);
      expect(models.of(id).predictPrefill(1000)).toBeCloseTo(40, 0);
      expect(models.of(id).coefficients().ttft.samples).toBe(12);
    }
  });

  it('never shares across unlike backends (another KV capacity, another engine) nor with one that reports no capacity', () => {
    const models = new LatencyModels();
    models.of('h100', { ...h100 });
    models.of('a10', { ...h100, capabilities: { kvCapacityTokens: 90_000 } });
    models.of('trt', { ...h100, engine: 'trtllm-serve' });
    models.of('unknown', { ...h100, capabilities: {} });
    models.of('unknown-2', { ...h100, capabilities: {} });
    for (let i = 0; i < 20; i++) sample(models.of('h100'), i);
    expect(models.of('h100').fitted).toBe(true);
    for (const id of ['a10', 'trt', 'unknown', 'unknown-2']) expect(models.of(id).fitted).toBe(false);
    for (let i = 0; i < 20; i++) sample(models.of('unknown'), i);
    expect(models.of('unknown').sharesModel).toBe(false);
    expect(models.of('unknown-2').fitted).toBe(false);
  });

  it('joins its kind when a capacity is reported late', () => {
    const models = new LatencyModels();
    const late = { ...h100, capabilities: {} as { kvCapacityTokens?: number } };
    models.of('a', { ...h100 });
    models.of('late', late);
    for (let i = 0; i < 12; i++) sample(models.of('a'), i);
    expect(models.of('late', late).fitted).toBe(false);
    late.capabilities.kvCapacityTokens = 400_000;
    expect(models.of('late', late).fitted).toBe(true);
  });
});

describe('latency model: the prefill backlog drains', () => {
  /** Fitted at 100 ms per 1k uncached tokens, on a clock the test moves. */
  function fitted(): { model: ReturnType<LatencyModels['of']>; at: (ms: number) => void } {
    let now = 0;
    const model = new LatencyModels(() => now).of('a');
    for (let i = 0; i < 40; i++) model.observeTtft({ uncachedTokens: (i % 5) * 800, ahead: i % 3 }, 20 + 0.1 * (i % 5) * 800 + 30 * (i % 3));
    return { model, at: (ms) => { now = ms; } };
  }

  it('counts what is left of the prefills ahead, at the backend\'s own prefill rate, never less than nothing', () => {
    const { model, at } = fitted();
    model.enqueued(10_000);
    expect(model.backlogAhead()).toBe(10_000);
    at(600);
    expect(model.backlogAhead()).toBeCloseTo(4_000, 0);
    at(2_000);
    expect(model.backlogAhead()).toBe(0);
    expect(model.backlogTokens).toBe(10_000);
  });

  it('starts the next request\'s draining at the first token of the one before', () => {
    const { model, at } = fitted();
    model.enqueued(10_000);
    at(1_500); // the estimate ran ahead: 10k tokens look done, the engine is not
    model.enqueued(5_000);
    expect(model.backlogAhead()).toBe(5_000);
    at(2_500);
    model.dequeued(10_000); // its first token, later than the estimate: the next one begins only now
    expect(model.backlogAhead()).toBe(5_000);
    at(2_800);
    expect(model.backlogAhead()).toBeCloseTo(2_000, 0);
    expect(model.prefilling).toBe(1);
  });

  it('drains nothing while the backend\'s KV cache is nearly full: it admits as memory frees, not at its prefill rate', () => {
    const { model, at } = fitted();
    model.enqueued(10_000);
    expect(model.backlogAhead(MEMORY_BOUND_KV_USAGE)).toBe(10_000);
    at(600);
    expect(model.backlogAhead(MEMORY_BOUND_KV_USAGE)).toBe(10_000);
    expect(model.backlogAhead(0.5)).toBe(10_000); // room again: it drains from now on
    at(900);
    expect(model.backlogAhead()).toBeCloseTo(7_000, 0);
  });

  it('drains nothing while the backend\'s prefill rate is unknown', () => {
    let now = 0;
    const model = new LatencyModels(() => now).of('a');
    model.enqueued(10_000);
    now = 60_000;
    expect(model.backlogAhead()).toBe(10_000);
  });
});
