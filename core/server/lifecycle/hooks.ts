/**
 * The events of one request's lifecycle, and the hooks that listen to them — the shape of
 * fastify's lifecycle hooks and undici's dispatch handlers. Each cross-cutting concern (learner,
 * tracing, metrics, breaker, arms, shadow) is one hook holding its own state; `composeHooks`
 * runs them in a fixed order at each event. Hooks observe: the retry loop alone decides what is
 * tried next, and the relay alone writes to the client.
 *
 * Per attempt, in order: `onSelect`, then `onNoBackend` or `onAttempt` and `onSent`; then
 * `onTransportError`, or `onAnswer` (and `onRefused` when the status is 400 or more, once its
 * body was read). The loop over, `onDispatchEnd`. An accepted answer is relayed between
 * `onRelayStart` and `onRelayEnd`, with `onFirstToken` and one `onOutcome` when it ends without
 * an exception. What need not shape the request waits for `onSent`: the engine is then already
 * reading it while the gateway does its bookkeeping.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Backend, DispatchReply } from '../../plugin/types.js';
import type { Decision } from '../../routing/policy.js';
import type { DispatchRecord } from '../../routing/learner.js';
import type { ArmOutcome } from '../../routing/ab.js';
import type { RelayOutcome, Usage } from '../sse-relay.js';
import type { StatusFailure, TransportFailure } from './failures.js';

/** One try of one backend, as it is about to leave. */
export interface Leaving {
  /** 0 for the first try, then one more per retry. */
  readonly n: number;
  readonly backend: Backend;
  readonly decision: Decision;
  readonly sentAt: number;
  /** The headers sent upstream: the client's, with the tracing hook's `traceparent` when tracing. */
  headers: IncomingHttpHeaders;
}

/** One try of one backend, once it has left. */
export interface Attempt extends Leaving {
  /** What the learner knew when the request left, recorded as soon as it had. */
  readonly record: DispatchRecord;
}

/** An attempt whose backend answered below 400: the answer the client gets. */
export interface Answer {
  readonly attempt: Attempt;
  readonly reply: DispatchReply;
}

/** How a relayed answer went. */
export interface Outcome extends ArmOutcome {
  usage?: Usage;
  /** Streamed answers: how the stream ended and its content events. */
  stream?: { end: RelayOutcome['end']; contentEvents: number };
}

export interface LifecycleHooks {
  /** A backend is about to be chosen for attempt n. */
  onSelect?(n: number): void;
  /** No candidate was left to choose for attempt n. */
  onNoBackend?(n: number): void;
  /** The request is about to leave for the attempt's backend (a hook may still set its headers). */
  onAttempt?(a: Leaving): void;
  /** The request has left (the backend's dispatch was called: an HTTP engine's request is written). */
  onSent?(a: Attempt): void;
  /** The dispatch rejected before any status (connect, timeout, the client left, a plugin's own error). */
  onTransportError?(a: Attempt, f: TransportFailure): void;
  /** A status came, before its body is read. */
  onAnswer?(a: Attempt, status: number): void;
  /** An error status, its body read and classified. */
  onRefused?(a: Attempt, f: StatusFailure): void;
  /** No further attempt will be made, whatever the result. */
  onDispatchEnd?(): void;
  onRelayStart?(a: Attempt): void;
  /** A streamed answer's first content event. */
  onFirstToken?(a: Attempt): void;
  onOutcome?(a: Attempt, o: Outcome): void;
  /** The relay is over, however it ended. */
  onRelayEnd?(a: Attempt): void;
}

/**
 * One hook that runs `hooks` in their order at every event. A class, not a dozen closures: a
 * request composes its hooks once, and the methods are shared by every request.
 */
class HookChain implements Required<LifecycleHooks> {
  constructor(private readonly hooks: readonly LifecycleHooks[]) {}
  onSelect(n: number): void { for (const h of this.hooks) h.onSelect?.(n); }
  onNoBackend(n: number): void { for (const h of this.hooks) h.onNoBackend?.(n); }
  onAttempt(a: Leaving): void { for (const h of this.hooks) h.onAttempt?.(a); }
  onSent(a: Attempt): void { for (const h of this.hooks) h.onSent?.(a); }
  onTransportError(a: Attempt, f: TransportFailure): void { for (const h of this.hooks) h.onTransportError?.(a, f); }
  onAnswer(a: Attempt, status: number): void { for (const h of this.hooks) h.onAnswer?.(a, status); }
  onRefused(a: Attempt, f: StatusFailure): void { for (const h of this.hooks) h.onRefused?.(a, f); }
  onDispatchEnd(): void { for (const h of this.hooks) h.onDispatchEnd?.(); }
  onRelayStart(a: Attempt): void { for (const h of this.hooks) h.onRelayStart?.(a); }
  onFirstToken(a: Attempt): void { for (const h of this.hooks) h.onFirstToken?.(a); }
  onOutcome(a: Attempt, o: Outcome): void { for (const h of this.hooks) h.onOutcome?.(a, o); }
  onRelayEnd(a: Attempt): void { for (const h of this.hooks) h.onRelayEnd?.(a); }
}

export function composeHooks(hooks: readonly LifecycleHooks[]): Required<LifecycleHooks> {
  return new HookChain(hooks);
}
