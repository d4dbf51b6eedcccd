/** Options every HTTP backend takes (besides id, type, url, models, labels), with defaults. */
import type { PluginContext } from '../../core/plugin/types.js';

export interface HttpBackendOptions {
  apiKey?: string;
  healthPath: string;
  healthIntervalMs: number;
  healthTimeoutMs: number;
  loadIntervalMs: number;
  connections: number;
  embeddings: boolean;
  /** The engine serves POST /v1/responses. */
  responses: boolean;
  discoveryTimeoutMs: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** How the engine reports cached prompt tokens; undefined: learned (core/routing/cached-tokens.ts). */
  cachedTokens?: 'reported' | 'unreported';
  /** The engine's KV block size and capacity in tokens, for engines that do not report them (LMDeploy). */
  blockSize?: number;
  kvCapacityTokens?: number;
  /** Client headers the engine gets besides Accept and the trace context (e.g. a tenant header an engine reads). */
  forwardHeaders: string[];
}

/** Headers no `forward_headers:` may name: the gateway's own, hop-by-hop ones, and the client's credentials. */
const NEVER_FORWARDED = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect', 'te',
  'proxy-connection', 'content-type', 'x-request-id', 'authorization', 'proxy-authorization', 'cookie', 'x-api-key']);

type Check = (v: unknown) => boolean;
const positiveInt: Check = (v) => typeof v === 'number' && Number.isInteger(v) && v > 0;
const nonNegativeInt: Check = (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const text: Check = (v) => typeof v === 'string' && v !== '';
const flag: Check = (v) => typeof v === 'boolean';

const KEYS: Record<string, [Check, string]> = {
  api_key: [text, 'a string'],
  health_path: [(v) => text(v) && String(v).startsWith('/'), 'a path starting with /'],
  health_interval_ms: [positiveInt, 'a positive integer'],
  health_timeout_ms: [positiveInt, 'a positive integer'],
  load_interval_ms: [nonNegativeInt, 'an integer ≥ 0 (0 turns load reads off)'],
  connections: [positiveInt, 'a positive integer'],
  embeddings: [flag, 'true or false'],
  responses: [flag, 'true or false'],
  discovery_timeout_ms: [positiveInt, 'a positive integer'],
  body_timeout_ms: [positiveInt, 'a positive integer'],
  cached_tokens: [(v) => v === 'reported' || v === 'unreported', 'reported or unreported'],
  block_size: [positiveInt, 'a positive integer (tokens per KV block)'],
  kv_capacity_tokens: [positiveInt, 'a positive integer (tokens the KV cache holds)'],
  forward_headers: [(v) => Array.isArray(v) && v.every((h) => typeof h === 'string' && /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(h) && !NEVER_FORWARDED.has(h.toLowerCase())),
    'a list of header names (not hop-by-hop ones, Host, Content-Length, Authorization, Cookie or X-Api-Key)'],
};

/** Messages naming each bad key; unknown keys are errors too. */
export function validateHttpOptions(options: Record<string, unknown>, extra: readonly string[] = []): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (extra.includes(key)) continue;
    const rule = KEYS[key];
    if (!rule) problems.push(`${key}: not a known option (known: ${[...Object.keys(KEYS), ...extra].join(', ')})`);
    else if (!rule[0](value)) problems.push(`${key}: expected ${rule[1]}, got ${JSON.stringify(value)}`);
  }
  return problems;
}

export function readHttpOptions(
  options: Record<string, unknown>, ctx: PluginContext, defaults: Partial<HttpBackendOptions> = {},
): HttpBackendOptions {
  const num = (key: string, fallback: number) => (typeof options[key] === 'number' ? (options[key] as number) : fallback);
  return {
    apiKey: typeof options.api_key === 'string' ? options.api_key : undefined,
    healthPath: typeof options.health_path === 'string' ? options.health_path : (defaults.healthPath ?? '/health'),
    healthIntervalMs: num('health_interval_ms', defaults.healthIntervalMs ?? 5_000),
    healthTimeoutMs: num('health_timeout_ms', 2_000),
    loadIntervalMs: num('load_interval_ms', defaults.loadIntervalMs ?? 500),
    connections: num('connections', 256),
    embeddings: typeof options.embeddings === 'boolean' ? options.embeddings : (defaults.embeddings ?? false),
    responses: typeof options.responses === 'boolean' ? options.responses : (defaults.responses ?? false),
    discoveryTimeoutMs: num('discovery_timeout_ms', 30_000),
    connectTimeoutMs: ctx.limits.connectTimeoutMs,
    headersTimeoutMs: ctx.limits.headersTimeoutMs,
    bodyTimeoutMs: num('body_timeout_ms', 300_000),
    cachedTokens: options.cached_tokens === 'reported' || options.cached_tokens === 'unreported' ? options.cached_tokens : defaults.cachedTokens,
    blockSize: typeof options.block_size === 'number' ? options.block_size : undefined,
    kvCapacityTokens: typeof options.kv_capacity_tokens === 'number' ? options.kv_capacity_tokens : undefined,
    forwardHeaders: Array.isArray(options.forward_headers) ? options.forward_headers.filter((h): h is string => typeof h === 'string') : [],
  };
}
