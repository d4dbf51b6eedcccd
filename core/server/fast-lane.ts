/**
 * The inference routes' fast lane. Most inference requests are ordinary: a POST to one of the
 * four paths, spelled exactly, with a JSON body of a declared length under the inline size. For
 * those, fastify's per-request machinery (router, hook runner, content-type parser, reply
 * pipeline, a child logger) costs as much CPU as a whole bare Node proxy spends forwarding the
 * request (bench/overhead/profile.ts). The lane takes them straight from node:http and runs the
 * same steps in the same order, with the same functions: key check, fastify's own JSON parser,
 * the body refusals, the routes' ajv validators, the error catalogue and its one error answer.
 * Everything else — a chunked body, a large one (the worker parses it, large-body.ts), another
 * content type, a percent-escaped path, every other route — is fastify's, untouched.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { ValidateFunction } from 'ajv';
import type { Endpoint } from '../plugin/types.js';
import type { ClientReply, ClientRequest } from './client.js';
import { handleInference, type InferenceContext } from './inference.js';
import type { GatewayError } from './errors.js';

/** Fastify's JSON parser (`app.getDefaultJsonParser('error', 'error')`): its errors, its prototype-poisoning checks. */
export type JsonParser = (req: never, body: string, done: (err: Error | null, body?: unknown) => void) => void;

export interface LaneRoute {
  endpoint: Endpoint;
  validate: ValidateFunction;
}

export interface FastLaneOptions {
  /** The inference routes by path. */
  routes: ReadonlyMap<string, LaneRoute>;
  /** Bodies up to this many bytes (declared in Content-Length) take the lane. */
  maxBodyBytes: number;
  /** The routes' context (its tenants guard the lane's requests as fastify's hook guards the rest). */
  ctx: InferenceContext;
  logger: FastifyBaseLogger;
  parseJson: JsonParser;
  requestIdOf: (req: IncomingMessage) => string;
  /** The body's refusals before validation (a missing body, one nested too deep). */
  refuseBody: (body: unknown) => GatewayError | undefined;
  /** Maps any error to the catalogue's and answers it (app.ts: the one error answer of every route). */
  answerError: (err: Error, req: ClientRequest, reply: ClientReply) => void;
}

export class FastLane {
  /** Requests the lane served (the rest went to fastify). */
  served = 0;

  constructor(private readonly opts: FastLaneOptions) {}

  /** Serves `req` when it is the lane's; false leaves it, unread, to fastify. */
  take(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const route = this.opts.routes.get(path);
    if (!route) return false;
    const { headers } = req;
    const type = headers['content-type'];
    if (type === undefined || !(type === 'application/json' || type.startsWith('application/json;'))) return false;
    const length = headers['content-length'];
    if (length === undefined || headers['transfer-encoding'] !== undefined) return false;
    const declared = Number(length);
    if (!(declared > 0 && declared <= this.opts.maxBodyBytes)) return false;
    this.served++;
    this.serve(route, new LaneRequest(req, this.opts.requestIdOf(req), path, this.opts.logger), new LaneReply(res));
    return true;
  }

  private serve(route: LaneRoute, request: LaneRequest, reply: LaneReply): void {
    const { tenants } = this.opts.ctx;
    if (tenants?.guarding) {
      try {
        tenants.guard(request);
      } catch (err) {
        this.opts.answerError(err as Error, request, reply);
        return;
      }
    }
    const chunks: Buffer[] = [];
    let received = 0;
    const raw = request.raw;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
    };
    raw.on('data', onData);
    // A client gone before the end leaves nothing to answer: 'end' never comes.
    raw.once('end', () => {
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)).toString('utf8');
      // The bytes are text now: a listener left on the request would hold them (a long prompt's
      // copy per stream) for as long as the answer streams.
      raw.off('data', onData);
      chunks.length = 0;
      this.opts.parseJson(undefined as never, text, (err, body) => {
        if (err) {
          this.opts.answerError(err, request, reply);
          return;
        }
        // fastify's parser drops a leading byte-order mark; the engine gets the body without it.
        request.rawBody = text.charCodeAt(0) === 0xfeff ? undefined : text;
        this.answer(route, request, reply, body);
      });
    });
  }

  private answer(route: LaneRoute, request: LaneRequest, reply: LaneReply, body: unknown): void {
    const refused = this.opts.refuseBody(body);
    if (refused) {
      this.opts.answerError(refused, request, reply);
      return;
    }
    if (!route.validate(body)) {
      this.opts.answerError(Object.assign(new Error('body validation failed'), { validation: route.validate.errors ?? [] }), request, reply);
      return;
    }
    request.body = body;
    const served = handleInference(route.endpoint, request, reply, this.opts.ctx);
    // The request's exchange took the text as it opened (before the handler's first await); the
    // exchange drops it once an answer is accepted, and the request must not keep it either.
    request.rawBody = undefined;
    served.then(() => {
      // Every way through the stages sends, hijacks or throws; an answer left unsent is a bug, not a hang.
      if (!reply.sent) this.opts.answerError(new Error('the inference handler ended without answering'), request, reply);
    }, (err: unknown) => this.opts.answerError(err instanceof Error ? err : new Error(String(err)), request, reply));
  }
}

/** The request as the stages see it (client.ts); its logger child is made only when a stage logs. */
class LaneRequest implements ClientRequest {
  body: unknown = undefined;
  rawBody: string | undefined = undefined;
  readonly routeOptions: { readonly url: string };
  private child: FastifyBaseLogger | undefined;

  constructor(readonly raw: IncomingMessage, readonly id: string, path: string, private readonly logger: FastifyBaseLogger) {
    this.routeOptions = { url: path };
  }

  get log(): FastifyBaseLogger {
    // fastify binds the same label (requestIdLogLabel's default).
    return (this.child ??= this.logger.child({ reqId: this.id }));
  }

  get method(): string {
    return this.raw.method ?? 'POST';
  }

  get url(): string {
    return this.raw.url ?? '/';
  }

  get headers(): IncomingMessage['headers'] {
    return this.raw.headers;
  }

  get socket(): IncomingMessage['socket'] {
    return this.raw.socket;
  }
}

/**
 * The reply as the stages see it. Its headers wait in one object and go out with the status in
 * one writeHead: node validates and stores them once, not header by header.
 */
class LaneReply implements ClientReply {
  private hijacked = false;
  private status = 200;
  private readonly pending: Record<string, string | number> = { 'x-content-type-options': 'nosniff' };

  constructor(readonly raw: ServerResponse) {}

  get sent(): boolean {
    return this.hijacked || this.raw.writableEnded;
  }

  code(status: number): this {
    this.status = status;
    return this;
  }

  header(name: string, value: string): this {
    this.pending[name.toLowerCase()] = value;
    return this;
  }

  headers(values: Record<string, string>): this {
    for (const name of Object.keys(values)) this.pending[name.toLowerCase()] = values[name]!;
    return this;
  }

  getHeaders(): ReturnType<ClientReply['getHeaders']> {
    return { ...this.raw.getHeaders(), ...this.pending };
  }

  send(payload: Buffer | object): this {
    if (this.sent) return this;
    let bytes: Buffer;
    if (Buffer.isBuffer(payload)) {
      bytes = payload;
    } else {
      bytes = Buffer.from(JSON.stringify(payload));
      this.pending['content-type'] = 'application/json; charset=utf-8';
    }
    this.pending['content-length'] = bytes.length;
    this.raw.writeHead(this.status, this.pending);
    this.raw.end(bytes);
    return this;
  }

  hijack(): this {
    this.hijacked = true;
    return this;
  }
}
