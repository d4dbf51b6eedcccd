/**
 * Shadow traffic: a copy of a fraction of a route's requests goes to its shadow backends; the
 * answer is read and discarded, its latency recorded as the arm `shadow:<backend>`. It starts only
 * after the primary's upstream answered, runs detached from the primary's fate, is bounded in
 * number, and never delays or fails the primary.
 */
import type { ClientRequest } from './client.js';
import type { Endpoint } from '../plugin/types.js';
import type { Route } from '../routing/route-table.js';
import { Cancel } from '../plugin/cancel.js';
import { releaseBody, retainBody } from './large-body.js';

/**
 * One gateway's shadow copies in flight, across its routes: at most `limit` at once (a copy beyond
 * it is not sent), so a slow shadow backend can never hold more than that many of the gateway's
 * sockets and bodies.
 */
export class ShadowTraffic {
  inFlight = 0;

  constructor(readonly limit = 64) {}

  send(route: Route, endpoint: Endpoint, body: Record<string, unknown>, stream: boolean, req: ClientRequest): void {
    if (route.shadow && this.inFlight < this.limit) sendShadow(this, route, endpoint, body, stream, req);
  }
}

function sendShadow(traffic: ShadowTraffic, route: Route, endpoint: Endpoint, body: Record<string, unknown>, stream: boolean, req: ClientRequest): void {
  if (!route.shadow) return;
  const healthy = route.shadow.backends.filter((b) => b.health().status !== 'unhealthy');
  if (healthy.length === 0) return;
  const backend = healthy.reduce((a, b) => (b.signals().inFlight < a.signals().inFlight ? b : a));
  const names = backend.models();
  const shadowBody: Record<string, unknown> = { ...body, model: names.includes(route.model) ? route.model : (names[0] ?? route.model) };
  if (stream) shadowBody.stream_options = { include_usage: true };
  const started = performance.now();
  const cancel = new Cancel();
  const timer = setTimeout(() => cancel.cancel(new Error('shadow request timed out')), 300_000);
  timer.unref();
  traffic.inFlight++;
  // A large body outlives the request for the shadow's sake (large-body.ts).
  retainBody(body);
  void (async () => {
    let firstAt: number | undefined;
    let ok = false;
    try {
      const reply = await backend.dispatch({ endpoint, body: shadowBody, stream, cancel, requestId: `${req.id}-shadow`, headers: {} });
      for await (const chunk of reply.body as AsyncIterable<Buffer>) {
        firstAt ??= performance.now();
        void chunk;
      }
      ok = reply.status < 400;
    } catch (err) {
      req.log.debug({ backend: backend.id, err: err instanceof Error ? err.message : String(err) }, 'shadow request failed');
    } finally {
      releaseBody(body);
      clearTimeout(timer);
      traffic.inFlight--;
      route.arms.record(`shadow:${backend.id}`, {
        ok, e2eMs: performance.now() - started, // Time to the first byte of the shadow's answer (its own TTFT is not parsed).
        ttftMs: stream && firstAt !== undefined ? firstAt - started : undefined,
      });
    }
  })();
}
