import { describe, expect, it } from 'vitest';
import { CircuitBreaker, DEFAULT_BREAKER } from '../../../../core/routing/breaker.js';
import { breakerHook } from '../../../../core/server/lifecycle/breaker-hook.js';
import { composeHooks } from '../../../../core/server/lifecycle/hooks.js';
import { attemptOn, connectFailure, refusal } from './attempts.js';

/** Breakers that open on their first counted failure, and the breaker hook of one request over them. */
function request() {
  const breakers = new Map<string, CircuitBreaker>();
  const of = (id: string) => {
    if (!breakers.has(id)) breakers.set(id, new CircuitBreaker({ ...DEFAULT_BREAKER, consecutiveFailures: 1 }));
    return breakers.get(id)!;
  };
  return { of, hooks: composeHooks([breakerHook(of)]) };
}

describe('breaker hook: the suspect rule for 5xx', () => {
  it('blames the backend that answered 5xx once another answers the same request', () => {
    const { of, hooks } = request();
    hooks.onAttempt(attemptOn('a'));
    hooks.onAnswer(attemptOn('a'), 500);
    hooks.onRefused(attemptOn('a'), refusal(500));
    expect(of('a').status()).toBe('closed'); // a suspect, not yet blamed
    hooks.onAttempt(attemptOn('b', 1));
    hooks.onAnswer(attemptOn('b', 1), 200);
    hooks.onDispatchEnd();
    expect(of('a').status()).toBe('open');
    expect(of('b').status()).toBe('closed');
  });

  it('blames no one when a second backend fails the request the same way', () => {
    const { of, hooks } = request();
    for (const [n, id] of ['a', 'b'].entries()) {
      hooks.onAttempt(attemptOn(id, n));
      hooks.onAnswer(attemptOn(id, n), 503);
      hooks.onRefused(attemptOn(id, n), refusal(503));
    }
    hooks.onDispatchEnd();
    expect([of('a').status(), of('b').status()]).toEqual(['closed', 'closed']);
  });

  it('blames no one when no other candidate settled it, and frees the half-open probe', () => {
    let now = 0;
    const probe = new CircuitBreaker({ ...DEFAULT_BREAKER, consecutiveFailures: 1, openMs: 10 }, () => now);
    probe.onFailure();
    now = 10;
    const hooks = composeHooks([breakerHook(() => probe)]);
    hooks.onAttempt(attemptOn('a'));
    expect(probe.allows()).toBe(false); // the attempt holds the one probe
    hooks.onAnswer(attemptOn('a'), 500);
    hooks.onRefused(attemptOn('a'), refusal(500));
    hooks.onDispatchEnd();
    expect(probe.status()).toBe('half-open');
    expect(probe.allows()).toBe(true);
  });

  it('counts a connect failure against the backend, a 4xx as an answer, and a failure that is not the backend\'s as nothing', () => {
    const { of, hooks } = request();
    hooks.onAttempt(attemptOn('a'));
    hooks.onTransportError(attemptOn('a'), connectFailure);
    hooks.onAttempt(attemptOn('b', 1));
    hooks.onAnswer(attemptOn('b', 1), 400);
    hooks.onRefused(attemptOn('b', 1), refusal(400));
    hooks.onAttempt(attemptOn('c', 2));
    hooks.onTransportError(attemptOn('c', 2), { ...connectFailure, kind: undefined, code: 'client_gone' });
    hooks.onDispatchEnd();
    expect([of('a').status(), of('b').status(), of('c').status()]).toEqual(['open', 'closed', 'closed']);
  });
});
