/**
 * Why a dispatch attempt failed before its first byte, what the client is told, and whether
 * another candidate may help. The client learns which backend and what kind of failure, never
 * the engine's address.
 */
import { errors as undiciErrors } from 'undici';
import type { Backend } from '../../plugin/types.js';
import type { Cancel } from '../../plugin/cancel.js';
import { GatewayError, type ErrorName } from '../errors.js';
import { ClientGone } from './exchange.js';

export interface AttemptFailure {
  /** The answer, should no other attempt help. */
  readonly error: Error;
  readonly retryable: boolean;
}

/** The dispatch rejected: no status came. */
export interface TransportFailure extends AttemptFailure {
  /** The code the attempt's span records. */
  readonly code: string;
  readonly cause: unknown;
  /** Set when the backend itself failed (it is counted against it); otherwise the attempt proved nothing about it. */
  readonly kind?: 'timeout' | 'connect';
}

/** The backend answered with an error status. */
export interface StatusFailure extends AttemptFailure {
  readonly error: GatewayError;
  readonly status: number;
}

export function transportFailure(err: unknown, backend: Backend, cancel: Cancel): TransportFailure {
  const code = err instanceof GatewayError ? err.body().error.code : cancel.aborted ? 'client_gone' : transportCode(err) ?? 'dispatch_failed';
  if (err instanceof GatewayError) return { error: err, retryable: false, code, cause: err };
  if (cancel.aborted) return { error: new ClientGone('client disconnected before the upstream answered'), retryable: false, code, cause: err };
  if (isLanguageError(err)) {
    // A bug, or a body that broke the plugin (a RangeError from serialising it): Switchyard's
    // fault or the request's, never the backend's.
    return { error: new GatewayError('SY_ERR_INTERNAL', 'internal error', { cause: err }), retryable: false, code, cause: err };
  }
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) {
    return { error: new GatewayError('SY_ERR_UPSTREAM_TIMEOUT', `backend ${backend.id} did not answer in time`), retryable: false, code, cause: err, kind: 'timeout' };
  }
  const detail = transportCode(err);
  return {
    error: new GatewayError('SY_ERR_UPSTREAM_UNREACHABLE', `backend ${backend.id} is unreachable${detail ? ` (${detail})` : ''}`),
    retryable: true, code, cause: err, kind: 'connect',
  };
}

export function statusFailure(backend: Backend, status: number, text: string): StatusFailure {
  const parsed = backend.parseError(status, text);
  const message = `${backend.id}: ${parsed.message}`;
  if (status === 429) {
    return { error: new GatewayError('SY_ERR_UPSTREAM_RATE_LIMITED', message, { headers: { 'retry-after': '1' } }), retryable: true, status };
  }
  if (status >= 500) return { error: new GatewayError('SY_ERR_UPSTREAM_ERROR', message), retryable: true, status };
  // The engine refused this request: another replica of the same engine would too.
  const name: ErrorName = 'SY_ERR_UPSTREAM_REJECTED';
  return { error: new GatewayError(name, parsed.message, { status, param: typeof parsed.param === 'string' ? parsed.param : null }), retryable: false, status };
}

/**
 * JavaScript's own errors (TypeError, RangeError…) mean a bug or a request that broke the code
 * handling it; everything else a plugin rejects with — undici's and Node's network errors, an
 * in-process engine's failures — is the backend's.
 */
function isLanguageError(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError
    || err instanceof ReferenceError || err instanceof EvalError || err instanceof URIError;
}

function transportCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
