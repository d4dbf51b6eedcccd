/**
 * The access log: one structured line per request — request id, key id, model, arm, backend,
 * routing reason, status, TTFT, duration, tokens and cached tokens — through the request's pino
 * logger (so it carries `reqId`). A line costs the hot path a few microseconds, so successful
 * requests are sampled (`access_log.sample_rate`); every failure is logged.
 */
import type { ClientRequest } from './client.js';

export interface AccessRecord {
  model: string;
  key?: string;
  arm?: string;
  backend?: string;
  reason?: string;
  /** HTTP status, or how a stream ended when it did not end well ("client-gone", "upstream-failed"). */
  status: number | string;
  error?: string;
  stream?: boolean;
  ttftMs?: number;
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
}

export class AccessLog {
  constructor(private readonly sampleRate: number, private readonly random: () => number = Math.random) {}

  write(req: ClientRequest, record: AccessRecord, durationMs: number): void {
    const failed = typeof record.status !== 'number' || record.status >= 400;
    if (!failed && (this.sampleRate <= 0 || (this.sampleRate < 1 && this.random() >= this.sampleRate))) return;
    const line = {
      model: record.model, key: record.key, arm: record.arm, backend: record.backend, route_reason: record.reason,
      status: record.status, error: record.error, stream: record.stream,
      ttft_ms: record.ttftMs === undefined ? undefined : round(record.ttftMs), duration_ms: round(durationMs),
      prompt_tokens: record.promptTokens, completion_tokens: record.completionTokens, cached_tokens: record.cachedTokens,
    };
    if (failed) req.log.warn({ access: line }, 'request');
    else req.log.info({ access: line }, 'request');
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
