import { describe, expect, it } from 'vitest';
import { TokenizerChecks } from '../../../core/routing/tokenizer-check.js';
import { fakeBackend } from './policy-contract.js';

describe('TokenizerChecks: the gateway tokens against the engine\'s', () => {
  it('checks the first request and then once per interval, and reports where the ids first differ', async () => {
    let now = 0;
    const checks = new TokenizerChecks(60_000, () => now);
    let engine = [1, 2, 3, 4];
    let calls = 0;
    const backend = { ...fakeBackend('v'), tokenize: async () => { calls++; return engine; } };
    const settle = () => new Promise((r) => setTimeout(r, 0));
    checks.maybeCheck(backend, {}, Int32Array.from([1, 2, 3, 4]));
    await settle();
    expect(checks.report('v')).toEqual({ checked: 1, agreed: 1 });
    checks.maybeCheck(backend, {}, Int32Array.from([1, 2, 3, 4]));
    await settle();
    expect(calls).toBe(1); // within the interval
    now += 60_001;
    engine = [1, 2, 9, 4, 5];
    let warned = false;
    checks.maybeCheck(backend, {}, Int32Array.from([1, 2, 3, 4]), () => { warned = true; });
    await settle();
    expect(warned).toBe(true);
    expect(checks.report('v')).toMatchObject({ checked: 2, agreed: 1, lastMismatch: { firstDifference: 2, gatewayTokens: 4, engineTokens: 5 } });
  });

  it('does nothing for a backend that cannot tokenize, and records an engine failure', async () => {
    const checks = new TokenizerChecks();
    checks.maybeCheck(fakeBackend('x'), {}, Int32Array.from([1]));
    expect(checks.report('x')).toBeUndefined();
    const failing = { ...fakeBackend('y'), tokenize: async () => { throw new Error('POST /tokenize answered 404'); } };
    checks.maybeCheck(failing, {}, Int32Array.from([1]));
    await new Promise((r) => setTimeout(r, 0));
    expect(checks.report('y')?.lastError).toMatch(/404/);
  });
});
