/**
 * The connection to one engine: an undici Pool with keep-alive on the engine's origin, the
 * backend's own Authorization, and small requests outside the request path (health, load pages,
 * model lists, tokenize checks) bounded by the health timeout.
 */
import { Pool, request } from 'undici';
import type { HttpBackendOptions } from './options.js';

/** A small answer read whole. */
export interface SmallAnswer {
  status: number;
  body: string;
}

export class EngineClient {
  readonly base: URL;
  readonly pool: Pool;

  constructor(url: string, private readonly options: HttpBackendOptions) {
    this.base = new URL(url);
    this.pool = new Pool(this.base.origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.headersTimeoutMs,
      // A stream may legitimately pause (a long prefill behind a queue); a stalled one is cut
      // after this long without a byte.
      bodyTimeout: options.bodyTimeoutMs,
    });
  }

  /** The backend's own credentials for its engine (never the client's). */
  authHeaders(): Record<string, string> {
    return this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {};
  }

  async get(path: string): Promise<SmallAnswer> {
    const res = await request(new URL(path, this.base), {
      method: 'GET', dispatcher: this.pool, headersTimeout: this.options.healthTimeoutMs, bodyTimeout: this.options.healthTimeoutMs,
      headers: this.authHeaders(),
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  /** A small JSON POST outside the request path (tokenize checks and the like). */
  async post(path: string, body: unknown): Promise<SmallAnswer> {
    const res = await request(new URL(path, this.base), {
      method: 'POST', dispatcher: this.pool, headersTimeout: this.options.healthTimeoutMs, bodyTimeout: this.options.healthTimeoutMs,
      headers: { 'content-type': 'application/json', ...this.authHeaders() }, body: JSON.stringify(body),
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
