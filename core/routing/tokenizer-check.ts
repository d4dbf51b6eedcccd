/**
 * Exact prefix matching is only as right as the gateway's tokens: a wrong chat template or
 * tokenizer (another revision of the model's files) makes every exact match miss, silently.
 * Where a backend can tokenize (vLLM's `/tokenize`), the gateway's ids for a sample of real
 * requests are compared with the engine's — the first request, then one per interval per
 * backend — and /admin/routing says whether they agree.
 */
import type { Backend } from '../plugin/types.js';

export interface TokenizerCheckReport {
  checked: number;
  agreed: number;
  /** The latest disagreement: where the ids first differ, and both lengths. */
  lastMismatch?: { at: string; firstDifference: number; gatewayTokens: number; engineTokens: number };
  lastError?: string;
}

export class TokenizerChecks {
  private readonly byBackend = new Map<string, { last: number; running: boolean; report: TokenizerCheckReport }>();

  constructor(private readonly intervalMs = 60_000, private readonly now: () => number = Date.now) {}

  /** Drops a backend's report (the backend left the gateway). */
  forget(backendId: string): void {
    this.byBackend.delete(backendId);
  }

  /** Called with a request's ids on its way to `backend`; checks at most once per interval, off the request path. */
  /** Whether a check of this backend would run now (callers build the body and ids only then). */
  due(backend: Backend): boolean {
    if (!backend.tokenize) return false;
    const entry = this.byBackend.get(backend.id);
    return entry === undefined || !(entry.running || (entry.report.checked > 0 && this.now() - entry.last < this.intervalMs));
  }

  maybeCheck(backend: Backend, body: Readonly<Record<string, unknown>>, ids: Int32Array, onMismatch?: (report: TokenizerCheckReport) => void): void {
    if (!backend.tokenize) return;
    const entry = this.entry(backend.id);
    if (entry.running || (entry.report.checked > 0 && this.now() - entry.last < this.intervalMs)) return;
    entry.running = true;
    entry.last = this.now();
    backend.tokenize(body).then((engineIds) => {
      entry.report.checked++;
      let i = 0;
      while (i < ids.length && i < engineIds.length && ids[i] === engineIds[i]) i++;
      if (i === ids.length && i === engineIds.length) {
        entry.report.agreed++;
      } else {
        entry.report.lastMismatch = { at: new Date(this.now()).toISOString(), firstDifference: i, gatewayTokens: ids.length, engineTokens: engineIds.length };
        onMismatch?.(entry.report);
      }
    }, (err: unknown) => {
      entry.report.lastError = err instanceof Error ? err.message : String(err);
    }).finally(() => {
      entry.running = false;
    });
  }

  report(backendId: string): TokenizerCheckReport | undefined {
    return this.byBackend.get(backendId)?.report;
  }

  private entry(id: string) {
    let e = this.byBackend.get(id);
    if (!e) {
      e = { last: 0, running: false, report: { checked: 0, agreed: 0 } };
      this.byBackend.set(id, e);
    }
    return e;
  }
}
