/**
 * One upstream answer received through undici's low-level `dispatch` handler API.
 *
 * undici's `request()` wraps every answer in a Readable, an AbortSignal listener and a promise
 * chain; on a gateway that proxies small non-streamed answers that wrapping is a third of the
 * CPU per request (bench/overhead/profile.ts). Here the bytes are kept as they arrive and handed
 * over in the form the caller asks for: `bytes()` and `text()` collect them without any stream, and `body`
 * builds a Readable only when first read (streamed answers), with backpressure passed back to
 * the socket through the dispatch controller's pause/resume.
 */
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { DispatchReply } from '../../core/plugin/types.js';

type Headers = Record<string, string | string[] | undefined>;

export class UpstreamAnswer implements DispatchReply, Dispatcher.DispatchHandler {
  status = 0;
  headers: Headers = {};
  private controller?: Dispatcher.DispatchController;
  private chunks: Buffer[] = [];
  private ended = false;
  private failure?: Error;
  private stream?: Readable;
  private collector?: { resolve(bytes: Buffer): void; reject(err: Error): void };
  private settled = false;
  private pendingAbort?: Error;

  /**
   * @param onStart the status and headers arrived (resolve the dispatch), or the request failed
   *                before them (reject it)
   * @param onSettle called once when the exchange is over: ended, failed or aborted
   */
  constructor(
    private readonly onStart: (err?: Error) => void,
    private readonly onSettle: () => void,
  ) {}

  get body(): Readable {
    if (!this.stream) {
      const stream = new Readable({
        read: () => this.controller?.resume(),
        destroy: (err, callback) => {
          // The reader gave up (client gone, or a relay error): stop the upstream generation.
          if (!this.ended && !this.failure) this.abort(err ?? new Error('upstream answer discarded by the gateway'));
          callback(err);
        },
      });
      this.stream = stream;
      for (const chunk of this.chunks) stream.push(chunk);
      this.chunks = [];
      if (this.failure) stream.destroy(this.failure);
      else if (this.ended) stream.push(null);
    }
    return this.stream;
  }

  /** The whole answer's bytes, without a stream (non-streamed answers). */
  bytes(): Promise<Buffer> {
    if (this.stream) return streamBytes(this.stream);
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(this.joined());
    return new Promise((resolve, reject) => { this.collector = { resolve, reject }; });
  }

  /** The whole answer's bytes when it has ended and no stream was asked for; else undefined. */
  readyBytes(): Buffer | undefined {
    return this.ended && !this.stream && !this.failure ? this.joined() : undefined;
  }

  /** The whole answer as text (error bodies). */
  text(): Promise<string> {
    return this.bytes().then((b) => b.toString('utf8'));
  }

  abort(reason: Error): void {
    if (this.controller) {
      if (!this.controller.aborted) this.controller.abort(reason);
      return;
    }
    // Still queued for a connection: undici only lets it go when it reaches a socket (then
    // onRequestStart aborts it before a byte is sent), but the caller hears of it now.
    this.pendingAbort = reason;
    this.onResponseError(undefined, reason);
  }

  // --- undici's handler side -------------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.pendingAbort) controller.abort(this.pendingAbort);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Headers): void {
    this.status = statusCode;
    this.headers = headers;
    this.onStart();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.stream) {
      if (!this.stream.push(chunk)) controller.pause();
    } else {
      this.chunks.push(chunk);
    }
  }

  onResponseEnd(): void {
    this.ended = true;
    this.settle();
    if (this.stream) this.stream.push(null);
    else if (this.collector) this.collector.resolve(this.joined());
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.failure) return; // already failed by an abort while queued
    this.failure = err;
    this.settle();
    if (this.status === 0) {
      this.onStart(err);
      return;
    }
    if (this.stream) this.stream.destroy(err);
    else this.collector?.reject(err);
  }

  private settle(): void {
    if (!this.settled) {
      this.settled = true;
      this.onSettle();
    }
  }

  private joined(): Buffer {
    const bytes = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = [];
    return bytes;
  }
}

async function streamBytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
