/**
 * Streams relayed in the slices they share (turns.ts): a burst of chunks from many upstreams at
 * once, as an engine step answers its whole batch, waits for its turns and reaches every client
 * whole and in order — the upstream's end (or its [DONE]) behind the chunks still waiting — over
 * real HTTP on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { relaySse, type RelayOutcome } from '../../../core/server/sse-relay.js';
import { RelayTurns } from '../../../core/server/turns.js';

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* a spent slice */ }
}

const event = (text: string) => `data: {"choices":[{"index":0,"delta":{"content":"${text}"}}]}\n\n`;

describe('relaySse in shared slices', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => { if (server) server.close(() => resolve()); else resolve(); }));

  /** `n` clients, each relayed from its own upstream through one RelayTurns. */
  async function streams(n: number, turns: RelayTurns) {
    const upstreams: PassThrough[] = [];
    const outcomes: Array<Promise<RelayOutcome>> = [];
    server = createServer((_req, res) => {
      const upstream = new PassThrough();
      upstreams.push(upstream);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // As the relay stage does (relay.ts): a stream that did not end with [DONE] is ended after.
      outcomes.push(relaySse(upstream, res, { stripUsage: false, now: () => performance.now(), isClientGone: () => res.destroyed, turns })
        .then((outcome) => { if (!res.writableEnded) res.end(); return outcome; }));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const bodies = Array.from({ length: n }, () => fetch(url).then((r) => r.text()));
    while (upstreams.length < n) await new Promise((r) => setTimeout(r, 5));
    return { upstreams, outcomes, bodies };
  }

  it('a burst that outlasts the slice waits for its turns and reaches every client whole, in order', async () => {
    const turns = new RelayTurns(1);
    const n = 40;
    const { upstreams, outcomes, bodies } = await streams(n, turns);
    let mostWaiting = 0;
    for (let token = 0; token < 5; token++) {
      // One engine step: every stream's chunk in one go, after the slice was spent.
      turns.turn(() => {});
      busy(3);
      for (const [i, up] of upstreams.entries()) up.write(event(`s${i}t${token}`));
      mostWaiting = Math.max(mostWaiting, turns.queued);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Half end with [DONE]; the other half end without it, while their last chunk still waits.
    turns.turn(() => {});
    busy(3);
    for (const [i, up] of upstreams.entries()) {
      if (i % 2 === 0) up.end('data: [DONE]\n\n');
      else {
        up.write(event(`s${i}last`));
        up.end();
      }
    }
    mostWaiting = Math.max(mostWaiting, turns.queued);
    expect(mostWaiting).toBeGreaterThan(n / 2);
    const [done, texts] = await Promise.all([Promise.all(outcomes), Promise.all(bodies)]);
    for (let i = 0; i < n; i++) {
      const sent = [0, 1, 2, 3, 4].map((t) => event(`s${i}t${t}`)).join('');
      if (i % 2 === 0) {
        expect(done[i]).toMatchObject({ end: 'done', contentEvents: 5 });
        expect(texts[i]).toBe(`${sent}data: [DONE]\n\n`);
      } else {
        expect(done[i]).toMatchObject({ end: 'truncated', contentEvents: 6 });
        // Every chunk first, then the error event and [DONE] the relay adds.
        expect(texts[i]!.startsWith(`${sent}${event(`s${i}last`)}data: {"error":`)).toBe(true);
        expect(texts[i]!.endsWith('data: [DONE]\n\n')).toBe(true);
      }
    }
    expect(turns.queued).toBe(0);
  });
});
