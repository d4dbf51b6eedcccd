/**
 * relayFeed: a stream whose events a plugin makes itself (core/plugin/types.ts EventFeed), relayed
 * as each event is made. A fake response stands in for the client's socket, as in
 * slow-clients.test.ts: these are the relay's own decisions (what it counts, drops, ends with).
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { EventFeed, EventSink, MadeEvent } from '../../../core/plugin/types.js';
import { relayFeed } from '../../../core/server/sse-relay.js';
import { GatewayError } from '../../../core/server/errors.js';

function fakeResponse(drains = true) {
  return Object.assign(new EventEmitter(), {
    destroyed: false, writableEnded: false, chunks: [] as string[],
    write(chunk: string | Buffer) { this.chunks.push(chunk.toString()); return drains; },
    end(chunk?: string | Buffer) { if (chunk !== undefined) this.chunks.push(chunk.toString()); this.writableEnded = true; },
    destroy() { this.destroyed = true; (this as unknown as EventEmitter).emit('close'); },
  });
}

class Feed implements EventFeed {
  sink: EventSink | undefined;
  cancelled = 0;
  constructor(private readonly before: MadeEvent[] = []) {}
  attach(sink: EventSink): void {
    this.sink = sink;
    for (const e of this.before) sink.event(e);
  }
  cancel(): void { this.cancelled++; }
}

const token = (text: string): MadeEvent => ({ raw: `data: {"choices":[{"index":0,"delta":{"content":${JSON.stringify(text)}}}]}\n\n`, content: true });
const usage = { prompt_tokens: 5, completion_tokens: 2 };
const opts = { stripUsage: true, now: () => performance.now(), isClientGone: () => false };

describe('relaying an event feed', () => {
  it('counts tokens, keeps the finish reason and usage, drops the usage-only chunk the client did not ask for, and ends at [DONE]', async () => {
    const res = fakeResponse();
    const feed = new Feed([token('a')]);
    let first = 0;
    const outcome = relayFeed(feed, res as never, { ...opts, onFirstToken: () => first++ });
    feed.sink!.event({ raw: 'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n' });
    feed.sink!.event(token('b'));
    feed.sink!.event({ raw: 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}\n\n', finishReason: 'length' });
    feed.sink!.event({ raw: 'data: {"choices":[],"usage":{}}\n\n', usage, usageOnly: true });
    feed.sink!.event({ raw: 'data: [DONE]\n\n', done: true });
    feed.sink!.end();
    const out = await outcome;
    expect(out).toMatchObject({ end: 'done', contentEvents: 2, finishReason: 'length', usage });
    expect(first).toBe(1);
    expect(res.chunks).toHaveLength(5);
    expect(res.chunks.some((c) => c.includes('"choices":[]'))).toBe(false);
    expect(res.chunks.at(-1)).toBe('data: [DONE]\n\n');
    expect(feed.cancelled).toBe(0);
  });

  it('forwards the usage-only chunk when the client asked for usage', async () => {
    const res = fakeResponse();
    const feed = new Feed();
    const outcome = relayFeed(feed, res as never, { ...opts, stripUsage: false });
    feed.sink!.event({ raw: 'data: {"choices":[],"usage":{}}\n\n', usage, usageOnly: true });
    feed.sink!.event({ raw: 'data: [DONE]\n\n', done: true });
    expect((await outcome).end).toBe('done');
    expect(res.chunks[0]).toContain('"choices":[]');
  });

  it('ends a feed that stops before [DONE] with an error event and [DONE]; a deadline names itself', async () => {
    const res = fakeResponse();
    const feed = new Feed([token('a')]);
    const outcome = relayFeed(feed, res as never, opts);
    feed.sink!.end();
    const out = await outcome;
    expect(out.end).toBe('truncated');
    expect(res.chunks.at(-1)).toMatch(/"code":"stream_interrupted"[\s\S]*data: \[DONE\]\n\n$/);

    const cut = fakeResponse();
    const deadline = new GatewayError('SY_ERR_UPSTREAM_STALLED', 'the engine sent nothing for 5 ms mid-stream');
    const feed2 = new Feed();
    const outcome2 = relayFeed(feed2, cut as never, { ...opts, interruption: () => deadline });
    feed2.sink!.fail(new Error('engine request cancelled'));
    const out2 = await outcome2;
    expect(out2.end).toBe('upstream-failed');
    expect(out2.error).toBe(deadline.message);
    expect(cut.chunks.at(-1)).toContain(deadline.body().error.code as string);
  });

  it('cancels the feed when the client leaves, and makes nothing of events after', async () => {
    const res = fakeResponse();
    const feed = new Feed([token('a')]);
    const outcome = relayFeed(feed, res as never, opts);
    res.destroy();
    feed.sink!.event(token('b'));
    feed.sink!.end();
    const out = await outcome;
    expect(out).toMatchObject({ end: 'client-gone', contentEvents: 1 });
    expect(feed.cancelled).toBe(1);
    expect(res.chunks).toHaveLength(1);
  });

  it('cuts a client that takes nothing for the stall limit, and cancels the feed', async () => {
    const res = fakeResponse(false);
    const feed = new Feed([token('a')]);
    const t0 = Date.now();
    const out = await relayFeed(feed, res as never, { ...opts, stallTimeoutMs: 300 });
    expect(out.end).toBe('client-gone');
    expect(out.error).toMatch(/took nothing for 300 ms/);
    expect(res.destroyed).toBe(true);
    expect(feed.cancelled).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('does not attach to a response already closed', async () => {
    const res = fakeResponse();
    res.destroyed = true;
    const feed = new Feed();
    expect((await relayFeed(feed, res as never, opts)).end).toBe('client-gone');
    expect(feed.sink).toBeUndefined();
    expect(feed.cancelled).toBe(1);
  });
});
