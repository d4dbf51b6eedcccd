/**
 * Tenants, as one stage of the request path with three hooks:
 *
 * - `guard` (fastify onRequest, before the body is read): /v1/* needs a tenant key when keys are
 *   configured; /admin/* an admin key, and /metrics too unless `metrics.public`, whenever an
 *   `auth:` section exists. 401 `invalid_api_key` otherwise.
 * - `mayUse` / `admit` (the inference handler, once the model is known): the key's models, then
 *   its limits in one atomic take; without keys, the per-address in-flight cap. The admission it
 *   returns carries the rate-limit headers for the answer, `settle` (the engine's usage corrects
 *   the token estimate charged up front) and `release` (the in-flight slot).
 * - `priorityOf`: the key's priority for the slo admission queue.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ClientRequest } from '../server/client.js';
import type { ApiKeySpec, AuthSpec } from '../config/types.js';
import { GatewayError } from '../server/errors.js';
import type { Usage } from '../server/sse-relay.js';
import { ClientAddress } from './client-address.js';
import { KeyRing, presentedKey, sameSecret, tenantRing } from './keys.js';
import type { KeyLimits, LimitStore, TakeResult } from './limit-store.js';
import { rateLimitHeaders, retryAfterSeconds } from './rate-headers.js';
import type { UsageMetrics, UsageTally } from './usage-metrics.js';

/** A route as the tenants stage sees it: its public names. */
export interface NamedRoute {
  model: string;
  aliases: readonly string[];
}

export interface Admission {
  /** x-ratelimit-* for the answer (empty without limits). */
  headers: Record<string, string>;
  /** One more streamed content event (about a token): charged in small batches as the stream goes. */
  streamed(): void;
  /**
   * The answer's usage (undefined when the engine sent none; `completionGuess` then counts). While
   * the request holds an in-flight slot, what it owes is charged with the slot's `release`.
   */
  settle(usage: Usage | undefined, completionGuess?: number): void;
  /** Frees the in-flight slot (and charges what `settle` found owed); idempotent. */
  release(): void;
}

export interface TenantsOptions {
  auth: AuthSpec | undefined;
  metricsPublic: boolean;
  limits: LimitStore;
  usage: UsageMetrics;
  /** Without keys: requests in flight per client address (0: no cap). */
  maxInFlightPerClient: number;
  bytesPerToken: number;
  log: { warn(obj: Record<string, unknown>, msg: string): void };
}

const PRIORITY = { high: 1, normal: 0, low: -1 } as const;

const MISSING_KEY = "You didn't provide an API key. Send it as `Authorization: Bearer <key>` or as the `x-api-key` header.";

export class Tenants {
  private keys: KeyRing<ApiKeySpec>;
  private admins: KeyRing<true>;
  private address: ClientAddress;
  private readonly callers = new WeakMap<ClientRequest, ApiKeySpec>();
  /** The tenant key each kept-alive connection presented last (`tenantOf`); a reload's new ring makes them stale. */
  private readonly lastOnConnection = new WeakMap<Socket, { ring: KeyRing<ApiKeySpec>; presented: string; key: ApiKeySpec }>();
  private readonly perAddress = new Map<string, number>();
  private seq = 0;
  /** In-flight leases are named per process (the store may be shared by many gateways). */
  private readonly leasePrefix = randomBytes(9).toString('base64url');
  /** What every key admission writes to (the store and usage metrics stay as they were at start). */
  private readonly books: AdmissionBooks;

  constructor(private opts: TenantsOptions) {
    this.keys = tenantRing(opts.auth?.keys ?? []);
    this.admins = new KeyRing((opts.auth?.adminKeys ?? []).map((sha256) => ({ sha256, value: true as const })));
    this.address = new ClientAddress(opts.auth?.trustedProxies ?? []);
    this.books = { store: opts.limits, usage: opts.usage, background: (p) => this.background(p) };
  }

  /**
   * A reloaded `auth:` section's keys, admin keys and trusted proxies. Whether there is an `auth:`
   * section at all, `on_store_failure` and the limit store are as they were at start. A request
   * already admitted keeps the key it came with.
   */
  replaceAuth(auth: AuthSpec): void {
    this.opts = { ...this.opts, auth };
    this.keys = tenantRing(auth.keys);
    this.admins = new KeyRing(auth.adminKeys.map((sha256) => ({ sha256, value: true as const })));
    this.address = new ClientAddress(auth.trustedProxies);
  }

  /** Whether any path is guarded (an `auth:` section exists). */
  get guarding(): boolean {
    return this.opts.auth !== undefined;
  }

  /** Whether inference is open to anyone (no `auth.keys`). */
  get open(): boolean {
    return this.keys.size === 0;
  }

  guard(req: ClientRequest): void {
    // The route matched, not the raw URL: the router decodes percent-escapes (`/%61dmin/routing`
    // is /admin/routing), so a guard on the raw path could be walked around.
    const path = req.routeOptions.url ?? req.url.split('?')[0]!;
    if (path.startsWith('/v1/')) {
      if (this.open) return;
      const key = presentedKey(req.headers);
      const found = this.tenantOf(req.socket, key);
      if (!found) throw unauthorized(key === undefined ? MISSING_KEY : 'Incorrect API key provided.');
      this.callers.set(req, found);
      return;
    }
    if (!this.opts.auth) return;
    const adminOnly = path === '/admin' || path.startsWith('/admin/') || (path === '/metrics' && !this.opts.metricsPublic);
    if (!adminOnly) return;
    const key = presentedKey(req.headers);
    if (!this.admins.find(key)) throw unauthorized(key === undefined ? `${path} needs an admin key (auth.admin_keys). ${MISSING_KEY}` : 'Incorrect admin key provided.');
  }

  /**
   * The tenant key `presented` is. A client on a kept-alive connection presents the same key with
   * every request: the key a connection last presented is kept with the connection (and only as
   * long as it lives), so the next request that presents it again is not hashed again. It is
   * compared in constant time: behind a proxy that pools its connections, one connection carries
   * many clients' requests.
   */
  private tenantOf(socket: Socket | undefined, presented: string | undefined): ApiKeySpec | undefined {
    if (presented === undefined) return undefined;
    const last = socket && this.lastOnConnection.get(socket);
    if (last !== undefined && last.ring === this.keys && sameSecret(last.presented, presented)) return last.key;
    const found = this.keys.find(presented);
    if (found && socket) this.lastOnConnection.set(socket, { ring: this.keys, presented, key: found });
    return found;
  }

  /** Whether `key` is one of `auth.admin_keys` (the dashboard's login checks the key it is given). */
  isAdminKey(key: string | undefined): boolean {
    return this.admins.find(key) !== undefined;
  }

  /**
   * A secret every process with the same admin keys derives alike, and none without them (the
   * dashboard signs its sessions with it, so any worker admits a session another issued). It
   * changes when the admin keys do.
   */
  adminSecret(purpose: string): Buffer {
    return createHmac('sha256', (this.opts.auth?.adminKeys ?? []).join(',')).update(purpose).digest();
  }

  /** The id of the key this request came with (never the key); undefined without keys. */
  keyIdOf(req: ClientRequest): string | undefined {
    return this.callers.get(req)?.id;
  }

  /** May this request's key use this route (any of its names)? */
  mayUse(req: ClientRequest, route: NamedRoute): boolean {
    const models = this.callers.get(req)?.models;
    return models === undefined || models.includes(route.model) || route.aliases.some((a) => models.includes(a));
  }

  /** The key's queue priority (high 1, normal 0, low -1); undefined without keys. */
  priorityOf(req: ClientRequest): number | undefined {
    const key = this.callers.get(req);
    return key ? PRIORITY[key.priority] : undefined;
  }

  /**
   * Admits the request against its key's limits (or its address's cap), or throws 429: at once
   * when the limits are in process memory, through a promise when the store is shared.
   */
  admit(req: ClientRequest, route: NamedRoute, body: Record<string, unknown>): Admission | Promise<Admission> {
    const key = this.callers.get(req);
    if (!key) return this.admitAddress(req);
    const { limits } = key;
    const limited = limits.rpm !== undefined || limits.tpm !== undefined || limits.concurrency !== undefined;
    const estimate = this.estimatePromptTokens(req, body);
    const lease = `${this.leasePrefix}.${++this.seq}`;
    if (!limited) return this.admitted(key, route, estimate, lease, { allowed: true, retryAfterMs: 0 });
    const taken = this.opts.limits.take(key.id, limits, estimate, lease);
    return taken instanceof Promise
      ? taken.then((result) => this.admitted(key, route, estimate, lease, result))
      : this.admitted(key, route, estimate, lease, taken);
  }

  /** The admission of a key's request, once its store has answered (or throws its 429). */
  private admitted(key: ApiKeySpec, route: NamedRoute, estimate: number, lease: string, result: TakeResult): Admission {
    const { limits } = key;
    const headers = rateLimitHeaders(result);
    if (!result.allowed) {
      this.opts.usage.limited.inc({ key: key.id, limit: result.refusedBy ?? 'rpm' });
      throw new GatewayError('SY_ERR_RATE_LIMITED', refusal(key.id, limits, result), { headers: { ...headers, 'retry-after': retryAfterSeconds(result.retryAfterMs) } });
    }
    const tally = this.opts.usage.tally(key.id, route.model);
    tally.requests++;
    return new KeyAdmission(this.books, key, tally, headers, estimate, lease);
  }

  close(): Promise<void> {
    return this.opts.limits.close();
  }

  private admitAddress(req: ClientRequest): Admission {
    const cap = this.opts.maxInFlightPerClient;
    if (cap <= 0) return UNCOUNTED;
    const who = this.address.of(req.socket.remoteAddress, req.headers);
    const n = this.perAddress.get(who) ?? 0;
    if (n >= cap) {
      this.opts.usage.limited.inc({ key: '-', limit: 'client_in_flight' });
      throw new GatewayError('SY_ERR_RATE_LIMITED', `too many requests in flight from this address (limits.max_in_flight_per_client: ${cap})`, { headers: { 'retry-after': '1' } });
    }
    this.perAddress.set(who, n + 1);
    return new AddressSlot(this.perAddress, who);
  }

  /** The prompt's tokens before any tokenizer: its bytes (the body's length) over bytes per token. */
  private estimatePromptTokens(req: ClientRequest, body: Record<string, unknown>): number {
    const length = Number(req.headers['content-length']);
    const bytes = Number.isFinite(length) && length > 0 ? length : textLength(body, 0);
    return Math.max(1, Math.ceil(bytes / this.opts.bytesPerToken));
  }

  /** Settling and releasing never hold up an answer; a failure is the guarded store's to count. */
  private background(p: void | Promise<void>): void {
    p?.catch((err: unknown) => this.opts.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'rate-limit bookkeeping failed'));
  }
}

/** Where a key's admission charges, frees and counts: its tenants' store and metrics. */
interface AdmissionBooks {
  readonly store: LimitStore;
  readonly usage: UsageMetrics;
  /** Settling and releasing never hold up an answer (Tenants.background). */
  background(p: void | Promise<void>): void;
}

/**
 * A key's admitted request: its rate-limit headers, and what it still owes its limits. One object
 * with the prototype's methods (not three closures a request).
 */
class KeyAdmission implements Admission {
  private settled = false;
  private released: boolean;
  /** Tokens charged so far, and streamed ones not yet: a long stream counts while it runs. */
  private charged: number;
  private unsent = 0;
  /**
   * The settled difference of a request that holds an in-flight slot goes to the store with the
   * slot's release, in one call (settle comes right before release: closeExchange).
   */
  private owed = 0;
  /** Streamed tokens are charged in batches of about 1% of the tpm: a stream costs the store a hundred calls at most. */
  private readonly batch: number;

  constructor(
    private readonly books: AdmissionBooks, private readonly key: ApiKeySpec, private readonly tally: UsageTally,
    readonly headers: Record<string, string>, private readonly estimate: number, private readonly lease: string,
  ) {
    this.released = key.limits.concurrency === undefined;
    this.charged = estimate;
    this.batch = Math.max(16, Math.ceil((key.limits.tpm ?? 0) / 100));
  }

  streamed(): void {
    if (this.settled || this.key.limits.tpm === undefined || ++this.unsent < this.batch) return;
    this.charged += this.unsent;
    this.books.background(this.books.store.charge(this.key.id, this.key.limits, this.unsent));
    this.unsent = 0;
  }

  settle(usage: Usage | undefined, completionGuess = 0): void {
    if (this.settled) return;
    this.settled = true;
    this.books.usage.observe(this.tally, usage);
    const { limits } = this.key;
    if (limits.tpm === undefined) return;
    const spent = usage && typeof usage.prompt_tokens === 'number'
      ? usage.prompt_tokens + (usage.completion_tokens ?? completionGuess)
      : this.estimate + completionGuess;
    if (spent === this.charged) return;
    if (this.released) this.books.background(this.books.store.charge(this.key.id, limits, spent - this.charged));
    else this.owed = spent - this.charged;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const { store } = this.books;
    this.books.background(this.owed === 0 ? store.release(this.key.id, this.lease) : store.finish(this.key.id, this.key.limits, this.owed, this.lease));
    this.owed = 0;
  }
}

/** A request no limit counts: nothing to charge or free. */
const UNCOUNTED: Admission = Object.freeze({ headers: Object.freeze({}), streamed() {}, settle() {}, release() {} });

/** A request counted against its address's in-flight cap (no keys configured): its slot, freed once. */
class AddressSlot implements Admission {
  readonly headers: Record<string, string> = UNCOUNTED.headers;
  private released = false;

  constructor(private readonly counts: Map<string, number>, private readonly who: string) {}

  streamed(): void {}
  settle(): void {}

  release(): void {
    if (this.released) return;
    this.released = true;
    const left = (this.counts.get(this.who) ?? 1) - 1;
    if (left <= 0) this.counts.delete(this.who);
    else this.counts.set(this.who, left);
  }
}

function unauthorized(message: string): GatewayError {
  return new GatewayError('SY_ERR_INVALID_API_KEY', message, { headers: { 'www-authenticate': 'Bearer' } });
}

function refusal(id: string, limits: KeyLimits, result: TakeResult): string {
  const wait = retryAfterSeconds(result.retryAfterMs);
  switch (result.refusedBy) {
    case 'concurrency': return `Rate limit reached for key ${id}: ${limits.concurrency} requests in flight. Retry when one finishes.`;
    case 'tpm': return `Rate limit reached for key ${id}: ${limits.tpm} tokens per minute. Retry in ${wait}s.`;
    default: return `Rate limit reached for key ${id}: ${limits.rpm} requests per minute. Retry in ${wait}s.`;
  }
}

/** Characters of text in a parsed body (a body sent without content-length). */
function textLength(v: unknown, depth: number): number {
  if (typeof v === 'string') return v.length;
  if (depth > 64 || typeof v !== 'object' || v === null) return 0;
  let n = 0;
  for (const x of Array.isArray(v) ? v : Object.values(v)) n += textLength(x, depth + 1);
  return n;
}
