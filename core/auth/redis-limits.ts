/**
 * Limits exact across every gateway sharing one Redis: each take or charge is one Lua script,
 * atomic in Redis, on the key's two Redis keys — a hash of bucket levels and a sorted set of
 * in-flight leases — and on Redis' own clock (TIME), so the gateways' clocks do not matter.
 * The buckets are those of limit-store.ts, computed the same way.
 *
 * An in-flight lease expires unless renewed: this process renews the leases it holds every
 * LEASE_TTL_MS / 3, so a gateway that dies frees its slots within LEASE_TTL_MS.
 *
 * Commands fail fast while Redis is unreachable (no offline queue, a command timeout): the
 * caller (guarded-limits.ts) decides what an outage means.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { KeyLimits, LimitStore, TakeResult } from './limit-store.js';

const LEASE_TTL_MS = 30_000;

// KEYS[1]: the key's buckets (hash r, t, at); KEYS[2]: its leases (zset lease → expiry ms).
// ARGV: op ('take' | 'charge' | 'finish': a charge that also frees the lease), rpm, tpm,
// concurrency (0: no such limit), tokens, lease, lease ttl.
// Returns {allowed, refused (1 concurrency, 2 rpm, 3 tpm), retry ms, requests left, requests
// reset ms, tokens left, tokens reset ms}.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op = ARGV[1]
local rpm, tpm, conc, tokens = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local h = redis.call('HMGET', KEYS[1], 'r', 't', 'at')
local at = tonumber(h[3]) or now
local function fill(level, cap)
  if cap <= 0 then return 0 end
  if level == nil then return cap end
  return math.min(cap, level + math.max(0, now - at) * cap / 60000)
end
local r, k = fill(tonumber(h[1]), rpm), fill(tonumber(h[2]), tpm)
local allowed, refused, wait = 1, 0, 0
if op == 'take' then
  if conc > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
    if redis.call('ZCARD', KEYS[2]) >= conc then allowed, refused, wait = 0, 1, 1000 end
  end
  if rpm > 0 and r < 1 then
    allowed = 0
    if refused == 0 then refused = 2 end
    wait = math.max(wait, (1 - r) * 60000 / rpm)
  end
  local need = math.min(tokens, tpm)
  if tpm > 0 and k < need then
    allowed = 0
    if refused == 0 then refused = 3 end
    wait = math.max(wait, (need - k) * 60000 / tpm)
  end
  if allowed == 1 then
    if rpm > 0 then r = r - 1 end
    if tpm > 0 then k = k - tokens end
    if conc > 0 then
      local ttl = tonumber(ARGV[7])
      redis.call('ZADD', KEYS[2], now + ttl, ARGV[6])
      redis.call('PEXPIRE', KEYS[2], ttl)
    end
  end
elseif tpm > 0 then
  k = math.min(tpm, k - tokens)
end
if op == 'finish' then redis.call('ZREM', KEYS[2], ARGV[6]) end
if allowed == 1 and (rpm > 0 or tpm > 0) then
  redis.call('HSET', KEYS[1], 'r', tostring(r), 't', tostring(k), 'at', tostring(now))
  local full = 0
  if rpm > 0 then full = math.max(full, (rpm - r) * 60000 / rpm) end
  if tpm > 0 then full = math.max(full, (tpm - k) * 60000 / tpm) end
  redis.call('PEXPIRE', KEYS[1], math.ceil(full) + 1000)
end
local function left(level) return math.max(0, math.floor(level)) end
local function reset(level, cap)
  if cap <= 0 then return 0 end
  return math.ceil((cap - level) * 60000 / cap)
end
return {allowed, refused, math.ceil(wait), left(r), reset(r, rpm), left(k), reset(k, tpm)}
`;

// KEYS[1]: a key's leases; ARGV: ttl ms, then the leases this process holds.
const RENEW = `
local t = redis.call('TIME')
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
`;

interface Script {
  text: string;
  sha: string;
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

const REFUSALS = [undefined, 'concurrency', 'rpm', 'tpm'] as const;

export interface RedisLimitStoreOptions {
  url: string;
  namespace?: string;
  /** A command without a reply by then fails (a hung server). */
  commandTimeoutMs?: number;
}

export class RedisLimitStore implements LimitStore {
  /** Admissions' takes: each sent at once, since the request waits for its answer. */
  private readonly redis: Redis;
  /**
   * What follows an answer (charges, releases, renewals): nothing waits for it, so the commands
   * of every request one turn of the event loop handles go out in one write (ioredis sends them
   * at setImmediate) and their replies come back in a few reads. A write and a read per command
   * cost ~14 µs more gateway CPU per request (bench/overhead/paired.ts --tenants --redis); the
   * takes are not pipelined, as waiting for the turn's end put ~0.3 ms on every admission.
   */
  private readonly bookkeeping: Redis;
  private readonly prefix: string;
  private readonly take_ = script(TAKE);
  private readonly renew_ = script(RENEW);
  /** Leases this process holds, by key: renewed until released. */
  private readonly held = new Map<string, Set<string>>();
  private readonly renewer: NodeJS.Timeout;

  constructor(opts: RedisLimitStoreOptions) {
    this.prefix = `switchyard:${opts.namespace ?? 'default'}:limits`;
    const connect = (enableAutoPipelining: boolean) => {
      const redis = new Redis(opts.url, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        commandTimeout: opts.commandTimeoutMs ?? 500,
        connectTimeout: 1000,
        retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
        connectionName: 'switchyard:limits',
        enableAutoPipelining,
      });
      redis.on('error', () => {}); // surfaced by the commands that fail
      return redis;
    };
    this.redis = connect(false);
    this.bookkeeping = connect(true);
    this.renewer = setInterval(() => void this.renewAll(), LEASE_TTL_MS / 3);
    this.renewer.unref();
  }

  /** Connects, waiting at most about a second (an unreachable Redis is retried in the background). */
  async start(): Promise<void> {
    const connected = Promise.all([this.redis, this.bookkeeping].map((r) => r.connect().catch(() => {})));
    await Promise.race([connected, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }

  async take(key: string, limits: KeyLimits, tokens: number, lease: string): Promise<TakeResult> {
    const reply = await this.run(this.take_, this.keysOf(key), ['take', ...this.limitArgs(limits), Math.ceil(tokens), lease, LEASE_TTL_MS]);
    const [allowed, refused, retryAfterMs, rLeft, rReset, tLeft, tReset] = numbers(reply, 7);
    if (allowed === 1 && limits.concurrency !== undefined) {
      let leases = this.held.get(key);
      if (!leases) this.held.set(key, (leases = new Set()));
      leases.add(lease);
    }
    return {
      allowed: allowed === 1,
      refusedBy: REFUSALS[refused] ?? undefined,
      retryAfterMs,
      requests: limits.rpm === undefined ? undefined : { limit: limits.rpm, remaining: rLeft, resetMs: rReset },
      tokens: limits.tpm === undefined ? undefined : { limit: limits.tpm, remaining: tLeft, resetMs: tReset },
    };
  }

  async charge(key: string, limits: KeyLimits, tokens: number): Promise<void> {
    if (limits.tpm === undefined || tokens === 0) return;
    await this.run(this.take_, this.keysOf(key), ['charge', ...this.limitArgs(limits), Math.round(tokens), '', 0], this.bookkeeping);
  }

  async release(key: string, lease: string): Promise<void> {
    if (!this.letGo(key, lease)) return;
    await this.bookkeeping.zrem(this.keysOf(key)[1], lease);
  }

  async finish(key: string, limits: KeyLimits, tokens: number, lease: string): Promise<void> {
    const held = this.letGo(key, lease);
    if (limits.tpm === undefined || tokens === 0) {
      if (held) await this.bookkeeping.zrem(this.keysOf(key)[1], lease);
      return;
    }
    await this.run(this.take_, this.keysOf(key), [held ? 'finish' : 'charge', ...this.limitArgs(limits), Math.round(tokens), lease, 0], this.bookkeeping);
  }

  /** Stops renewing `lease`; whether this process held it. */
  private letGo(key: string, lease: string): boolean {
    const leases = this.held.get(key);
    if (!leases?.delete(lease)) return false;
    if (leases.size === 0) this.held.delete(key);
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.renewer);
    this.held.clear();
    this.redis.disconnect();
    this.bookkeeping.disconnect();
  }

  private keysOf(key: string): [string, string] {
    // One hash tag per key: both land on the same slot of a Redis Cluster.
    return [`${this.prefix}:{${key}}:buckets`, `${this.prefix}:{${key}}:leases`];
  }

  private limitArgs(limits: KeyLimits): number[] {
    return [limits.rpm ?? 0, limits.tpm ?? 0, limits.concurrency ?? 0];
  }

  private async renewAll(): Promise<void> {
    for (const [key, leases] of this.held) {
      try {
        await this.run(this.renew_, [this.keysOf(key)[1]], [LEASE_TTL_MS, ...leases], this.bookkeeping);
      } catch {
        // Redis away: the leases lapse there, which frees the slots rather than leaking them.
      }
    }
  }

  /** A script on `via` (the takes' connection unless given). */
  private async run(s: Script, keys: string[], args: Array<string | number>, via: Redis = this.redis): Promise<unknown> {
    try {
      return await via.evalsha(s.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return via.eval(s.text, keys.length, ...keys, ...args);
    }
  }
}

function numbers(reply: unknown, n: number): number[] {
  if (!Array.isArray(reply) || reply.length !== n || !reply.every((v) => typeof v === 'number')) {
    throw new Error(`limit script: unexpected reply ${JSON.stringify(reply)}`);
  }
  return reply as number[];
}
