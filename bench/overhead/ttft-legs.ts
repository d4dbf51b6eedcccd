/**
 * Where a proxy's added time to first token goes: the request leg (client sends the POST → the
 * upstream has its body) and the first-chunk leg (the upstream writes the first content chunk →
 * the client has it), for direct, the node floor and Switchyard, against a zero upstream that
 * stamps both moments on a clock all processes share (zero-upstream.ts, `stamp`).
 *
 *   node --import tsx bench/overhead/ttft-legs.ts [--probes 300] [--background 10] [--baseline DIR] [--pin]
 *
 * Each target carries `--background` closed-loop streams (64 chunks 5 ms apart, as `run.ts --stream`)
 * while one probe stream at a time goes to each target in turn (the order reversed every other
 * round), so every row is measured under the same load at the same moments. Switchyard rows also
 * give their own `x-switchyard-overhead-ms` (request received → upstream request sent), the part
 * of the request leg spent in the gateway's stages. `--baseline DIR`: a second built checkout,
 * measured alongside. Prints p50 and p90 of each leg, and the p50s added over direct.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { ensureBuilt, pinRule, ROOT, roundOrder, say } from './harness.js';
import { percentile } from './load.js';
import { ProcessGroup } from './processes.js';
import { CHUNKS, ITL_MS } from './stream-run.js';
import { MODEL, startFloor, startSwitchyard, startZero, type Target } from './targets.js';
import { monotonicClockMs } from './zero-upstream.js';

const RECEIVED = /"zero_received_at":([0-9.]+)/;
const SENT = /"zero_sent_at":([0-9.]+)/;

interface Legs { request: number; firstChunk: number; ttft: number; inGateway?: number }

/** One stream through `pool`, read to its end; its legs when the upstream's stamps came through. */
async function probe(pool: Pool, t: Target, body: string): Promise<Legs | undefined> {
  const start = monotonicClockMs();
  const res = await pool.request({ path: new URL(t.url).pathname, method: 'POST', headers: { 'content-type': 'application/json', ...t.headers }, body });
  let text = '';
  let received: number | undefined;
  let firstAt: number | undefined;
  let sent: number | undefined;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    if (firstAt !== undefined) continue; // read to the end: the connection goes back to the pool
    const now = monotonicClockMs();
    text += chunk.toString('utf8');
    const r = received === undefined ? RECEIVED.exec(text) : null;
    if (r) received = Number(r[1]);
    const s = SENT.exec(text);
    if (s) {
      firstAt = now;
      sent = Number(s[1]);
    }
  }
  if (res.statusCode !== 200 || received === undefined || sent === undefined || firstAt === undefined) return undefined;
  const own = res.headers['x-switchyard-overhead-ms'];
  return { request: received - start, firstChunk: firstAt - sent, ttft: firstAt - start, inGateway: typeof own === 'string' ? Number(own) : undefined };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      probes: { type: 'string', default: '300' }, background: { type: 'string', default: '10' },
      baseline: { type: 'string' }, pin: { type: 'boolean', default: false },
    },
  });
  const probes = Number(values.probes);
  const background = Number(values.background);
  if (!(probes >= 10) || !(background >= 0)) throw new Error('ttft-legs: --probes ≥ 10, --background ≥ 0');
  const group = new ProcessGroup();
  if (values.pin) group.pin = pinRule;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-ttft-legs-'));
  process.once('SIGINT', () => { void group.stopAll().finally(() => process.exit(130)); });
  const pools: Pool[] = [];
  try {
    const built = await ensureBuilt(group, ROOT, false);
    if (built) throw new Error(built);
    const zero = await startZero(group, { itlMs: ITL_MS, chunks: CHUNKS, stamp: true });
    const ready = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'ready?' }], max_tokens: 1 });
    const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Stream me something.' }], max_tokens: CHUNKS, stream: true });
    const targets: Target[] = [zero, await startFloor(group, { upstream: zero.base, workers: 1, body: ready })];
    targets.push(await startSwitchyard(group, { root: ROOT, dir, upstream: zero.base, workers: 1, body: ready }));
    if (values.baseline) {
      mkdirSync(path.join(dir, 'baseline'));
      const t = await startSwitchyard(group, { root: path.resolve(values.baseline), dir: path.join(dir, 'baseline'), upstream: zero.base, workers: 1, body: ready });
      targets.push({ ...t, name: 'switchyard baseline (workers: 1)' });
    }
    const rows = targets.map((t) => {
      const pool = new Pool(new URL(t.url).origin, { connections: background + 1, pipelining: 1 });
      pools.push(pool);
      return { t, pool, legs: [] as Legs[], lost: 0 };
    });
    let stop = false;
    const loops = rows.flatMap((r) => Array.from({ length: background }, async () => {
      while (!stop) await probe(r.pool, r.t, body).catch(() => undefined);
    }));
    say(`${background} background streams on each of ${rows.length} targets; ${probes} probe streams each, one at a time, in turn`);
    await new Promise((r) => setTimeout(r, 2000)); // warm-up under the background load
    for (let round = 1; round <= probes; round++) {
      for (const r of roundOrder(rows, round)) {
        const legs = await probe(r.pool, r.t, body).catch(() => undefined);
        if (legs) r.legs.push(legs);
        else r.lost++;
      }
    }
    stop = true;
    await Promise.all(loops);
    const p = (xs: number[], q: number) => percentile(Float64Array.from(xs).sort(), q);
    const direct = rows[0]!.legs;
    const base = { request: p(direct.map((l) => l.request), 50), firstChunk: p(direct.map((l) => l.firstChunk), 50), ttft: p(direct.map((l) => l.ttft), 50) };
    const ms = (v: number) => v.toFixed(3);
    const added = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}`;
    console.log(`## TTFT legs: ${probes} probe streams per target, ${background} background streams each (${CHUNKS} chunks ${ITL_MS} ms apart)\n`);
    console.log('| target | request leg p50 (p90) ms | first-chunk leg p50 (p90) ms | TTFT p50 ms | added: request / first chunk / TTFT | in the gateway p50 ms | lost |');
    console.log('|:--|--:|--:|--:|:--|--:|--:|');
    for (const r of rows) {
      const req = r.legs.map((l) => l.request);
      const first = r.legs.map((l) => l.firstChunk);
      const ttft = p(r.legs.map((l) => l.ttft), 50);
      const own = r.legs.flatMap((l) => (l.inGateway === undefined ? [] : [l.inGateway]));
      console.log(`| ${r.t.name} | ${ms(p(req, 50))} (${ms(p(req, 90))}) | ${ms(p(first, 50))} (${ms(p(first, 90))}) | ${ms(ttft)} | `
        + `${added(p(req, 50) - base.request)} / ${added(p(first, 50) - base.firstChunk)} / ${added(ttft - base.ttft)} | ${own.length ? ms(p(own, 50)) : '–'} | ${r.lost} |`);
    }
    console.log('\nRequest leg: the client sends the POST → the upstream has its body. First-chunk leg: the upstream writes the first content chunk → the client has it. Both on CLOCK_MONOTONIC, shared by the processes.');
    return 0;
  } finally {
    await Promise.all(pools.map((pl) => pl.close().catch(() => undefined)));
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
    process.stderr.write(`ttft-legs: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
