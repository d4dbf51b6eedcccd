import { describe, expect, it } from 'vitest';
import { composeHooks, type LifecycleHooks } from '../../../../core/server/lifecycle/hooks.js';
import { attemptOn, refusal } from './attempts.js';

describe('composeHooks', () => {
  it('runs every hook that listens to an event, in the order given, and skips the others', () => {
    const seen: string[] = [];
    const first: LifecycleHooks = {
      onAttempt: (a) => seen.push(`first attempt ${a.backend.id}`),
      onRefused: (_a, f) => seen.push(`first refused ${f.status}`),
    };
    const second: LifecycleHooks = {
      onAttempt: (a) => seen.push(`second attempt ${a.backend.id}`),
      onDispatchEnd: () => seen.push('second end'),
    };
    const hooks = composeHooks([first, {}, second]);
    hooks.onSelect(0);
    hooks.onAttempt(attemptOn('a'));
    hooks.onRefused(attemptOn('a'), refusal(500));
    hooks.onDispatchEnd();
    expect(seen).toEqual(['first attempt a', 'second attempt a', 'first refused 500', 'second end']);
  });

  it('lets a hook change the headers the attempt sends (as the tracing hook puts its traceparent)', () => {
    const hooks = composeHooks([{ onAttempt: (a) => { a.headers = { ...a.headers, traceparent: 'set' }; } }]);
    const a = attemptOn('a');
    hooks.onAttempt(a);
    expect(a.headers.traceparent).toBe('set');
  });
});
