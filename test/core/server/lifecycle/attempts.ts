import type { Backend } from '../../../../core/plugin/types.js';
import type { Attempt } from '../../../../core/server/lifecycle/hooks.js';
import type { StatusFailure, TransportFailure } from '../../../../core/server/lifecycle/failures.js';
import { GatewayError } from '../../../../core/server/errors.js';

/** An attempt on backend `id` (the hooks under test read only its backend). */
export function attemptOn(id: string, n = 0): Attempt {
  return { n, backend: { id, engine: 'vllm' } as Backend, decision: {} as Attempt['decision'], record: {} as Attempt['record'], sentAt: 0, headers: {} };
}

export function refusal(status: number): StatusFailure {
  return { status, retryable: status >= 500 || status === 429, error: new GatewayError(status >= 500 ? 'SY_ERR_UPSTREAM_ERROR' : 'SY_ERR_UPSTREAM_REJECTED', 'x') };
}

export const connectFailure: TransportFailure = { error: new Error('unreachable'), retryable: true, code: 'ECONNREFUSED', cause: undefined, kind: 'connect' };
