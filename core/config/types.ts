import type { BackendSpec } from '../plugin/types.js';
import type { DiscoveredBackend } from './discover.js';

export interface SimulatedEngine {
  /** The backend this replica serves. */
  backendId: string;
  face: 'vllm' | 'lmdeploy' | 'trtllm-serve' | 'triton-trtllm' | 'tgi' | 'deepspeed-mii';
  profile: string;
  port: number;
  timeScale: number;
  /** Served model name. */
  model?: string;
  /** Extra `switchyard sim` flags, e.g. faults. */
  args: string[];
}

export interface RouteSpec {
  model: string;
  aliases: string[];
  /** Every backend of the route (all arms). */
  backends: string[];
  /** A/B arms; a route given plain `backends:` has one arm, "default", holding them all. */
  arms: Array<{ name: string; backends: string[]; weight: number }>;
  /** What keeps one conversation on one arm. */
  sticky?: { header: string } | { field: 'user' } | { apiKey: true };
  /** A copy of this fraction of requests goes to these backends; answers are discarded. */
  shadow?: { backends: string[]; fraction: number };
  policy: { type: string; options: Record<string, unknown> };
  /** Other candidates tried when one fails before its first byte. */
  retries: number;
  /** Default latency targets (requests may override with x-slo-ttft-ms / x-slo-tpot-ms). */
  slo?: { ttftMs?: number; tpotMs?: number };
  /** Upstream deadlines: a stream's first token (from the request's start), stall between tokens, whole request (ms). */
  timeouts: { firstTokenMs: number; stallMs: number; totalMs: number };
  /** What happens to a request no backend can serve within its SLO (default: send it anyway). */
  admission?: { mode: 'shed' | 'queue'; maxQueue: number; maxWaitMs: number };
  /** The model's tokenizer_config.json (absolute path): prefix keys over the rendered chat template. */
  tokenizerConfig?: string;
  /**
   * The model's tokenizer.json (absolute path; default: beside tokenizer_config when it exists):
   * with backends that publish KV-cache events, prompts are tokenized as the engine will see them
   * and matched against the engine's own blocks (exact prefix routing).
   */
  tokenizer?: string;
}

/** One API key of `auth.keys`: who it is, what it may use, how much. */
export interface ApiKeySpec {
  id: string;
  /** The key's SHA-256, hex: the key itself is never kept past loading. */
  sha256: string;
  /** Public model names (or aliases) the key may use; undefined: every model. */
  models?: string[];
  /** Requests and tokens per minute, requests in flight; undefined: unlimited. */
  limits: { rpm?: number; tpm?: number; concurrency?: number };
  /** Orders the slo admission queue. */
  priority: 'high' | 'normal' | 'low';
}

/** The `auth:` section. With no keys, inference is open to anyone who reaches the port. */
export interface AuthSpec {
  keys: ApiKeySpec[];
  /** SHA-256 (hex) of each admin key: /admin/*, and /metrics unless metrics.public. */
  adminKeys: string[];
  /** With a shared limit store (Redis) unreachable: limit per process ('open') or refuse ('closed'). */
  onStoreFailure: 'open' | 'closed';
  /** Addresses or CIDR ranges whose X-Forwarded-For is believed. */
  trustedProxies: string[];
}

export interface GatewayConfig {
  file: string;
  /** host: 127.0.0.1 unless the config names one (or has auth keys: 0.0.0.0). */
  listen: { host: string; port: number; backlog: number };
  auth?: AuthSpec;
  /** public: /metrics answers without an admin key (default false when auth is configured). */
  metrics: { public: boolean };
  /** One line per request; successful ones sampled at this rate (0 turns them off), failures always. */
  accessLog: { sampleRate: number };
  workers: number;
  store: { type: 'memory' } | { type: 'redis'; url: string };
  limits: {
    bodyBytes: number;
    drainTimeoutMs: number;
    upstreamConnectTimeoutMs: number;
    upstreamHeadersTimeoutMs: number;
    /** A client must send its whole request (headers and body) within this long, or gets 408. */
    requestTimeoutMs: number;
    /** A stream whose client takes nothing for this long is ended and its upstream aborted. */
    /** Open client connections per process; 0: no cap. */
    maxConnections: number;
    clientStallTimeoutMs: number;
    /** Requests in flight per client address when no API keys are configured (0: no cap). */
    maxInFlightPerClient: number;
  };
  routing: {
    /** Prefix-key chunk size in bytes of canonical prompt. */
    chunkBytes: number;
    /** Bytes of prompt per token, to turn chunks into tokens (≈4 for English). */
    bytesPerToken: number;
  };
  /** Engine replicas the gateway starts itself (emulated engine-model faces). */
  simulated: SimulatedEngine[];
  backends: BackendSpec[];
  /** Backends whose replicas come from DNS (`discover:`); routes name them by their declared id. */
  discovered: DiscoveredBackend[];
  routes: RouteSpec[];
}
