/**
 * The request-scoped state of one inference request, from the moment it holds a route to its
 * end: what every stage and hook reads instead of a row of positional parameters. Opening an
 * exchange counts the request in flight (a drain or a reload that retires backends waits for
 * it); closing it writes the access log and frees all it held, whatever way the request ended.
 */
import type { ClientReply, ClientRequest } from '../client.js';
import type { Endpoint } from '../../plugin/types.js';
import type { Admission } from '../../auth/tenants.js';
import type { RequestTrace } from '../../telemetry/tracing.js';
import type { InferenceContext } from '../inference.js';
import type { Resolution } from './resolve.js';
import { Cancel } from '../../plugin/cancel.js';
import { UpstreamDeadlines } from '../deadlines.js';
import type { AccessRecord } from '../access-log.js';
import { releaseBody } from '../large-body.js';

export type Body = Record<string, unknown>;

/** What a request arrived with, before any stage ran. */
export interface Arrival {
  readonly endpoint: Endpoint;
  readonly req: ClientRequest;
  readonly reply: ClientReply;
  readonly ctx: InferenceContext;
  /** Its server span; undefined when tracing is off. */
  readonly trace?: RequestTrace;
}

export interface Exchange extends Arrival, Resolution {
  readonly receivedAt: number;
  /** Aborts the upstream: the client left, a deadline passed, or the drain deadline came. */
  readonly cancel: Cancel;
  readonly deadlines: UpstreamDeadlines;
  /** The access-log line, filled in as the stages learn its fields. */
  readonly access: AccessRecord;
  /** The key's admission (limits, rate-limit headers); set by the admit stage. */
  admission?: Admission;
  /**
   * The client's body text (the fast lane's requests) while an attempt may still send it as it
   * came; dropped once an answer is accepted, so a long stream does not hold a second copy.
   */
  bodyText: string | undefined;
  readonly onClientClose: () => void;
}

/** The client went away: nothing is left to answer, and nothing is an error. */
export class ClientGone extends Error {}

/** Count the request in flight, with no await since it got its route. */
export function openExchange(arrival: Arrival, resolution: Resolution, receivedAt: number): Exchange {
  const { ctx, req, reply } = arrival;
  const { route, arm, stream } = resolution;
  const cancel = new Cancel();
  ctx.inFlight.count++;
  ctx.inFlight.cancels?.add(cancel);
  const onClientClose = () => { if (!reply.raw.writableFinished) cancel.cancel(new Error('client disconnected')); };
  // 'close' comes once: a plain listener (once() wraps it in a closure and a state object per request).
  reply.raw.on('close', onClientClose);
  // Every field written out, in one order, admission included: one object shape for every
  // request (spreading the two objects in cost ~6% of the gateway's CPU under load).
  return {
    endpoint: arrival.endpoint, req, reply, ctx, trace: arrival.trace,
    body: resolution.body, model: resolution.model, route, arm, filter: resolution.filter, candidates: resolution.candidates,
    stream, clientWantsUsage: resolution.clientWantsUsage,
    receivedAt, cancel, onClientClose, admission: undefined, bodyText: req.rawBody,
    deadlines: new UpstreamDeadlines(route.timeouts, cancel),
    access: { model: route.model, key: ctx.tenants?.keyIdOf(req), arm: arm.name, status: 0, stream },
  };
}

/** The request is over, whichever way: log it and free everything it held. */
export function closeExchange(x: Exchange): void {
  const { ctx, req, access } = x;
  releaseBody(x.body);
  ctx.accessLog?.write(req, access, performance.now() - x.receivedAt);
  x.trace?.answered(access);
  x.deadlines.clear();
  x.admission?.settle(undefined);
  x.admission?.release();
  x.reply.raw.off('close', x.onClientClose);
  ctx.inFlight.cancels?.delete(x.cancel);
  if (--ctx.inFlight.count === 0) ctx.inFlight.onIdle?.();
  // A finished request frees capacity: waiting requests may now meet their SLO somewhere.
  x.route.admission?.kick();
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
