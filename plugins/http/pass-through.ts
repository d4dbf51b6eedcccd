/**
 * Dispatch to an engine that speaks OpenAI's API itself: the request body goes to the same path
 * untouched (engine-specific fields included) and the answer comes back as the engine wrote it,
 * through undici's low-level dispatch (upstream-answer.ts).
 */
import { encodeBody } from '../../core/plugin/body.js';
import type { Cancel } from '../../core/plugin/cancel.js';
import type { DispatchCall, DispatchReply } from '../../core/plugin/types.js';
import type { EngineClient } from './client.js';
import type { EngineDispatch } from './define.js';
import { UpstreamAnswer } from './upstream-answer.js';

const PATHS = { chat: '/v1/chat/completions', completions: '/v1/completions', embeddings: '/v1/embeddings', responses: '/v1/responses' } as const;

/**
 * The client headers an engine gets: an allowlist. What the answer should look like (Accept) and
 * the caller's trace context (W3C traceparent, tracestate, baggage), plus the names a backend's
 * `forward_headers:` option adds. Everything else — credentials (a gateway API key is not the
 * engine's), cookies, the proxy trail (Forwarded, X-Forwarded-*, X-Real-IP), hop-by-hop headers —
 * is the client's business with the gateway: a client cannot speak for the gateway to its engines.
 * The gateway sets Content-Type, X-Request-Id and the backend's own Authorization itself.
 */
const FORWARDED = ['accept', 'traceparent', 'tracestate', 'baggage'];

export class PassThrough implements EngineDispatch {
  private count = 0;
  /** Client headers passed to the engine (FORWARDED and the backend's forward_headers), lower-case. */
  private readonly forwarded: readonly string[];

  constructor(private readonly client: EngineClient, forwardHeaders: readonly string[]) {
    this.forwarded = [...new Set([...FORWARDED, ...forwardHeaders.map((h) => h.toLowerCase())])];
  }

  get inFlight(): number {
    return this.count;
  }

  dispatch(call: DispatchCall): Promise<DispatchReply> {
    const payload = call.bodyText ?? encodeBody(call.body);
    // A large body is serialised by the worker that holds it (core/plugin/body.ts).
    return typeof payload === 'string' ? this.send(call, payload) : payload.then((bytes) => this.send(call, bytes));
  }

  private send(call: DispatchCall, payload: string | Uint8Array): Promise<DispatchReply> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': call.requestId, ...this.client.authHeaders() };
    for (const key of this.forwarded) {
      const v = call.headers[key];
      if (typeof v === 'string') headers[key] = v;
    }
    const { cancel } = call;
    if (cancel.reason) return Promise.reject(cancel.reason);
    this.count++;
    const { answer, started } = this.answerFor(cancel);
    try {
      this.client.pool.dispatch({ path: PATHS[call.endpoint], method: 'POST', headers, body: payload }, answer);
    } catch (err) {
      answer.onResponseError(undefined, err instanceof Error ? err : new Error(String(err)));
    }
    return started;
  }

  /**
   * The answer's handler and the promise of its start, made apart from the request: callbacks
   * made where the request's body, headers and call are in scope keep them for as long as the
   * answer lasts (a whole stream), though nothing reads them after the dispatch.
   */
  private answerFor(cancel: Cancel): { answer: UpstreamAnswer; started: Promise<DispatchReply> } {
    let resolve!: (answer: DispatchReply) => void;
    let reject!: (err: Error) => void;
    const started = new Promise<DispatchReply>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const answer = new UpstreamAnswer(
      (err) => (err ? reject(err) : resolve(answer)),
      () => {
        this.count--;
        unsubscribe();
      },
    );
    const unsubscribe = cancel.onCancel((reason) => answer.abort(reason));
    return { answer, started };
  }
}
