/**
 * Fault injection for emulated engine replicas.
 *
 * Faults come from command-line flags and can be changed while the replica runs (`POST /sim/faults`
 * with a JSON body of the same fields). They are the failures a gateway must survive: error
 * statuses before the first byte, streams that stall or die mid-way, an engine that fails a
 * request after the 200 (the face's own mid-stream error), a replica that is still starting, and
 * a failing health check. `X-Return-Error: <status>` on a request forces an error,
 * as llm-d-inference-sim does.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface ErrorRate {
  /** HTTP status to return, 400..599. */
  status: number;
  /** Probability per request, 0..1. */
  probability: number;
}

export interface FaultConfig {
  errorRates: ErrorRate[];
  /** After this many generated tokens, stop sending bytes (socket stays open, engine request cancelled). */
  stallAfter: number | null;
  /** After this many generated tokens, destroy the socket. */
  crashAfter: number | null;
  /** After this many generated tokens, the engine fails the request: the face writes its error. */
  errorAfter: number | null;
  /** For this many real ms after start, /health is 503 and completions wait. */
  slowStartMs: number;
  /** /health returns 503. */
  failHealth: boolean;
}

export const NO_FAULTS: FaultConfig = {
  errorRates: [],
  stallAfter: null,
  crashAfter: null,
  errorAfter: null,
  slowStartMs: 0,
  failHealth: false,
};

export class FaultConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultConfigError';
  }
}

/** What to do with a stream after `tokens` generated tokens. */
export type StreamFault = 'continue' | 'stall' | 'crash' | 'fail';

/** Parses `STATUS:P[,STATUS:P]`, e.g. `503:0.1,429:0.05`. */
export function parseErrorRates(text: string): ErrorRate[] {
  const rates: ErrorRate[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const match = /^(\d{3}):([0-9]*\.?[0-9]+(?:e-?\d+)?)$/i.exec(part);
    if (match === null) throw new FaultConfigError(`error rate "${part}": expected STATUS:P, e.g. 503:0.1`);
    rates.push(checkRate(Number(match[1]), Number(match[2]), part));
  }
  return checkTotal(rates);
}

function checkRate(status: number, probability: number, what: string): ErrorRate {
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    throw new FaultConfigError(`error rate "${what}": status must be an HTTP error status 400..599`);
  }
  if (!(probability >= 0 && probability <= 1)) {
    throw new FaultConfigError(`error rate "${what}": probability must be within 0..1`);
  }
  return { status, probability };
}

function checkTotal(rates: ErrorRate[]): ErrorRate[] {
  const total = rates.reduce((sum, r) => sum + r.probability, 0);
  if (total > 1 + 1e-9) throw new FaultConfigError(`error rates add up to ${total}, more than 1`);
  return rates;
}

export function parseTokenCount(value: unknown, what: string): number | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new FaultConfigError(`${what}: expected a non-negative integer number of tokens, got ${JSON.stringify(value)}`);
  }
  return n;
}

function parseMs(value: unknown, what: string): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
    throw new FaultConfigError(`${what}: expected a non-negative number of milliseconds, got ${JSON.stringify(value)}`);
  }
  return n;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a field by its flag name (`error-rate`) or its camelCase name (`errorRate`). */
function field(body: Record<string, unknown>, flag: string): { present: boolean; value: unknown } {
  const camel = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  for (const key of [flag, camel]) if (key in body) return { present: true, value: body[key] };
  return { present: false, value: undefined };
}

function parseErrorRatesValue(value: unknown): ErrorRate[] {
  if (value === null) return [];
  if (typeof value === 'string') return parseErrorRates(value);
  if (Array.isArray(value)) {
    return checkTotal(value.map((item, i) => {
      if (!isRecord(item)) throw new FaultConfigError(`error-rate[${i}]: expected {status, probability}`);
      return checkRate(Number(item.status), Number(item.probability), `error-rate[${i}]`);
    }));
  }
  if (isRecord(value)) {
    return checkTotal(Object.entries(value).map(([status, p]) => checkRate(Number(status), Number(p), `${status}:${String(p)}`)));
  }
  throw new FaultConfigError('error-rate: expected "STATUS:P,…", [{status, probability}] or {"STATUS": P}');
}

/**
 * Applies a `POST /sim/faults` body (fields as the flags: `error-rate`, `stall-after`,
 * `crash-after`, `error-after`, `slow-start`, `fail-health`, or their camelCase forms) to `current`.
 * Absent fields keep their value; `null` clears one.
 */
export function applyFaultPatch(current: FaultConfig, body: unknown): FaultConfig {
  if (!isRecord(body)) throw new FaultConfigError('the fault settings must be a JSON object');
  const known = new Set(['error-rate', 'errorRate', 'errorRates', 'stall-after', 'stallAfter', 'crash-after',
    'crashAfter', 'error-after', 'errorAfter', 'slow-start', 'slowStart', 'slowStartMs', 'fail-health', 'failHealth']);
  for (const key of Object.keys(body)) if (!known.has(key)) throw new FaultConfigError(`unknown fault setting "${key}"`);
  const next: FaultConfig = { ...current, errorRates: [...current.errorRates] };
  const rates = field(body, 'error-rate');
  const ratesAlt = 'errorRates' in body ? { present: true, value: body.errorRates } : rates;
  if (ratesAlt.present) next.errorRates = parseErrorRatesValue(ratesAlt.value);
  const stall = field(body, 'stall-after');
  if (stall.present) next.stallAfter = parseTokenCount(stall.value, 'stall-after');
  const crash = field(body, 'crash-after');
  if (crash.present) next.crashAfter = parseTokenCount(crash.value, 'crash-after');
  const failure = field(body, 'error-after');
  if (failure.present) next.errorAfter = parseTokenCount(failure.value, 'error-after');
  const slow = 'slowStartMs' in body ? { present: true, value: body.slowStartMs } : field(body, 'slow-start');
  if (slow.present) next.slowStartMs = slow.value === null ? 0 : parseMs(slow.value, 'slow-start');
  const health = field(body, 'fail-health');
  if (health.present) {
    if (typeof health.value !== 'boolean') throw new FaultConfigError('fail-health: expected true or false');
    next.failHealth = health.value;
  }
  return next;
}

/** The live fault state of one replica. */
export class FaultController {
  private settings: FaultConfig;
  private startingUntil: number;

  constructor(config: FaultConfig, private readonly random: () => number = Math.random) {
    this.settings = config;
    this.startingUntil = Date.now() + config.slowStartMs;
  }

  get config(): FaultConfig {
    return this.settings;
  }

  /** Replaces the settings; a new slow-start window starts now. */
  update(body: unknown): FaultConfig {
    const next = applyFaultPatch(this.settings, body);
    if (next.slowStartMs !== this.settings.slowStartMs || this.isStarting()) {
      this.startingUntil = Date.now() + next.slowStartMs;
    }
    this.settings = next;
    return next;
  }

  isStarting(): boolean {
    return Date.now() < this.startingUntil;
  }

  healthy(): boolean {
    return !this.settings.failHealth && !this.isStarting();
  }

  /** Resolves when the slow-start window is over (at once if there is none); rejects on abort. */
  async waitUntilStarted(signal?: AbortSignal): Promise<void> {
    const left = this.startingUntil - Date.now();
    if (left > 0) await sleep(left, undefined, { signal });
  }

  /**
   * The error status to return instead of serving this request, if any: the `X-Return-Error`
   * header wins, else one draw against the configured rates.
   */
  pickError(forced: string | string[] | undefined): number | null {
    const header = Array.isArray(forced) ? forced[0] : forced;
    if (header !== undefined && header.trim() !== '') {
      const status = Number(header.trim());
      if (Number.isInteger(status) && status >= 400 && status <= 599) return status;
    }
    if (this.settings.errorRates.length === 0) return null;
    const draw = this.random();
    let cumulative = 0;
    for (const rate of this.settings.errorRates) {
      cumulative += rate.probability;
      if (draw < cumulative) return rate.status;
    }
    return null;
  }

  /** What a stream does once `tokens` tokens have been generated. */
  streamFault(tokens: number): StreamFault {
    const { crashAfter, stallAfter, errorAfter } = this.settings;
    if (crashAfter !== null && tokens >= crashAfter) return 'crash';
    if (stallAfter !== null && tokens >= stallAfter) return 'stall';
    if (errorAfter !== null && tokens >= errorAfter) return 'fail';
    return 'continue';
  }
}

/** The message of an injected error: says it is simulated, so nobody chases a phantom bug. */
export function injectedErrorMessage(status: number, replica: string): string {
  const what: Record<number, string> = {
    400: 'invalid request',
    401: 'invalid API key',
    404: 'model not found',
    429: 'rate limit exceeded, retry later',
    500: 'internal server error',
    503: 'service unavailable',
  };
  return `Simulated fault on replica ${replica}: ${what[status] ?? `error ${status}`}`;
}
