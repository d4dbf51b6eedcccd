/**
 * The gateway config's schema: every section and key, its type, default and meaning. load.ts
 * validates with it and reference.ts prints the README's configuration reference from it.
 * Checks that span keys (a route's backends exist, exactly one of backends: and arms:) are
 * load.ts's; plugins and policies describe and check their own options.
 */
import { policyFactory, policyTypes } from '../routing/policies/index.js';
import { DEFAULT_DEADLINES } from '../server/deadlines.js';
import { AUTH_FIELD, METRICS } from './auth.js';
import { DISCOVER } from './discover.js';
import { custom, int, num, oneOf, optional, optionalSection, section, sections, str, stringMap, strings, type Field } from './fields.js';
import type { RouteSpec } from './types.js';

/** Backend types whose engine the gateway can start as an emulated face (`sim:`), by face. */
export const SIM_FACES = {
  vllm: 'vllm', lmdeploy: 'lmdeploy', 'trtllm-serve': 'trtllm-serve', 'triton-trtllm': 'triton-trtllm', tgi: 'tgi', 'deepspeed-mii': 'deepspeed-mii',
} as const;

export const SIM = {
  profile: str('The engine profile to emulate (native/profiles.yaml, see "Profiles").'),
  port: int('The port the emulated replica listens on (loopback).', { min: 1, max: 65535 }),
  time_scale: num('Emulated time runs this many times slower (2) or faster (0.5).', { default: 1 }),
  args: strings('Extra `switchyard sim` flags, e.g. faults.'),
} as const;

/** The keys core reads in a backend section; any other key is the plugin's. */
export const BACKEND = {
  id: str('Names the backend in routes, metrics and logs; unique.'),
  type: str('The plugin: vllm, lmdeploy, trtllm-serve, openai, trtllm (in process), triton-trtllm, tgi, deepspeed-mii, or a module path (./my-plugin.js).'),
  url: optional(str('The engine\'s base URL, http:// or https://; none with sim:, discover: or an in-process type.')),
  models: strings('Engine model names; asked of the engine (/v1/models) when omitted.'),
  labels: stringMap('Free labels (gpu: a10), shown in /admin/routing.'),
  sim: optionalSection(`Start an emulated replica of this engine instead of naming a url (types: ${Object.keys(SIM_FACES).join(', ')}).`, SIM),
  discover: optionalSection('Replicas from DNS instead of one url (see "Discovering replicas"); `{host}` in plugin options becomes each replica\'s address.', DISCOVER),
} as const;

export const ARM = {
  name: str('Names the arm in metrics and the access log; unique in the route.'),
  backends: strings('Backend ids of this arm.'),
  weight: num('Share of new conversations.', { default: 1 }),
} as const;

export const STICKY = {
  header: optional(str('This request header keeps a conversation on one arm.')),
  field: optional(oneOf(['user'] as const, 'The request body\'s `user` keeps it.')),
  api_key: optional(custom<boolean>('true', 'The API key keeps it.', (r, o, key, at) => r.bool(o, key, at))),
} as const;

export const SHADOW = {
  backends: strings('Backend ids that get a copy; their answers are discarded.'),
  fraction: num('Share of requests copied.', { min: 0, max: 1 }),
} as const;

export const POLICY = {
  type: custom<string>(`one of ${policyTypes().join(', ')}`, 'The routing policy (see "Routing").', (r, o, key, at) => {
    const type = r.str(o, key, at);
    if (!policyFactory(type)) r.fail(`${at}.${key}`, `one of ${policyTypes().join(', ')}`, type);
    return type;
  }, { default: '"least-load"' }),
} as const;

export const SLO = {
  ttft_ms: optional(num('Time to first token target (ms).', { min: 1 })),
  tpot_ms: optional(num('Time per output token target (ms).', { min: 0.1 })),
} as const;

export const ADMISSION = {
  mode: oneOf(['shed', 'queue'] as const, 'A request no backend can serve within its SLO is refused (shed: 429) or waits (queue).'),
  max_queue: int('Requests waiting at most; past it, shed.', { default: 256, min: 1 }),
  max_wait_ms: int('Longest wait in the queue.', { default: 5000, min: 1 }),
} as const;

export const TIMEOUTS = {
  first_token_ms: int('A stream\'s first token must come within this long of the request\'s start (504).', { default: DEFAULT_DEADLINES.firstTokenMs, min: 1 }),
  stall_ms: int('Longest gap between tokens (504).', { default: DEFAULT_DEADLINES.stallMs, min: 1 }),
  total_ms: int('The whole request (504).', { default: DEFAULT_DEADLINES.totalMs, min: 1 }),
} as const;

/** A route's policy: its `type` and the policy's own options beside it. */
const policy: Field<RouteSpec['policy']> = custom('mapping', 'How a backend is chosen: `type` and that policy\'s options beside it (policy options).', (r, o, key, at) => {
  const where = `${at}.${key}`;
  const p = o[key] === undefined ? { type: 'least-load' } : r.obj(o[key], where);
  const type = POLICY.type.read(r, p, 'type', where);
  const options = Object.fromEntries(Object.entries(p).filter(([k]) => k !== 'type'));
  const factory = policyFactory(type);
  const problems = factory?.validate(options) ?? [];
  if (problems.length > 0) throw r.problems(where, problems);
  return { type, options };
}, { fields: POLICY });

export const ROUTE = {
  model: str('The public model name clients send.'),
  aliases: strings('Other names clients may send for it.'),
  backends: strings('Backend ids that serve it (or arms:, not both).'),
  arms: sections('A/B arms instead of backends:, each with its own backends and weight.', ARM),
  sticky: optionalSection('What keeps one conversation on one arm: exactly one key.', STICKY),
  shadow: optionalSection('Copies of a fraction of requests to other backends.', SHADOW),
  policy,
  retries: int('Other candidates tried when one fails before its first byte.', { default: 1, max: 10 }),
  slo: optionalSection('Default latency targets; requests override them with x-slo-ttft-ms / x-slo-tpot-ms.', SLO),
  admission: optionalSection('What happens to requests predicted to miss the SLO (needs a policy that predicts it: slo).', ADMISSION),
  timeouts: section('Upstream deadlines, each its own 504.', TIMEOUTS),
  tokenizer_config: optional(str('The model\'s tokenizer_config.json (a path relative to the config, or a file of an installed package): prefix keys over the rendered chat template.')),
  tokenizer: optional(str('The model\'s tokenizer.json, for exact prefix routing (needs tokenizer_config).'), 'tokenizer.json beside tokenizer_config, if there'),
} as const;

export const LISTEN = {
  host: optional(str('The address to listen on.'), '"127.0.0.1"; "0.0.0.0" with auth keys'),
  port: int('The port (--port and PORT override it).', { default: 8080, max: 65535 }),
  backlog: int('Connections the kernel queues before the gateway accepts them (capped by net.core.somaxconn); past it, a new client\'s first request is reset.', { default: 4096, min: 1, max: 65535 }),
} as const;

export const STORE = {
  type: oneOf(['memory', 'redis'] as const, 'Where limits and shared routing state live: this process, or Redis shared by gateway processes.', 'memory'),
  url: optional(str('redis://host:port, with type: redis.')),
} as const;

export const LIMITS = {
  body_bytes: int('Requests above this are refused (413); bodies over 1 MiB are parsed in a worker thread.', { default: 16 * 1024 * 1024, min: 1024 }),
  drain_timeout_ms: int('On SIGTERM, in-flight requests get this long.', { default: 30_000 }),
  upstream_connect_timeout_ms: int('Connecting to an engine.', { default: 5_000, min: 1 }),
  upstream_headers_timeout_ms: int('An engine\'s response headers.', { default: 600_000, min: 1 }),
  request_timeout_ms: int('The whole client request (headers and body) must arrive by then (408).', { default: 30_000, min: 1 }),
  client_stall_timeout_ms: int('A stream whose client takes nothing this long is ended, its upstream aborted.', { default: 60_000, min: 1 }),
  max_in_flight_per_client: int('Without auth keys: requests in flight per client address (0: no cap).', { default: 1024 }),
  max_connections: int('Open client connections per process (0: no cap).', { default: 8192 }),
} as const;

export const ROUTING = {
  chunk_bytes: int('Prefix-key chunk size, in bytes of canonical prompt.', { default: 256, min: 16, max: 65_536 }),
  bytes_per_token: num('Bytes of prompt per token, to turn chunks into tokens until a backend\'s answers give its own ratio (prompt bytes against its usage.prompt_tokens; Qwen\'s and Llama 3\'s tokenizers take ~5.5 bytes of English per token).', { default: 4, min: 0.5 }),
} as const;

export const ACCESS_LOG = {
  sample_rate: num('Share of successful requests logged (one JSON line each); failures are always logged.', { default: 0, max: 1 }),
} as const;

/** The top level of a gateway config. */
export const TOP = {
  listen: section('Where the gateway listens.', LISTEN),
  workers: int('Processes sharing the port (node:cluster).', { default: 1, min: 1, max: 256 }),
  store: section('State shared between gateway processes.', STORE),
  limits: section('Per-process limits and upstream timeouts.', LIMITS),
  routing: section('Prefix keys.', ROUTING),
  auth: AUTH_FIELD,
  metrics: section('The /metrics endpoint.', METRICS),
  access_log: section('One line per request.', ACCESS_LOG),
  backends: sections('The engines; other keys of a backend are its plugin\'s options (see each plugin).', BACKEND, { min: 1, noun: 'backend' }),
  routes: sections('Public model names and the backends that serve them.', ROUTE, { min: 1, noun: 'route' }),
} as const;
