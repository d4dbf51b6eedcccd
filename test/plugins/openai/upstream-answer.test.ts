import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamAnswer } from '../../../plugins/http/upstream-answer.js';

/** Dispatch one POST through `pool` and resolve with the answer once its status has arrived. */
function send(pool: Pool, path: string, settled: () => void = () => {}): { answer: UpstreamAnswer; started: Promise<UpstreamAnswer> } {
  let answer!: UpstreamAnswer;
  const started = new Promise<UpstreamAnswer>((resolve, reject) => {
    answer = new UpstreamAnswer((err) => (err ? reject(err) : resolve(answer)), settled);
    pool.dispatch({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, answer);
  });
  return { answer, started };
}

describe('UpstreamAnswer (undici dispatch handler)', () => {
  let server: Server;
  let pool: Pool;
  const seen: string[] = [];
  const held: ServerResponse[] = [];
  let written = 0;

  beforeEach(async () => {
    seen.length = 0;
    held.length = 0;
    written = 0;
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      req.resume();
      if (req.url === '/hold') {
        held.push(res);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
      } else if (req.url === '/big') {
        // 64 MiB offered as fast as the socket takes it: a reader that stops must stop this too.
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, 97);
        const pump = () => {
          while (written < 1024) {
            written++;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      } else if (req.url === '/json-held') {
        // The first part of a JSON answer; the test ends it (no timer racing a slow machine).
        held.push(res);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"choices":[],');
      } else if (req.url === '/error') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"no such model"}}');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"choices":[],');
        setTimeout(() => res.end('"usage":{"prompt_tokens":3}}'), 5);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
  });

  afterEach(async () => {
    for (const res of held) res.destroy();
    await pool.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('collects a whole answer as text without a stream, and settles once', async () => {
    let settled = 0;
    const { started } = send(pool, '/json', () => settled++);
    const answer = await started;
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(await answer.text()).toBe('{"choices":[],"usage":{"prompt_tokens":3}}');
    expect(settled).toBe(1);
  });

  it('has no ready bytes before the answer ended, and the whole answer once it has', async () => {
    let ended!: () => void;
    const settled = new Promise<void>((r) => { ended = r; });
    const { started } = send(pool, '/json-held', () => ended()); // its body ends when the test ends it
    const answer = await started;
    expect(answer.readyBytes()).toBeUndefined();
    // Asking did not take anything: the answer is still whole when it ends.
    held[0]!.end('"usage":{"prompt_tokens":3}}');
    await settled;
    expect(answer.readyBytes()?.toString()).toBe('{"choices":[],"usage":{"prompt_tokens":3}}');
  });

  it('hands error bodies over with their status', async () => {
    const answer = await send(pool, '/error').started;
    expect(answer.status).toBe(404);
    expect(JSON.parse(await answer.text())).toEqual({ error: { message: 'no such model' } });
  });

  it('streams through `body` and aborts the upstream when the reader destroys it', async () => {
    let settled = 0;
    const answer = await send(pool, '/hold', () => settled++).started;
    const first = await new Promise<Buffer>((r) => answer.body.once('data', r));
    expect(first.toString()).toBe('data: first\n\n');
    const closed = new Promise((r) => held[0].once('close', r));
    answer.body.destroy();
    await closed; // the server saw its connection cut: the generation would stop
    expect(settled).toBe(1);
  });

  it('passes a slow reader back to the socket instead of buffering without bound', async () => {
    const answer = await send(pool, '/big').started;
    const body = answer.body;
    await new Promise((r) => body.once('readable', r));
    // Nobody reads: after a moment the server must be stuck far short of the 1024 chunks.
    await new Promise((r) => setTimeout(r, 300));
    expect(written).toBeLessThan(256);
    let bytes = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) bytes += chunk.length;
    expect(bytes).toBe(1024 * 64 * 1024);
  });

  it('aborts a request still queued for a connection: it never reaches the upstream', async () => {
    const first = await send(pool, '/hold').started; // takes the pool's only connection
    const queued = send(pool, '/never');
    queued.answer.abort(new Error('client disconnected'));
    await expect(queued.started).rejects.toThrow('client disconnected');
    first.body.destroy();
    // The connection is free again and a new request goes through; the aborted one never went.
    expect(await (await send(pool, '/json').started).text()).toContain('usage');
    expect(seen).toEqual(['/hold', '/json']);
  });
});
