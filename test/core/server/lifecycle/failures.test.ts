import { describe, expect, it } from 'vitest';
import { errors as undiciErrors } from 'undici';
import { Cancel } from '../../../../core/plugin/cancel.js';
import { GatewayError } from '../../../../core/server/errors.js';
import { ClientGone } from '../../../../core/server/lifecycle/exchange.js';
import { transportFailure } from '../../../../core/server/lifecycle/failures.js';
import { attemptOn } from './attempts.js';

const backend = attemptOn('a').backend;

describe('transportFailure', () => {
  it('retries an unreachable backend, names it and the error code, and counts it against the backend', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:8000'), { code: 'ECONNREFUSED' });
    const f = transportFailure(err, backend, new Cancel());
    expect(f).toMatchObject({ retryable: true, kind: 'connect', code: 'ECONNREFUSED' });
    expect((f.error as GatewayError).body().error).toMatchObject({ code: 'upstream_unreachable', message: 'backend a is unreachable (ECONNREFUSED)' });
  });

  it('does not retry a timeout', () => {
    const f = transportFailure(new undiciErrors.HeadersTimeoutError(), backend, new Cancel());
    expect(f).toMatchObject({ retryable: false, kind: 'timeout' });
    expect((f.error as GatewayError).errorName).toBe('SY_ERR_UPSTREAM_TIMEOUT');
  });

  it('blames neither the backend nor retries when the client left, the plugin refused, or the code broke', () => {
    const gone = new Cancel();
    gone.cancel(new Error('client disconnected'));
    const left = transportFailure(new Error('aborted'), backend, gone);
    expect(left).toMatchObject({ retryable: false, code: 'client_gone' });
    expect(left.error).toBeInstanceOf(ClientGone);
    const refused = new GatewayError('SY_ERR_INVALID_FIELD', 'no');
    expect(transportFailure(refused, backend, new Cancel())).toMatchObject({ error: refused, retryable: false, code: 'invalid_field' });
    const bug = transportFailure(new RangeError('Maximum call stack size exceeded'), backend, new Cancel());
    expect(bug).toMatchObject({ retryable: false, code: 'dispatch_failed' });
    expect((bug.error as GatewayError).errorName).toBe('SY_ERR_INTERNAL');
    // None of them counts against the backend's breaker.
    expect([left.kind, transportFailure(refused, backend, new Cancel()).kind, bug.kind]).toEqual([undefined, undefined, undefined]);
  });
});
