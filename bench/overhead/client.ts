/**
 * The two measurements wrk cannot make, done with undici from the benchmark's process: reading a
 * response header over many requests (Switchyard's self-reported `x-switchyard-overhead-ms`), and
 * timing streamed answers chunk by chunk (TTFT and ITL as vLLM's benchmark defines them:
 * REFERENCE §4.1 — TTFT is the first content chunk − the moment just before the POST; ITL is every
 * gap between consecutive content chunks, pooled over all requests).
 */
import { Pool } from 'undici';
import { percentile } from './load.js';
import type { Target } from './targets.js';

function poolFor(t: Target, connections: number): { pool: Pool; path: string } {
  const url = new URL(t.url);
  return { pool: new Pool(url.origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 }), path: url.pathname };
}

export interface HeaderSample {
  values: Float64Array;
  failures: number;
}

/** `count` requests, `concurrency` at a time; the numeric value of `header` in each answer. */
export async function sampleHeader(t: Target, body: string, header: string, count = 2000, concurrency = 8): Promise<HeaderSample> {
  const { pool, path } = poolFor(t, concurrency);
  const values: number[] = [];
  let failures = 0;
  let issued = 0;
  const worker = async () => {
    while (issued < count) {
      issued++;
      try {
        const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json', ...t.headers }, body });
        await res.body.dump();
        const v = Number(res.headers[header]);
        if (res.statusCode === 200 && Number.isFinite(v)) values.push(v);
        else failures++;
      } catch {
        failures++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await pool.close();
  }
  return { values: Float64Array.from(values).sort(), failures };
}

export interface StreamStats {
  streams: number;
  failures: number;
  durationS: number;
  streamsPerS: number;
  contentChunksPerStream: number;
  ttftP50Ms: number;
  ttftP90Ms: number;
  ttftP99Ms: number;
  ttftMeanMs: number;
  itlMeanMs: number;
  itlP50Ms: number;
  itlP99Ms: number;
}

const CONTENT = /"content":"(?!")/;

/**
 * `concurrency` closed loops of streamed chat completions for `durationS`. A stream that does not
 * answer 200 or ends without `data: [DONE]` is a failure and is left out of the timings.
 */
export async function measureStreams(t: Target, body: string, o: { concurrency: number; durationS: number }): Promise<StreamStats> {
  const { pool, path } = poolFor(t, o.concurrency);
  const ttfts: number[] = [];
  const itls: number[] = [];
  let streams = 0;
  let failures = 0;
  let chunks = 0;
  const started = performance.now();
  const until = started + o.durationS * 1000;
  const one = async () => {
    const st = performance.now();
    const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json', ...t.headers }, body });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return false;
    }
    const times: number[] = [];
    let pending = '';
    let done = false;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      const now = performance.now();
      pending += chunk.toString('utf8');
      let end: number;
      while ((end = pending.indexOf('\n\n')) >= 0) {
        const event = pending.slice(0, end);
        pending = pending.slice(end + 2);
        if (event.startsWith('data: [DONE]')) done = true;
        else if (CONTENT.test(event)) times.push(now);
      }
    }
    if (!done || times.length === 0) return false;
    ttfts.push(times[0] - st);
    for (let i = 1; i < times.length; i++) itls.push(times[i] - times[i - 1]);
    chunks += times.length;
    return true;
  };
  const loop = async () => {
    while (performance.now() < until) {
      try {
        if (await one()) streams++;
        else failures++;
      } catch {
        failures++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, loop));
  } finally {
    await pool.close();
  }
  const durationS = (performance.now() - started) / 1000;
  const ttft = Float64Array.from(ttfts).sort();
  const itl = Float64Array.from(itls).sort();
  const mean = (a: Float64Array) => (a.length === 0 ? NaN : a.reduce((x, y) => x + y, 0) / a.length);
  return {
    streams, failures, durationS, streamsPerS: streams / durationS, contentChunksPerStream: streams ? chunks / streams : 0,
    ttftP50Ms: percentile(ttft, 50), ttftP90Ms: percentile(ttft, 90), ttftP99Ms: percentile(ttft, 99), ttftMeanMs: mean(ttft),
    itlMeanMs: mean(itl), itlP50Ms: percentile(itl, 50), itlP99Ms: percentile(itl, 99),
  };
}
