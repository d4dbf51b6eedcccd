/**
 * `switchyard check-config`'s look at the engines: does each backend of a route serve the model
 * name the route will send it (the route's name, an alias, or the backend's `models:`)? Each
 * reachable backend is asked once, `GET /v1/models`; one that does not answer is "not checked".
 * Warnings only: an engine may be down while its config is right.
 */
import type { BackendSpec } from '../plugin/types.js';
import type { GatewayConfig, RouteSpec } from './types.js';

/**
 * The name an engine knows a route's model by, given the models it serves: the route's name or an
 * alias it serves, or the one model of a single-model backend. A backend serving several models,
 * none of them named by the route, gets the route's own name (the engine refuses it, and the
 * gateway warns at start): guessing its first model sent requests to the wrong model.
 */
export function engineModelName(model: string, aliases: readonly string[], served: readonly string[]): string {
  if (served.includes(model)) return model;
  for (const alias of aliases) if (served.includes(alias)) return alias;
  return served.length === 1 ? served[0] : model;
}

/** The name a backend's engine gets for a route, from the backend's `models:` (what the route table does with what it serves). */
export function engineModelOf(route: RouteSpec, backend: BackendSpec): string {
  return engineModelName(route.model, route.aliases, backend.models ?? []);
}

/** The model ids a backend's engine lists, or why they could not be had. */
async function servedBy(backend: BackendSpec, timeoutMs: number): Promise<string[] | string> {
  if (!/^https?:/.test(backend.url)) return 'it runs inside the gateway';
  const key = backend.options.api_key;
  try {
    const res = await fetch(new URL('/v1/models', backend.url), {
      headers: typeof key === 'string' ? { authorization: `Bearer ${key}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return `GET /v1/models answered ${res.status}`;
    const body: unknown = await res.json();
    const data = typeof body === 'object' && body !== null && 'data' in body && Array.isArray(body.data) ? body.data : undefined;
    if (!data) return 'GET /v1/models answered no data list';
    return data.flatMap((m: unknown) => (typeof m === 'object' && m !== null && 'id' in m && typeof m.id === 'string' ? [m.id] : []));
  } catch (err) {
    return `unreachable: ${err instanceof Error ? err.message : String(err)}`;
  }
}

export async function servedModelWarnings(config: GatewayConfig, timeoutMs = 2000): Promise<string[]> {
  const byId = new Map(config.backends.map((b) => [b.id, b]));
  const asked = new Map<string, Promise<string[] | string>>();
  const ask = (b: BackendSpec) => {
    let served = asked.get(b.id);
    if (!served) asked.set(b.id, (served = servedBy(b, timeoutMs)));
    return served;
  };
  const warnings: string[] = [];
  const notChecked = new Set<string>();
  for (const route of config.routes) {
    for (const id of route.backends) {
      const backend = byId.get(id);
      if (!backend) continue; // discovered by DNS: no replica to ask before the gateway runs
      const served = await ask(backend);
      if (typeof served === 'string') {
        if (!notChecked.has(id)) warnings.push(`backend ${id}: models not checked (${served})`);
        notChecked.add(id);
        continue;
      }
      const name = engineModelOf(route, backend);
      if (!served.includes(name)) {
        warnings.push(`route ${route.model}: backend ${id} does not serve "${name}" (its /v1/models lists ${served.join(', ') || 'nothing'})`);
      }
    }
  }
  return warnings;
}
