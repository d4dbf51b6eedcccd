/**
 * The key stage: what the routing policy sees of a request — its body and headers, its SLO, and
 * its prompt's key (the tokens of a tokenized route, or the prefix a large body was keyed by in
 * the worker that parsed it).
 */
import type { ClientRequest } from '../client.js';
import type { Route } from '../../routing/route-table.js';
import type { RoutingRequest } from '../../routing/policy.js';
import { GatewayError } from '../errors.js';
import { tokenizeForRouting } from '../request-tokens.js';
import { largeBodyInfo } from '../large-body.js';
import type { Exchange } from './exchange.js';

/** The routing request; a promise only on a tokenized route (its tokenizer works in a worker). */
export function routingRequestOf(x: Exchange): RoutingRequest | Promise<RoutingRequest> {
  const { route, req, body } = x;
  const routing: RoutingRequest = { requestId: req.id, model: route.model, body, headers: req.headers, slo: sloOf(route, req), template: route.template };
  // A large body was keyed in the worker that parsed it (its canonical prompt; it is not tokenized).
  const large = largeBodyInfo(body);
  if (large) {
    routing.prefix = large.prefix;
    return routing;
  }
  if (!route.tokenizer) return routing;
  return tokenizeForRouting(route, body, x.ctx.routes.state.chunkBytes).then((tokenized) => {
    if (tokenized) {
      routing.tokens = tokenized.tokens;
      routing.prefix = tokenized.prefix;
    }
    return routing;
  });
}

function sloOf(route: Route, req: ClientRequest): RoutingRequest['slo'] {
  const ttftMs = headerNumber(req, 'x-slo-ttft-ms') ?? route.slo?.ttftMs;
  const tpotMs = headerNumber(req, 'x-slo-tpot-ms') ?? route.slo?.tpotMs;
  return ttftMs === undefined && tpotMs === undefined ? undefined : { ttftMs, tpotMs };
}

function headerNumber(req: ClientRequest, name: string): number | undefined {
  const v = req.headers[name];
  if (typeof v !== 'string' || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new GatewayError('SY_ERR_INVALID_FIELD', `${name}: expected a positive number of milliseconds, got ${JSON.stringify(v)}`, { param: name });
  return n;
}
