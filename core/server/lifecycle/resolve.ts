/**
 * The first stages of a request: resolve (its route, its A/B arm, the candidates that serve the
 * endpoint, the backend a continued response must go back to) and admit (the key's limits).
 * Both refuse with the error catalogue's codes before anything is sent upstream.
 */
import type { Backend } from '../../plugin/types.js';
import type { Route } from '../../routing/route-table.js';
import type { Candidate } from '../../routing/policy.js';
import type { ArmSpec } from '../../routing/ab.js';
import { GatewayError } from '../errors.js';
import type { Arrival, Body, Exchange } from './exchange.js';
import type { Admission } from '../../auth/tenants.js';
import { isObject } from './exchange.js';

export type BackendFilter = ((b: Backend) => boolean) | undefined;

export interface Resolution {
  readonly body: Body;
  /** The model the client asked for (a route may serve it under another name). */
  readonly model: string;
  readonly route: Route;
  readonly arm: ArmSpec;
  /** Which of the route's backends may serve it; undefined: all of them. */
  readonly filter: BackendFilter;
  readonly candidates: Candidate[];
  readonly stream: boolean;
  readonly clientWantsUsage: boolean;
}

export function resolve(arrival: Arrival): Resolution {
  const { endpoint, req, ctx } = arrival;
  const body = req.body as Body;
  const model = body.model as string;
  const route = ctx.routes.resolve(model);
  if (!route || ctx.tenants?.mayUse(req, route) === false) {
    throw new GatewayError('SY_ERR_MODEL_NOT_FOUND', `The model \`${model}\` does not exist or you do not have access to it.`, { param: 'model' });
  }
  const serves = servingFilter(arrival);
  const arm = route.arms.pick(body, req.headers);
  // A continued response goes to the backend that holds it, whatever its arm.
  const owner = previousResponseOwner(arrival, body);
  const filter: BackendFilter = owner === undefined ? serves : (b: Backend) => b.id === owner && (serves?.(b) ?? true);
  let candidates = route.candidates(filter, owner === undefined ? arm.name : undefined);
  // An arm with nothing healthy must not fail the request: the other arms serve it (the
  // comparison loses a sample, the user does not).
  if (!candidates.some((c) => c.healthy)) candidates = route.candidates(filter);
  if (owner === undefined && candidates.length === 0) {
    throw new GatewayError('SY_ERR_ENDPOINT_NOT_SUPPORTED', `no backend of \`${model}\` serves /v1/${endpoint === 'chat' ? 'chat/completions' : endpoint}`);
  }
  if (owner !== undefined && !candidates.some((c) => c.healthy)) {
    // Another replica does not hold the response: answering from one would be a wrong answer.
    throw new GatewayError('SY_ERR_RESPONSE_UNAVAILABLE', candidates.length === 0
      ? `backend ${owner}, which holds \`${String(body.previous_response_id)}\`, no longer serves \`${model}\``
      : `backend ${owner}, which holds \`${String(body.previous_response_id)}\`, is unhealthy`, { param: 'previous_response_id', headers: { 'retry-after': '1' } });
  }
  return {
    body, model, route, arm, filter, candidates,
    stream: body.stream === true && endpoint !== 'embeddings',
    clientWantsUsage: isObject(body.stream_options) && body.stream_options.include_usage === true,
  };
}

/**
 * The key's limits, taken at once; its rate-limit headers go out with whatever answer comes. A
 * promise only when the limits live in a shared store (limits in memory are taken in the call).
 */
export function admit(x: Exchange): void | Promise<void> {
  const admission = x.ctx.tenants?.admit(x.req, x.route, x.body);
  if (admission instanceof Promise) return admission.then((a) => admitted(x, a));
  admitted(x, admission);
}

function admitted(x: Exchange, admission: Admission | undefined): void {
  x.admission = admission;
  if (admission) for (const [name, value] of Object.entries(admission.headers)) x.reply.header(name, value);
}

/** Backends that serve the endpoint; undefined: every backend (chat and completions). */
function servingFilter({ endpoint }: Arrival): BackendFilter {
  if (endpoint === 'embeddings') return (b) => b.capabilities.embeddings;
  if (endpoint === 'responses') return (b) => b.capabilities.responses === true;
  return undefined;
}

/** The backend holding the response a Responses request continues, when this process relayed it. */
function previousResponseOwner({ endpoint, ctx }: Arrival, body: Body): string | undefined {
  if (endpoint !== 'responses' || typeof body.previous_response_id !== 'string') return undefined;
  return ctx.responseOwners?.ownerOf(body.previous_response_id);
}
