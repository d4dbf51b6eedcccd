/**
 * Public model names (and aliases) → routes: the route's backends and its policy. Built from the
 * config, rebuilt by a reload (`prepare`, then `commit`); a lookup is one Map get.
 */
import { isDeepStrictEqual } from 'node:util';
import type { RouteSpec } from '../config/types.js';
import { engineModelName } from '../config/served-models.js';
import { AdmissionQueue } from './admission.js';
import { Arms } from './ab.js';
import { Breakers, RetryBudget } from './breaker.js';
import type { Backend } from '../plugin/types.js';
import { policyFactory } from './policies/index.js';
import type { Candidate, RoutingPolicy, RoutingState } from './policy.js';
import { ChatTemplate } from '../tokenizer/tokenizer.js';
import { TokenizerPool } from '../tokenizer/pool.js';
import { NO_REMOTE_LOAD, type RemoteLoadView } from './remote-load.js';
import { DEFAULT_DEADLINES } from '../server/deadlines.js';

/** What a route is built with besides its spec. */
export interface RouteContext {
  /** Every backend by id; the spec names its own. */
  backends: ReadonlyMap<string, Backend>;
  breakers: Breakers;
  state: RoutingState;
  seed: number;
  /** Other gateway replicas' load (the state store); none by default. */
  remote?: RemoteLoadView;
  /** A policy instead of the one the spec names (a benchmark's profile of a router the product does not ship). */
  policy?: RoutingPolicy;
  /** Tokenizer pools by file, shared by the routes that name the same tokenizer. */
  tokenizerPools?: Map<string, TokenizerPool>;
}

function makePolicy(spec: RouteSpec, ctx: RouteContext): RoutingPolicy {
  const factory = policyFactory(spec.policy.type);
  // Config validation rejected unknown types already; this guards programmatic use.
  if (!factory) throw new Error(`route ${spec.model}: unknown policy type ${spec.policy.type}`);
  return factory.create(spec.policy.options, { seed: ctx.seed, state: ctx.state });
}

export class Route {
  readonly admission?: AdmissionQueue;
  readonly arms: Arms;
  private readonly armBackends = new Map<string, Backend[]>();
  readonly shadow?: { backends: Backend[]; fraction: number };
  readonly retryBudget = new RetryBudget();
  /** Upstream deadlines past the response headers (ms); the route's `timeouts:`. */
  timeouts: RouteSpec['timeouts'] = DEFAULT_DEADLINES;
  /** The model's chat template, when prefix keys are computed over the rendered prompt. */
  template?: ChatTemplate;
  /**
   * The model's tokenizer (worker threads), when some backend publishes KV-cache events and the
   * route names the engine's tokenizer files: requests are tokenized for exact prefix matching.
   */
  tokenizer?: TokenizerPool;

  /** The validated config section the route was built from (a reload compares it). */
  readonly spec: RouteSpec;
  readonly model: string;
  readonly aliases: readonly string[];
  readonly backends: readonly Backend[];
  readonly policy: RoutingPolicy;
  readonly retries: number;
  readonly slo: RouteSpec['slo'];
  private readonly breakers: Breakers;
  private readonly remote: RemoteLoadView;

  /** A route from its spec (validated config): its backends looked up, its policy made, its tokenizer loaded or shared. */
  constructor(spec: RouteSpec, ctx: RouteContext) {
    const lookup = (id: string) => {
      const b = ctx.backends.get(id);
      if (!b) throw new Error(`route ${spec.model}: unknown backend ${id}`);
      return b;
    };
    this.spec = spec;
    this.model = spec.model;
    this.aliases = spec.aliases;
    this.backends = spec.backends.map(lookup);
    this.policy = ctx.policy ?? makePolicy(spec, ctx);
    this.retries = spec.retries;
    this.slo = spec.slo;
    this.timeouts = spec.timeouts;
    this.breakers = ctx.breakers;
    this.remote = ctx.remote ?? NO_REMOTE_LOAD;
    if (spec.admission) this.admission = new AdmissionQueue(spec.admission);
    this.arms = new Arms(spec.arms, spec.sticky, ctx.seed);
    for (const arm of spec.arms) this.armBackends.set(arm.name, this.backends.filter((b) => arm.backends.includes(b.id)));
    if (spec.shadow) this.shadow = { backends: spec.shadow.backends.map(lookup), fraction: spec.shadow.fraction };
    if (spec.tokenizerConfig) this.template = ChatTemplate.fromConfigFile(spec.tokenizerConfig);
    if (spec.tokenizerConfig && spec.tokenizer && this.backends.some((b) => b.kvCache)) {
      const key = `${spec.tokenizer}\u0000${spec.tokenizerConfig}`;
      const pools = ctx.tokenizerPools ?? new Map<string, TokenizerPool>();
      let pool = pools.get(key);
      if (!pool) {
        pool = new TokenizerPool({ threads: 1, tokenizerJsonPath: spec.tokenizer, tokenizerConfigPath: spec.tokenizerConfig });
        pools.set(key, pool);
      }
      this.tokenizer = pool;
    }
  }

  /** The route's candidates — of one arm when given — with their load and health right now. */
  candidates(filter?: (b: Backend) => boolean, arm?: string): Candidate[] {
    const out: Candidate[] = [];
    for (const backend of (arm && this.armBackends.get(arm)) || this.backends) {
      if (filter && !filter(backend)) continue;
      // Healthy = the engine's health check passes and core's circuit breaker lets traffic through.
      let signals = backend.signals();
      // An engine whose statistics drain on read is read by one replica, which shares what it read:
      // newer than this replica's own (stale or never) reading, it stands for the engine here.
      const shared = backend.capabilities.loadReadByOne ? this.remote.engine(backend.id) : undefined;
      if (shared && shared.readAt > signals.updatedAt) {
        signals = { ...signals, running: shared.running, waiting: shared.waiting, kvUsage: shared.kvUsage, prefixHitRate: shared.prefixHitRate, updatedAt: shared.readAt };
      }
      // Other gateway replicas' requests on this backend count as load too (state store).
      const remote = this.remote.inFlight(backend.id);
      out.push({
        backend,
        signals: remote > 0 ? { ...signals, inFlight: signals.inFlight + remote } : signals,
        healthy: backend.health().status !== 'unhealthy' && this.breakers.of(backend.id).allows(),
      });
    }
    return out;
  }

  /** The name this backend's engine knows the model by (engineModelName). */
  engineModel(backend: Backend): string {
    return engineModelName(this.model, this.aliases, backend.models());
  }
}

/** Routes built for a reload, not yet serving: `RouteTable.commit` makes them current. */
export interface PreparedRoutes {
  readonly routes: readonly Route[];
  /** Routes that are new objects (changed or added): their tokenizers want checking. */
  readonly rebuilt: readonly Route[];
  readonly pools: ReadonlyMap<string, TokenizerPool>;
}

export class RouteTable {
  private byName = new Map<string, Route>();
  /** The routes serving now. A reload replaces the array whole; a request keeps the Route it resolved. */
  routes: readonly Route[];

  readonly breakers = new Breakers();
  /** Tokenizer pools, one per tokenizer, shared by the routes that use it. */
  private pools = new Map<string, TokenizerPool>();

  constructor(
    specs: readonly RouteSpec[], backends: ReadonlyMap<string, Backend>, readonly state: RoutingState, private readonly seed = 1,
    private readonly remote: RemoteLoadView = NO_REMOTE_LOAD,
  ) {
    this.routes = specs.map((spec, i) => new Route(spec, this.routeContext(backends, i, this.pools)));
    this.index();
  }

  resolve(model: string): Route | undefined {
    return this.byName.get(model);
  }

  /**
   * Routes for a reloaded config, ready to serve (tokenizers loaded) but not serving. A route whose
   * spec is unchanged and whose backends are the same objects is kept as it is: its policy, arms,
   * admission queue and retry budget keep their state. Rejects, leaving nothing behind, if a
   * route cannot be built.
   */
  async prepare(specs: readonly RouteSpec[], backends: ReadonlyMap<string, Backend>): Promise<PreparedRoutes> {
    const current = new Map(this.routes.map((r) => [r.model, r]));
    const pools = new Map(this.pools);
    const rebuilt: Route[] = [];
    try {
      const routes = specs.map((spec, i) => {
        const old = current.get(spec.model);
        if (old && isDeepStrictEqual(old.spec, spec) && sameBackends(old, backends)) return old;
        const route = new Route(spec, this.routeContext(backends, i, pools));
        rebuilt.push(route);
        return route;
      });
      await Promise.all(rebuilt.map((r) => r.tokenizer?.ready()));
      const used = new Set(routes.map((r) => r.tokenizer));
      return { routes, rebuilt, pools: new Map([...pools].filter(([, pool]) => used.has(pool))) };
    } catch (err) {
      await Promise.allSettled([...pools].filter(([key]) => !this.pools.has(key)).map(([, pool]) => pool.close()));
      throw err;
    }
  }

  /**
   * Makes prepared routes the current ones, in one step: a request resolves either the old or the
   * new. Returns the tokenizer pools no route uses any more, for the caller to close once the
   * requests that began before the swap are done.
   */
  commit(next: PreparedRoutes): TokenizerPool[] {
    const retired = [...this.pools].filter(([key, pool]) => next.pools.get(key) !== pool).map(([, pool]) => pool);
    this.pools = new Map(next.pools);
    this.routes = next.routes;
    this.index();
    return retired;
  }

  /** Every route's tokenizer is ready (its workers loaded); rejects if one failed to load. */
  async ready(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.ready()));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pools.values()].map((p) => p.close()));
  }

  private routeContext(backends: ReadonlyMap<string, Backend>, index: number, pools: Map<string, TokenizerPool>): RouteContext {
    return { backends, breakers: this.breakers, state: this.state, seed: this.seed + index, remote: this.remote, tokenizerPools: pools };
  }

  private index(): void {
    const byName = new Map<string, Route>();
    for (const route of this.routes) {
      for (const name of [route.model, ...route.aliases]) byName.set(name, route);
    }
    this.byName = byName;
  }
}

/** Whether every backend the route holds (shadows included) is still the same object under its id. */
function sameBackends(route: Route, backends: ReadonlyMap<string, Backend>): boolean {
  return [...route.backends, ...(route.shadow?.backends ?? [])].every((b) => backends.get(b.id) === b);
}
