/**
 * Relays an upstream SSE stream to the client byte for byte, event by event, as it arrives.
 *
 * Backpressure both ways: the loop reads the upstream only after the client has taken the last
 * write (a slow client pauses the upstream; nothing is buffered without bound). Events are cut
 * by a real SSE splitter (CRLF, LF or CR framing, comments, multi-line data: sse-parser.ts) and
 * each event's data is parsed as JSON to observe it (sse-observe.ts) — first token, content
 * events, finish reason, usage, engine errors — whatever the engine's JSON spacing; the bytes
 * forwarded are the engine's own. One event may be dropped: the usage-only chunk (`"choices":[]`) the gateway
 * asked for when the client did not (Switchyard asks every engine for usage); usage the client
 * asked for, or an engine sends on every chunk, passes untouched. An upstream that fails or ends
 * without `[DONE]` yields an OpenAI error event and then `data: [DONE]`.
 *
 * The Responses API's streams (`dialect: 'responses'`) are typed events (`event:
 * response.output_text.delta`, …) that end with `response.completed`, `response.incomplete` or
 * `response.failed` and never with `[DONE]`: they are forwarded as sent, and one cut short gets
 * that API's own `error` event — no chat error chunk, no `[DONE]`.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { once } from 'node:events';
import { GatewayError } from './errors.js';
import { SseSplitter, type SseEvent } from './sse-parser.js';
import { countContent, observeChatEvent, observeResponsesEvent } from './sse-observe.js';
import type { RelayTurns } from './turns.js';
import type { EventFeed } from '../plugin/types.js';

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

export interface RelayOutcome {
  /** ms since the relay's clock origin of the first content event, if any. */
  firstTokenAt?: number;
  lastTokenAt?: number;
  contentEvents: number;
  usage?: Usage;
  finishReason?: string;
  /** How the stream ended. */
  end: 'done' | 'client-gone' | 'upstream-failed' | 'truncated';
  error?: string;
}

const DONE = Buffer.from('data: [DONE]\n\n');

export function errorEvent(err: GatewayError): Buffer {
  return Buffer.from(`data: ${JSON.stringify(err.body())}\n\n`);
}

/** The Responses API's stream error (its `ResponseErrorEvent`): the last event of a stream cut short. */
export function responsesErrorEvent(err: GatewayError): Buffer {
  const { message, code, param } = err.body().error;
  return Buffer.from(`event: error\ndata: ${JSON.stringify({ type: 'error', code, message, param })}\n\n`);
}

export interface RelayOptions {
  /** `chat` (chat and completions chunks, ended by `[DONE]`) unless given. */
  dialect?: 'chat' | 'responses';
  stripUsage: boolean;
  now: () => number;
  isClientGone: () => boolean;
  /**
   * A client that takes nothing for this long is treated as gone: a stream nobody reads would
   * otherwise hold an engine slot until generation ends. Default: no limit.
   */
  stallTimeoutMs?: number;
  onFirstToken?: () => void;
  /** Each content event relayed (about one token each): limits charge completion tokens as they stream. */
  onContent?: () => void;
  /** Why the upstream was cut, when the gateway cut it (a deadline): sent as the stream's error event. */
  interruption?: () => GatewayError | undefined;
  /** A Responses stream's `response.created` named its response, before the event is forwarded. */
  onResponseId?: (id: string) => void;
  /** The slices shared by all relayed streams: each chunk waits for room in one (turns.ts). */
  turns?: RelayTurns;
}

export function relaySse(upstream: Readable, res: ServerResponse, opts: RelayOptions): Promise<RelayOutcome> {
  const out: RelayOutcome = { contentEvents: 0, end: 'truncated' };
  const splitter = new SseSplitter();
  const responses = opts.dialect === 'responses';
  const observe = responses ? observeResponsesEvent : observeChatEvent;
  /** The client has room again, is gone, or took nothing for the stall limit (false: gone). */
  const drained = async (): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const stalled = opts.stallTimeoutMs === undefined ? undefined
      : new Promise<'stalled'>((resolve) => { timer = setTimeout(resolve, opts.stallTimeoutMs, 'stalled'); });
    const outcome = await Promise.race([once(res, 'drain'), once(res, 'close'), ...(stalled ? [stalled] : [])]);
    clearTimeout(timer);
    if (outcome === 'stalled') {
      out.error = `the client took nothing for ${opts.stallTimeoutMs} ms`;
      res.destroy();
      return false;
    }
    return !res.destroyed;
  };
  /** Whether an event has been written (the headers with it). */
  let wrote = false;
  /** Forwards what the events say to forward: 'ok', 'full' (wait for the client) or 'gone'. */
  const forward = (events: SseEvent[]): 'ok' | 'full' | 'gone' => {
    let buf: Buffer | undefined;
    if (events.length === 1) {
      if (observe(events[0], out, opts)) buf = events[0].raw;
    } else if (events.length > 1) {
      const kept: Buffer[] = [];
      for (const e of events) if (observe(e, out, opts)) kept.push(e.raw);
      buf = kept.length === 0 ? undefined : kept.length === 1 ? kept[0] : Buffer.concat(kept);
    }
    if (res.writableEnded || res.destroyed) return 'gone';
    if (buf === undefined || buf.length === 0) return 'ok';
    wrote = true;
    if (out.end === 'done') {
      // The stream's last event and the response's end in one write.
      res.end(buf);
      return 'ok';
    }
    return writeNow(res, buf) ? 'ok' : 'full';
  };
  // The response's headers wait for the first event when it is already here (the engine sent it
  // with its headers: both reach the client in one write); else they go at the next turn of the
  // loop, so a client sees the stream begin while the engine is still prefilling.
  setImmediate(() => { if (!wrote && !res.destroyed && !res.writableEnded) res.flushHeaders(); });

  return new Promise<RelayOutcome>((resolve) => {
    let settled = false;
    let ended = false;
    // Chunks are handled in order, one at a time. One that must wait — for its turn in the slices
    // every stream shares (turns.ts), or for the client to take what was written — pauses the
    // upstream, and what comes meanwhile (the upstream's end or error too) waits in the backlog
    // behind it. The common case does its work in the call; a chunk waiting for its turn is held
    // in the backlog and taken up by `onTurn`, made once per stream: no promise, closure or async
    // frame per chunk, which the thousands of chunks of one engine step, waiting through the
    // slices of their burst, kept alive across young-generation collections. Between chunks a
    // stream holds only its listeners.
    const backlog: Array<Buffer | (() => void)> = [];
    /** A chunk waits for its turn, or a write for the client to drain: the backlog waits behind it. */
    let waiting = false;
    let paused = false;
    const pause = () => {
      if (paused) return;
      paused = true;
      upstream.pause();
    };
    const settle = () => {
      if (settled) return;
      settled = true;
      upstream.off('data', onData);
      upstream.off('end', onEnd);
      upstream.off('error', onError);
      upstream.off('close', onClose);
      // An error the upstream raises after the relay is done (an engine failing a request the
      // client already left) is of no consequence, and must not go uncaught.
      upstream.on('error', ignore);
      backlog.length = 0;
      resolve(out);
    };
    const clientGone = () => {
      // The outcome is resolved once; nothing after may rewrite it.
      if (settled) return;
      out.end = 'client-gone';
      settle();
    };
    const close = () => {
      if (out.end !== 'done') {
        const closing = closingEvent(out, opts, responses);
        if (!res.writableEnded && !res.destroyed) {
          wrote = true;
          writeNow(res, closing);
        }
      }
      settle();
    };
    /**
     * Forwards one chunk; whether the next may follow at once. When the client's socket is full,
     * the upstream pauses until it drains (or the client is gone).
     */
    const forwardChunk = (chunk: Buffer): boolean => {
      const r = forward(splitter.push(chunk));
      if (r === 'gone') {
        clientGone();
        return false;
      }
      if (out.end === 'done') {
        // Leaving before the end does not destroy the upstream: what is left of the HTTP body
        // (chunked encoding's last chunk) is read off, so the connection goes back to the pool.
        settle();
        drainRest(upstream);
        return false;
      }
      if (r === 'ok') return true;
      // The client is slower than the engine: stop reading upstream until it drains.
      waiting = true;
      pause();
      drained().then((alive) => {
        if (!alive) return clientGone();
        waiting = false;
        pump();
      }, clientGone);
      return false;
    };
    /** Works through the backlog until it is empty (the upstream flows again) or something must wait. */
    const pump = () => {
      while (!waiting && !settled && backlog.length > 0) {
        const item = backlog[0]!;
        if (typeof item === 'function') {
          backlog.shift();
          item();
          continue;
        }
        if (opts.turns && !opts.turns.turn(onTurn)) {
          waiting = true;
          pause();
          return;
        }
        backlog.shift();
        if (!forwardChunk(item)) return;
      }
      if (paused && !waiting && !settled && !ended) {
        paused = false;
        upstream.resume();
      }
    };
    /** The backlog's first chunk has its turn (turns.ts): it goes now, without asking again. */
    const onTurn = () => {
      waiting = false;
      if (settled) return;
      try {
        if (forwardChunk(backlog.shift() as Buffer)) pump();
      } catch {
        // Writing to the client failed (its response errored): it is gone.
        clientGone();
      }
    };
    /** The upstream's end or error, in order behind the chunks before it. */
    const run = (task: () => void) => {
      if (settled) return;
      if (waiting || backlog.length > 0) backlog.push(task);
      else task();
    };
    const failed = (err: Error) => {
      if (!upstream.destroyed) upstream.destroy();
      if (opts.isClientGone()) return clientGone();
      out.end = 'upstream-failed';
      out.error = err.message;
      close();
    };
    const onData = (chunk: Buffer | string) => {
      if (settled) return;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (waiting || backlog.length > 0) {
        backlog.push(buf);
        return;
      }
      if (opts.turns && !opts.turns.turn(onTurn)) {
        backlog.push(buf);
        waiting = true;
        pause();
        return;
      }
      forwardChunk(buf);
    };
    const onEnd = () => {
      ended = true;
      run(() => {
        const r = forward(splitter.end());
        if (r === 'gone') return clientGone();
        close();
      });
    };
    const onError = (err: Error) => run(() => failed(err));
    // Closed without an end or an error: cut short (the iterator's ERR_STREAM_PREMATURE_CLOSE).
    const onClose = () => { if (!ended) run(() => failed(new Error('Premature close'))); };
    upstream.on('data', onData);
    upstream.once('end', onEnd);
    upstream.on('error', onError);
    upstream.once('close', onClose);
    upstream.resume();
    if (upstream.destroyed || upstream.readableEnded) {
      // Already over before the relay began: nothing more will be emitted.
      run(() => failed(upstream.errored ?? new Error('Premature close')));
    }
  });
}

/**
 * res.write, with the bytes on the socket before it returns. node:http corks the socket for a
 * chunk (size line, data, CRLF) and uncorks it on the next tick, which runs only once the current
 * microtasks are done: every chunk of a relay slice (turns.ts) or of an engine's delivery slice
 * then went out after it, outside its time budget (512 streams' writes after one 1 ms slice:
 * ~10 ms more). Corked here first, node:http leaves the uncork to us.
 */
function writeNow(res: ServerResponse, chunk: string | Buffer): boolean {
  const socket = res.socket;
  socket?.cork();
  const ok = res.write(chunk);
  socket?.uncork();
  return ok;
}

/** A stream that did not end well ends with an error event (and, in chat, `[DONE]`). */
function closingEvent(out: RelayOutcome, opts: RelayOptions, responses: boolean): Buffer {
  if (out.end === 'truncated') out.error = responses ? 'the engine closed the stream before the response ended' : 'the engine closed the stream before [DONE]';
  const failure = opts.interruption?.() ?? new GatewayError('SY_ERR_STREAM_INTERRUPTED', `upstream stream failed: ${out.error}`);
  if (failure.errorName !== 'SY_ERR_STREAM_INTERRUPTED') out.error = failure.message;
  return responses ? responsesErrorEvent(failure) : Buffer.concat([errorEvent(failure), DONE]);
}

/**
 * Relays a chat or completions stream a plugin makes event by event (an EventFeed): each event is
 * observed from what the plugin says of it and written to the client as it is made, in the same
 * call. Nothing is read, split or parsed, and nothing waits for a turn of the loop: the plugin
 * hands events over in its own budgeted slices (plugins/trtllm/index.ts), so the work of one token
 * is done before the next is taken up and no token's objects outlive it.
 *
 * The engine cannot be paused: a client that does not keep up has the events buffered in its
 * socket (at most one answer's worth, bounded by max_tokens), and one that takes nothing for
 * `stallTimeoutMs` is cut as in relaySse. Ends as relaySse does: `done` at `[DONE]`, `client-gone`
 * when the client leaves first (the feed is cancelled), else an error event and `[DONE]` — the
 * deadline's own when the gateway cut the request (`interruption`), whatever the engine sends after.
 */
export function relayFeed(feed: EventFeed, res: ServerResponse, opts: RelayOptions): Promise<RelayOutcome> {
  const out: RelayOutcome = { contentEvents: 0, end: 'truncated' };
  return new Promise<RelayOutcome>((resolve) => {
    let settled = false;
    let stall: NodeJS.Timeout | undefined;
    const settle = () => {
      settled = true;
      clearTimeout(stall);
      res.off('close', onClose);
      res.off('drain', onDrain);
      resolve(out);
    };
    const onClose = () => {
      if (settled) return;
      out.end = 'client-gone';
      settle();
      feed.cancel();
    };
    const onDrain = () => {
      clearTimeout(stall);
      stall = undefined;
    };
    const write = (chunk: string | Buffer) => {
      if (res.writableEnded || res.destroyed) return;
      if (writeNow(res, chunk) || stall !== undefined || opts.stallTimeoutMs === undefined) return;
      stall = setTimeout(() => {
        out.error = `the client took nothing for ${opts.stallTimeoutMs} ms`;
        res.destroy();
      }, opts.stallTimeoutMs);
      res.once('drain', onDrain);
    };
    const close = () => {
      if (settled) return;
      write(closingEvent(out, opts, false));
      settle();
    };
    if (res.destroyed) {
      onClose();
      return;
    }
    res.on('close', onClose);
    feed.attach({
      event: (e) => {
        if (settled) return;
        if (opts.interruption?.()) {
          // The gateway cut the request (a deadline): the engine's cancel makes a last chunk
          // (finish_reason "abort") and [DONE], which would read as an answer that ended. The
          // client gets the deadline's error event and [DONE] instead, as a proxied stream does.
          out.end = 'upstream-failed';
          close();
          return;
        }
        if (e.done) {
          out.end = 'done';
          // The last event and the response's end in one write.
          if (!res.writableEnded && !res.destroyed) res.end(e.raw);
          settle();
          return;
        }
        if (e.content) countContent(out, opts);
        if (e.finishReason !== undefined && e.finishReason !== '') out.finishReason = e.finishReason;
        if (e.usage !== undefined) {
          out.usage = e.usage;
          // The usage-only chunk the gateway asked for on the client's behalf.
          if (opts.stripUsage && e.usageOnly) return;
        }
        write(e.raw);
      },
      end: close,
      fail: (err) => {
        if (settled) return;
        out.end = 'upstream-failed';
        out.error = err.message;
        close();
      },
    });
  });
}

function ignore(): void {}

/** How long the bytes after the stream's last event may take before the upstream is cut. */
const DRAIN_MS = 1000;

/**
 * Reads off what follows the last event, discarding it; an upstream that does not end within
 * DRAIN_MS (an engine that holds the response open after `[DONE]`) is destroyed.
 */
function drainRest(upstream: Readable): void {
  if (upstream.readableEnded || upstream.destroyed) return;
  const timer = setTimeout(() => upstream.destroy(), DRAIN_MS);
  timer.unref();
  const done = () => clearTimeout(timer);
  upstream.once('end', done);
  upstream.once('close', done);
  upstream.on('error', done);
  upstream.resume();
}
