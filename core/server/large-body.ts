/**
 * Large request bodies, off the event loop. Parsing a 13 MB chat body takes ~200 ms here, and
 * validating it, keying its prefix and serialising it again for the engine as much again: on the
 * event loop that stops every other request for as long. So the JSON parser of the inference
 * routes reads each body as it arrives; a body past `limits.inline_body_bytes` (1 MiB by default)
 * is streamed to a worker thread chunk by chunk (body-worker.ts), which parses, checks, validates
 * and keys it, and keeps its bulky fields. The route handler gets a light body: the small
 * top-level fields, and HeldField placeholders (core/plugin/body.ts) for the rest; plugins send
 * it upstream through encodeBody, which the worker serialises.
 *
 * What a large body gives up: exact prefix matching (its tokens are not computed: it is matched
 * approximately, by the canonical prompt's key, never the rendered chat template's) — a body that
 * large is rare, and the alternative is stopping the gateway for it.
 */
import { Worker } from 'node:worker_threads';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Ajv, type ValidateFunction } from 'ajv';
import { HeldField, holderOf, type BodyHolder, type FieldSpec } from '../plugin/body.js';
import type { PrefixKey } from '../routing/prefix-key.js';
import { startWorker, workerExecArgv, workerScript } from '../util/worker-script.js';
import type { BodyKind, BodyWorkerReply, BodyWorkerRequest, ParsedBody } from './body-worker.js';
import { GatewayError } from './errors.js';

export const DEFAULT_INLINE_BODY_BYTES = 1024 * 1024;

/** What the worker learned of a large body, for routing and limits. */
export interface LargeBodyInfo {
  prefix: PrefixKey;
  textChars: number;
}

const infoOf = new WeakMap<object, LargeBodyInfo>();

/** The worker's findings for a body parsed off the event loop; undefined for an ordinary body. */
export function largeBodyInfo(body: unknown): LargeBodyInfo | undefined {
  return typeof body === 'object' && body !== null ? infoOf.get(body) : undefined;
}

/**
 * A user of a large body is done with it (the request handler at its end; a shadow copy when it
 * settles): at the last one, the worker lets the body go. Does nothing for an ordinary body.
 */
export function releaseBody(body: Readonly<Record<string, unknown>>): void {
  workerHolderOf(body)?.release();
}

/** One more user of a large body (a shadow copy that may outlive the request). */
export function retainBody(body: Readonly<Record<string, unknown>>): void {
  workerHolderOf(body)?.retain();
}

function workerHolderOf(body: Readonly<Record<string, unknown>>): WorkerHeldBody | undefined {
  const holder = holderOf(body);
  return holder instanceof WorkerHeldBody ? holder : undefined;
}

const KIND_BY_PATH: Readonly<Record<string, BodyKind>> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
};

type Waiter = { resolve: (msg: BodyWorkerReply) => void; reject: (err: Error) => void };

export class LargeBodies {
  private worker: Worker | undefined;
  private nextId = 1;
  private nextCall = 1;
  /** Replies awaited, by body id (parse) or call id (encode, materialize). */
  private readonly waiting = new Map<string, Waiter>();
  private closed = false;
  /** Bodies the worker holds whose placeholders were collected without a release. */
  private readonly dropper = new FinalizationRegistry<{ id: number; worker: Worker }>(({ id, worker }) => this.post(worker, { op: 'drop', id }));
  readonly stats = { parsed: 0, refused: 0, workerRestarts: 0 };

  constructor(private readonly opts: { inlineBytes: number; bodyLimit: number; chunkBytes: number }) {}

  /**
   * Replaces the app's JSON parser: bodies up to inlineBytes are parsed here by fastify's own
   * parser (the same errors, the same prototype-poisoning checks), larger ones of the inference
   * routes in the worker.
   */
  install(app: FastifyInstance): void {
    const inline = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', (req: FastifyRequest, payload: IncomingMessage) => new Promise<unknown>((resolve, reject) => {
      const kind = KIND_BY_PATH[(req.url ?? '').split('?')[0]];
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > this.opts.bodyLimit) {
        payload.resume();
        reject(tooLarge());
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      let id: number | undefined;
      let worker: Worker | undefined;
      let failed = false;
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        if (id !== undefined && worker) this.post(worker, { op: 'drop', id });
        payload.removeListener('data', onData);
        payload.resume();
        reject(err);
      };
      const onData = (chunk: Buffer) => {
        received += chunk.length;
        if (received > this.opts.bodyLimit) {
          fail(tooLarge());
          return;
        }
        if (id === undefined && kind !== undefined && received > this.opts.inlineBytes) {
          // Past the inline size: what came so far, and all that follows, goes to the worker.
          try {
            worker = this.ensureWorker();
          } catch (err) {
            fail(err as Error); // the gateway is closing: no worker is started any more
            return;
          }
          id = this.nextId++;
          for (const c of chunks) this.post(worker, { op: 'chunk', id, bytes: c });
          chunks.length = 0;
        }
        if (id !== undefined && worker) this.post(worker, { op: 'chunk', id, bytes: chunk });
        else chunks.push(chunk);
      };
      let ended = false;
      // A client gone before the end: nothing will come, and the worker lets the chunks go.
      const onClose = () => { if (!ended) fail(new Error('the client closed the connection before the body ended')); };
      payload.on('data', onData);
      payload.once('error', fail);
      payload.once('close', onClose);
      payload.once('end', () => {
        ended = true;
        // Listeners left on the request would hold these chunks for as long as its answer streams
        // (node's IncomingMessage emits 'error' only to listeners: none is needed past the end).
        payload.removeListener('data', onData);
        payload.removeListener('error', fail);
        payload.removeListener('close', onClose);
        if (failed) return;
        if (id === undefined || worker === undefined || kind === undefined) {
          const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received)).toString('utf8');
          chunks.length = 0;
          inline(req, text, (err, body) => (err ? reject(err) : resolve(body)));
          return;
        }
        this.parse(worker, id, kind).then(resolve, reject);
      });
    }));
  }

  /**
   * The inference routes' schema validation: ordinary bodies as fastify would check them (the
   * same ajv options); a large body was validated whole in the worker, and its light copy is not
   * checked again.
   */
  validatorCompiler = ({ schema }: { schema: object }): ValidateFunction => {
    this.ajv ??= new Ajv({ coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: false, addUsedSchema: false });
    const validate = this.ajv.compile(schema);
    const check = ((data: unknown) => {
      if (largeBodyInfo(data)) {
        check.errors = null;
        return true;
      }
      const ok = validate(data);
      check.errors = validate.errors;
      return ok;
    }) as ValidateFunction;
    return check;
  };

  private ajv: Ajv | undefined;

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.rejectAll(new GatewayError('SY_ERR_DRAINING', 'the gateway is shutting down'));
    await worker?.terminate();
  }

  private async parse(worker: Worker, id: number, kind: BodyKind): Promise<Record<string, unknown>> {
    const reply = await this.request(worker, `b${id}`, { op: 'end', id, kind, chunkBytes: this.opts.chunkBytes });
    if (reply.type === 'invalid') {
      this.stats.refused++;
      throw new GatewayError(reply.failure.name, reply.failure.message, { param: reply.failure.param ?? null });
    }
    if (reply.type !== 'parsed') throw internal(reply.type === 'failed' ? reply.message : `unexpected reply ${reply.type}`);
    this.stats.parsed++;
    return this.lightBody(worker, id, reply.body);
  }

  private lightBody(worker: Worker, id: number, parsed: ParsedBody): Record<string, unknown> {
    const holder = new WorkerHeldBody(this, worker, id);
    const body: Record<string, unknown> = {};
    const held = new Map(parsed.held.map((h) => [h.key, h.bytes]));
    for (const key of parsed.keys) {
      const bytes = held.get(key);
      body[key] = bytes === undefined ? parsed.light[key] : new HeldField(holder, key, bytes);
    }
    infoOf.set(body, { prefix: parsed.prefix, textChars: parsed.textChars });
    this.dropper.register(holder, { id, worker });
    return body;
  }

  /** Serialises a held body with the given fields (core/plugin/body.ts encodeBody). */
  async encode(worker: Worker, id: number, fields: FieldSpec[]): Promise<Uint8Array> {
    const call = this.nextCall++;
    const reply = await this.request(worker, `c${call}`, { op: 'encode', id, call, fields });
    if (reply.type !== 'encoded') throw internal(reply.type === 'failed' ? reply.message : `unexpected reply ${reply.type}`);
    return reply.bytes;
  }

  async materialize(worker: Worker, id: number): Promise<Record<string, unknown>> {
    const call = this.nextCall++;
    const reply = await this.request(worker, `c${call}`, { op: 'materialize', id, call });
    if (reply.type !== 'materialized') throw internal(reply.type === 'failed' ? reply.message : `unexpected reply ${reply.type}`);
    return reply.body;
  }

  drop(worker: Worker, id: number): void {
    this.post(worker, { op: 'drop', id });
  }

  private request(worker: Worker, key: string, msg: BodyWorkerRequest): Promise<BodyWorkerReply> {
    if (worker !== this.worker) return Promise.reject(internal('the body worker restarted; the body is gone'));
    return new Promise<BodyWorkerReply>((resolve, reject) => {
      this.waiting.set(key, { resolve, reject });
      worker.ref();
      this.post(worker, msg);
    });
  }

  private post(worker: Worker, msg: BodyWorkerRequest): void {
    if (worker === this.worker) worker.postMessage(msg);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    if (this.closed) throw new GatewayError('SY_ERR_DRAINING', 'the gateway is shutting down');
    const location = workerScript(import.meta.url, 'body-worker');
    const worker = startWorker(location.script, { eval: location.evalCode, execArgv: workerExecArgv() });
    // Only awaited replies keep the process alive.
    worker.unref();
    worker.on('message', (msg: BodyWorkerReply) => {
      const key = 'call' in msg && msg.call !== undefined ? `c${msg.call}` : `b${msg.id}`;
      const waiter = this.waiting.get(key);
      if (!waiter) return;
      this.waiting.delete(key);
      if (this.waiting.size === 0) worker.unref();
      waiter.resolve(msg);
    });
    const die = (reason: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      if (!this.closed) this.stats.workerRestarts++;
      this.rejectAll(internal(`the body worker stopped: ${reason}`));
    };
    worker.on('error', (err: Error) => die(err.message));
    worker.on('exit', (code: number) => die(`exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  private rejectAll(err: Error): void {
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiters) w.reject(err);
  }
}

/** The placeholders' way back to the worker that holds their body; the worker lets it go at the last release. */
class WorkerHeldBody implements BodyHolder {
  private refs = 1;

  constructor(private readonly bodies: LargeBodies, private readonly worker: Worker, private readonly id: number) {}

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) this.bodies.drop(this.worker, this.id);
  }

  encode(fields: FieldSpec[]): Promise<Uint8Array> {
    return this.bodies.encode(this.worker, this.id, fields);
  }

  materialize(): Promise<Record<string, unknown>> {
    return this.bodies.materialize(this.worker, this.id);
  }
}

function tooLarge(): GatewayError {
  return new GatewayError('SY_ERR_BODY_TOO_LARGE', 'the request body is larger than the gateway accepts');
}

function internal(message: string): GatewayError {
  return new GatewayError('SY_ERR_INTERNAL', 'internal error', { cause: new Error(message) });
}
