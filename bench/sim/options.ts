/**
 * Options of `switchyard sim`: one emulated engine replica (an Engine on a real clock plus the HTTP
 * face of vLLM, LMDeploy, trtllm-serve, Triton's tensorrtllm_backend, TGI or DeepSpeed-MII).
 */
import { FaultConfigError, NO_FAULTS, parseErrorRates, parseTokenCount } from './faults.js';
import type { FaultConfig } from './faults.js';
import { SIM_RELEASES, newestRelease } from './faces/releases.js';
import { parseKvEventsConfig, type KvEventsConfig } from './kv-events/vllm-face-events.js';

export const SIM_ENGINES = ['vllm', 'lmdeploy', 'trtllm-serve', 'triton-trtllm', 'tgi', 'deepspeed-mii'] as const;
export type SimEngine = (typeof SIM_ENGINES)[number];

export interface SimOptions {
  /** Which engine's HTTP dialect the replica speaks. */
  engine: SimEngine;
  /** Which release of it (faces/releases.ts); default the newest. */
  release: string;
  /** Profile name (native/profiles.yaml), e.g. `a10-qwen2.5-7b-vllm`. */
  profile: string;
  /** Profiles file to read instead of the default one. */
  profileFile?: string;
  /** 0 picks a free port. */
  port: number;
  host: string;
  /** Model time runs this many times faster than real time. */
  timeScale: number;
  /** Served model name; default: the profile's model (HF id). */
  model?: string;
  /** Sent as `x-sim-replica` on every response; default `<engine>-<port>`. */
  replicaName?: string;
  faults: FaultConfig;
  /** fastify's request logger (off by default). */
  logger: boolean;
  /** vLLM `--enable-prompt-tokens-details`: usage carries `prompt_tokens_details.cached_tokens`. */
  enablePromptTokensDetails: boolean;
  /** vLLM `--enable-force-include-usage`: usage in every stream (on every chunk from 0.11.1). */
  enableForceIncludeUsage: boolean;
  /** trtllm-serve `return_perf_metrics: true` (LLM args): serves Prometheus text at /prometheus/metrics. */
  returnPerfMetrics: boolean;
  /** Tokenizer worker threads (long prompts are tokenized off the event loop). */
  tokenizerThreads: number;
  /**
   * The API server's own cost per request (model ms), slept before the request enters the engine.
   * Default 0: the face behaves like the engine itself.
   */
  frontendOverheadMs?: number;
  /**
   * Use the profile's fitted `frontend_overhead_ms` instead: what the published tables imply per
   * request, front-end included (xinference, grps). Only calibration against those tables wants it.
   */
  calibrationOverhead: boolean;
  /** Triton's `--metrics-port`: Prometheus metrics on their own port (default 8002; 0 picks a free one). */
  metricsPort?: number;
  /** Override the profile's KV capacity (vLLM --num-gpu-blocks-override). */
  numGpuBlocks?: number;
  /** Override the profile's prefix caching (vLLM --enable-prefix-caching / --no-enable-prefix-caching). */
  prefixCaching?: boolean;
  /** vLLM `--kv-events-config`: publish KV-cache events over ZMQ (kv-events/vllm-face-events.ts). */
  kvEvents?: KvEventsConfig;
}

/**
 * Each engine's default port: vLLM and trtllm-serve 8000, LMDeploy 23333 (REFERENCE §1.1); Triton's
 * HTTP 8000 (metrics 8002); TGI's launcher 3000 (launcher/src/main.rs); MII's restful_api_port
 * 51080 (mii/config.py).
 */
export const DEFAULT_PORTS: Record<SimEngine, number> = {
  vllm: 8000, lmdeploy: 23333, 'trtllm-serve': 8000, 'triton-trtllm': 8000, tgi: 3000, 'deepspeed-mii': 51080,
};

/** Triton's default metrics port. */
export const TRITON_METRICS_PORT = 8002;

export class SimArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimArgsError';
  }
}

export const SIM_USAGE = `usage: switchyard sim --engine vllm|lmdeploy|trtllm-serve|triton-trtllm|tgi|deepspeed-mii --profile NAME [options]
  --release R              the engine release to mirror (default the newest): vllm ${SIM_RELEASES.vllm.join('|')},
                           lmdeploy ${SIM_RELEASES.lmdeploy.join('|')}, trtllm-serve ${SIM_RELEASES['trtllm-serve'].join('|')},
                           triton-trtllm ${SIM_RELEASES['triton-trtllm'].join('|')}, tgi ${SIM_RELEASES.tgi.join('|')}, deepspeed-mii ${SIM_RELEASES['deepspeed-mii'].join('|')}
  --port N                 listen port (default: the engine's own; 0 picks a free one)
  --host H                 listen address (default 127.0.0.1)
  --time-scale X           model time runs X times faster than real time (default 1)
  --model NAME             served model name (default: the profile's model; MII's deployment name)
  --metrics-port N         triton-trtllm: Prometheus metrics port (default 8002; 0 picks a free one)
  --replica-name S         x-sim-replica header value (default <engine>-<port>)
  --profile-file PATH      profiles file to read
  --error-rate S:P[,S:P]   answer with HTTP status S with probability P, e.g. 503:0.1,429:0.05
  --stall-after N          stop sending bytes after N tokens (socket stays open)
  --crash-after N          destroy the connection after N tokens
  --error-after N          the engine fails the request after N tokens (the engine's mid-stream error)
  --slow-start MS          /health is 503 and completions wait for the first MS ms
  --fail-health            /health returns 503
  --enable-prompt-tokens-details, --enable-force-include-usage   (vLLM flags)
  --return-perf-metrics    trtllm-serve's return_perf_metrics: Prometheus text at /prometheus/metrics
  --frontend-overhead-ms MS  an API-server cost per request, model ms, before the engine (default 0)
  --calibration-overhead   use the profile's fitted per-request overhead instead (the published
                           tables' front end, e.g. xinference; for calibration only)
  --num-gpu-blocks N       KV capacity in blocks instead of the profile's (vLLM --num-gpu-blocks-override)
  --enable-prefix-caching, --no-enable-prefix-caching   override the profile's prefix caching
  --kv-events-config JSON  vLLM's flag: '{"enable_kv_cache_events": true, "publisher": "zmq",
                           "endpoint": "tcp://*:5557", "replay_endpoint": "tcp://*:5558"}' publishes
                           the engine's KV-cache events over ZMQ as vLLM does (port 0: any free one)
  --tokenizer-threads N    tokenizer worker threads (default 1)
  --log                    fastify request logging
  -h, --help               this text`;

const VALUE_FLAGS = new Set(['engine', 'release', 'profile', 'profile-file', 'port', 'host', 'time-scale', 'model',
  'replica-name', 'error-rate', 'stall-after', 'crash-after', 'error-after', 'slow-start', 'tokenizer-threads', 'frontend-overhead-ms', 'num-gpu-blocks', 'kv-events-config',
  'metrics-port']);
const BOOLEAN_FLAGS = new Set(['fail-health', 'log', 'enable-prompt-tokens-details', 'enable-force-include-usage', 'enable-prefix-caching',
  'no-enable-prefix-caching', 'calibration-overhead', 'return-perf-metrics']);

/** The engine part of a profile name to suggest: Triton serves TensorRT-LLM; TGI and MII have no profiles of their own. */
function exampleProfileEngine(engine: SimEngine): string {
  return engine === 'trtllm-serve' || engine === 'triton-trtllm' ? 'trtllm' : engine === 'tgi' || engine === 'deepspeed-mii' ? 'vllm' : engine;
}

function isSimEngine(value: string): value is SimEngine {
  return (SIM_ENGINES as readonly string[]).includes(value);
}

function number(flag: string, text: string, check: (n: number) => boolean, expected: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || !check(n)) {
    throw new SimArgsError(`--${flag}: expected ${expected}, got "${text}"`);
  }
  return n;
}

/** Splits `--flag value` / `--flag=value` pairs; rejects unknown flags and missing values. */
function readFlags(argv: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new SimArgsError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (BOOLEAN_FLAGS.has(name)) {
      if (eq !== -1) throw new SimArgsError(`--${name} takes no value`);
      flags.set(name, 'true');
      continue;
    }
    if (!VALUE_FLAGS.has(name)) throw new SimArgsError(`unknown flag --${name}`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) value = argv[++i];
    if (value === undefined || value === '') throw new SimArgsError(`--${name} needs a value`);
    if (flags.has(name)) throw new SimArgsError(`--${name} given twice`);
    flags.set(name, value);
  }
  return flags;
}

/** Parses `switchyard sim` arguments (without the `sim` itself). Throws SimArgsError. */
export function parseSimArgs(argv: string[]): SimOptions {
  const flags = readFlags(argv);
  const engine = flags.get('engine');
  if (engine === undefined) throw new SimArgsError('--engine is required');
  if (!isSimEngine(engine)) throw new SimArgsError(`--engine: expected one of ${SIM_ENGINES.join(', ')}, got "${engine}"`);
  const profile = flags.get('profile');
  if (profile === undefined) throw new SimArgsError(`--profile is required (e.g. a10-qwen2.5-7b-${exampleProfileEngine(engine)})`);

  const portText = flags.get('port');
  const port = portText === undefined
    ? DEFAULT_PORTS[engine]
    : number('port', portText, (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'a port number 0..65535');
  const timeScaleText = flags.get('time-scale');
  const timeScale = timeScaleText === undefined ? 1 : number('time-scale', timeScaleText, (n) => n > 0, 'a positive number');
  const threadsText = flags.get('tokenizer-threads');
  const tokenizerThreads = threadsText === undefined
    ? 1
    : number('tokenizer-threads', threadsText, (n) => Number.isInteger(n) && n >= 0 && n <= 64, 'an integer 0..64');

  const faults: FaultConfig = { ...NO_FAULTS, failHealth: flags.has('fail-health') };
  const asArgsError = <T>(flag: string, parse: () => T): T => {
    try {
      return parse();
    } catch (err) {
      if (err instanceof FaultConfigError) throw new SimArgsError(`--${flag}: ${err.message}`);
      throw err;
    }
  };
  const rates = flags.get('error-rate');
  if (rates !== undefined) faults.errorRates = asArgsError('error-rate', () => parseErrorRates(rates));
  faults.stallAfter = asArgsError('stall-after', () => parseTokenCount(flags.get('stall-after'), 'value'));
  faults.crashAfter = asArgsError('crash-after', () => parseTokenCount(flags.get('crash-after'), 'value'));
  faults.errorAfter = asArgsError('error-after', () => parseTokenCount(flags.get('error-after'), 'value'));
  const slowStart = flags.get('slow-start');
  if (slowStart !== undefined) faults.slowStartMs = number('slow-start', slowStart, (n) => n >= 0, 'milliseconds ≥ 0');

  if (flags.has('return-perf-metrics') && engine !== 'trtllm-serve') throw new SimArgsError('--return-perf-metrics is a trtllm-serve setting');
  const release = flags.get('release') ?? newestRelease(engine);
  if (!SIM_RELEASES[engine].includes(release)) {
    throw new SimArgsError(`--release: ${engine} releases are ${SIM_RELEASES[engine].join(', ')}, got "${release}"`);
  }

  const options: SimOptions = {
    engine,
    release,
    profile,
    port,
    host: flags.get('host') ?? '127.0.0.1',
    timeScale,
    faults,
    logger: flags.has('log'),
    enablePromptTokensDetails: flags.has('enable-prompt-tokens-details'),
    enableForceIncludeUsage: flags.has('enable-force-include-usage'),
    returnPerfMetrics: flags.has('return-perf-metrics'),
    tokenizerThreads,
    calibrationOverhead: flags.has('calibration-overhead'),
  };
  const overhead = flags.get('frontend-overhead-ms');
  if (overhead !== undefined) {
    if (options.calibrationOverhead) throw new SimArgsError('--frontend-overhead-ms and --calibration-overhead: give one, not both');
    options.frontendOverheadMs = number('frontend-overhead-ms', overhead, (n) => n >= 0, 'milliseconds ≥ 0');
  }
  const metricsPort = flags.get('metrics-port');
  if (metricsPort !== undefined) {
    if (engine !== 'triton-trtllm') throw new SimArgsError('--metrics-port is a Triton setting (--engine triton-trtllm)');
    options.metricsPort = number('metrics-port', metricsPort, (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'a port number 0..65535');
  } else if (engine === 'triton-trtllm') {
    options.metricsPort = port === 0 ? 0 : TRITON_METRICS_PORT;
  }
  const blocks = flags.get('num-gpu-blocks');
  if (blocks !== undefined) options.numGpuBlocks = number('num-gpu-blocks', blocks, (n) => Number.isInteger(n) && n > 0, 'a positive integer');
  const kvEvents = flags.get('kv-events-config');
  if (kvEvents !== undefined) {
    if (engine !== 'vllm') throw new SimArgsError('--kv-events-config is a vLLM flag (trtllm-serve serves POST /kv_cache_events)');
    try {
      options.kvEvents = parseKvEventsConfig(kvEvents);
    } catch (err) {
      throw new SimArgsError(err instanceof Error ? err.message : String(err));
    }
  }
  if (flags.has('enable-prefix-caching')) options.prefixCaching = true;
  if (flags.has('no-enable-prefix-caching')) options.prefixCaching = false;
  const profileFile = flags.get('profile-file');
  if (profileFile !== undefined) options.profileFile = profileFile;
  const model = flags.get('model');
  if (model !== undefined) options.model = model;
  const replicaName = flags.get('replica-name');
  if (replicaName !== undefined) options.replicaName = replicaName;
  return options;
}

/** Fills the optional fields of a programmatic SimOptions (startSim callers pass what they need). */
export function withSimDefaults(partial: Partial<SimOptions> & Pick<SimOptions, 'engine' | 'profile'>): SimOptions {
  return {
    release: newestRelease(partial.engine),
    port: 0,
    host: '127.0.0.1',
    timeScale: 1,
    logger: false,
    enablePromptTokensDetails: false,
    enableForceIncludeUsage: false,
    returnPerfMetrics: false,
    tokenizerThreads: 1,
    calibrationOverhead: false,
    ...partial,
    faults: { ...NO_FAULTS, ...partial.faults },
  };
}
