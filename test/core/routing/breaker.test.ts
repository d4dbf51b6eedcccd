import { describe, expect, it } from 'vitest';
import { CircuitBreaker, RetryBudget } from '../../../core/routing/breaker.js';

describe('circuit breaker', () => {
  it('opens on consecutive failures, half-opens after the cool-down for one probe, closes on its success', () => {
    let now = 0;
    const b = new CircuitBreaker({ consecutiveFailures: 3, failureRate: 0.9, window: 20, minSamples: 10, openMs: 1000 }, () => now);
    b.onFailure();
    b.onFailure();
    expect(b.status()).toBe('closed');
    b.onFailure();
    expect(b.status()).toBe('open');
    expect(b.allows()).toBe(false);
    now = 1000;
    expect(b.status()).toBe('half-open');
    expect(b.allows()).toBe(true);
    b.onDispatch();
    expect(b.allows()).toBe(false); // one probe at a time
    b.onSuccess();
    expect(b.status()).toBe('closed');
  });

  it('re-opens when the probe fails', () => {
    let now = 0;
    const b = new CircuitBreaker({ consecutiveFailures: 1, failureRate: 1, window: 5, minSamples: 5, openMs: 100 }, () => now);
    b.onFailure();
    now = 100;
    b.onDispatch();
    b.onFailure();
    expect(b.status()).toBe('open');
    expect(b.opened).toBe(2);
  });

  it('opens on a failure rate even without a failure streak', () => {
    const b = new CircuitBreaker({ consecutiveFailures: 100, failureRate: 0.5, window: 10, minSamples: 10, openMs: 1000 });
    for (let i = 0; i < 10; i++) {
      if (i % 2 === 1) b.onFailure();
      else b.onSuccess();
    }
    expect(b.status()).toBe('open');
  });
});

describe('retry budget', () => {
  it('allows retries up to a fraction of requests plus a floor per second', () => {
    let now = 0;
    const budget = new RetryBudget(0.2, 1, () => now);
    expect(budget.tryRetry()).toBe(true); // the initial floor
    expect(budget.tryRetry()).toBe(false);
    for (let i = 0; i < 10; i++) budget.onRequest();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    now = 3000;
    expect(budget.tryRetry()).toBe(true);
  });
});
