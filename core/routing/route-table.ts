/**
 * Public model names (and aliases) → routes: the route's backends and its policy. Built once from
 * the config; a lookup is one Map get.
 */
import type { RouteSpec } from '../config/types.js';
import { AdmissionQueue } from './admission.js';
import type { Backend } from '../plugin/types.js';
import { policyFactory } from './policies/index.js';
import type { Candidate, RoutingPolicy, RoutingState } from './policy.js';

export class Route {
  readonly admission?: AdmissionQueue;

  constructor(
    readonly model: string,
    readonly aliases: readonly string[],
    readonly backends: readonly Backend[],
    readonly policy: RoutingPolicy,
    readonly retries: number,
    readonly slo: RouteSpec['slo'],
    admission: RouteSpec['admission'],
  ) {
    if (admission) this.admission = new AdmissionQueue(admission);
  }

  candidates(filter?: (b: Backend) => boolean): Candidate[] {
    const out: Candidate[] = [];
    for (const backend of this.backends) {
      if (filter && !filter(backend)) continue;
      out.push({ backend, signals: backend.signals(), healthy: backend.health().status !== 'unhealthy' });
    }
    return out;
  }

  /** The name this backend's engine knows the model by. */
  engineModel(backend: Backend): string {
    const names = backend.models();
    if (names.includes(this.model)) return this.model;
    for (const alias of this.aliases) if (names.includes(alias)) return alias;
    return names[0] ?? this.model;
  }
}

export class RouteTable {
  private readonly byName = new Map<string, Route>();
  readonly routes: Route[];

  constructor(specs: readonly RouteSpec[], backends: ReadonlyMap<string, Backend>, readonly state: RoutingState, seed = 1) {
    this.routes = specs.map((spec, i) => {
      const factory = policyFactory(spec.policy.type);
      // Config validation rejected unknown types already; this guards programmatic use.
      if (!factory) throw new Error(`route ${spec.model}: unknown policy type ${spec.policy.type}`);
      const members = spec.backends.map((id) => {
        const b = backends.get(id);
        if (!b) throw new Error(`route ${spec.model}: unknown backend ${id}`);
        return b;
      });
      return new Route(spec.model, spec.aliases, members, factory.create(spec.policy.options, { seed: seed + i, state }), spec.retries, spec.slo, spec.admission);
    });
    for (const route of this.routes) {
      for (const name of [route.model, ...route.aliases]) this.byName.set(name, route);
    }
  }

  resolve(model: string): Route | undefined {
    return this.byName.get(model);
  }
}
