/**
 * Test helpers for the emulated replicas: start one on a free loopback port, read SSE frames off
 * a real HTTP response, parse Prometheus text, poll.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fetch } from 'undici';
import { withSimDefaults } from '../../../bench/sim/options.js';
import type { SimOptions } from '../../../bench/sim/options.js';
import { startSim } from '../../../bench/sim/server.js';
import type { SimServer } from '../../../bench/sim/server.js';

export const MODEL = 'Qwen/Qwen2.5-7B-Instruct';

export function simOptions(engine: SimOptions['engine'], extra: Partial<SimOptions> = {}): SimOptions {
  const profile = engine === 'trtllm-serve' ? 'a10-qwen2.5-7b-trtllm' : `a10-qwen2.5-7b-${engine}`;
  return withSimDefaults({ engine, profile, timeScale: 50, replicaName: `test-${engine}`, ...extra });
}

export function launch(engine: SimOptions['engine'], extra: Partial<SimOptions> = {}): Promise<SimServer> {
  return startSim(simOptions(engine, extra));
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string; json: unknown }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers as unknown as Headers, text, json };
}

/** The raw SSE frames of a streamed POST, each `data: …` payload as sent (no framing). */
export async function sseFrames(url: string, body: unknown): Promise<{ status: number; raw: string; frames: string[] }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const raw = await res.text();
  const frames = raw.split('\n\n').filter((f) => f.length > 0).map((f) => {
    if (!f.startsWith('data: ')) throw new Error(`not an SSE data frame: ${JSON.stringify(f)}`);
    return f.slice('data: '.length);
  });
  return { status: res.status, raw, frames };
}

/** Real ms from sending a streamed chat request until a frame carries non-empty content; reads the rest. */
export async function timeToFirstContent(url: string, body: unknown): Promise<number> {
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  let firstMs: number | undefined;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (firstMs === undefined && /"content":"[^"]/.test(text)) firstMs = performance.now() - started;
  }
  if (firstMs === undefined) throw new Error(`no content in the stream: ${text.slice(0, 300)}`);
  return firstMs;
}

export type Json = Record<string, unknown>;

export function parseFrame(frame: string): Json {
  return JSON.parse(frame) as Json;
}

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromText {
  types: Map<string, string>;
  samples: PromSample[];
}

/** A strict parser of the Prometheus text format (0.0.4): every line must parse. */
export function parsePrometheus(text: string): PromText {
  const types = new Map<string, string>();
  const samples: PromSample[] = [];
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${name}) ?(.*)$`).exec(line);
      if (m === null) throw new Error(`bad comment line: ${line}`);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3])) throw new Error(`bad type: ${line}`);
        types.set(m[2], m[3]);
      }
      continue;
    }
    const m = new RegExp(`^(${name})(?:\\{(.*)\\})? (\\S+)(?: \\d+)?$`).exec(line);
    if (m === null) throw new Error(`bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2] !== undefined && m[2] !== '') {
      const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
      let consumed = 0;
      for (let lm = labelRe.exec(m[2]); lm !== null; lm = labelRe.exec(m[2])) {
        labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        consumed += lm[0].length;
      }
      if (consumed !== m[2].length) throw new Error(`bad labels: ${line}`);
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad value: ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return { types, samples };
}

export async function scrape(url: string): Promise<PromText> {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parsePrometheus(await res.text());
}

/** Sum of a metric's samples matching `labels` (all series when none given). */
export function metric(prom: PromText, name: string, labels: Record<string, string> = {}): number {
  return prom.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Polls until `check` returns true; throws after `timeoutMs` of real time. */
/** Polls until `check` holds; resolves with the milliseconds it took. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, everyMs = 20): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
  return performance.now() - started;
}

/** A long, deterministic system prompt (~`words` tokens of prose). */
export function longText(words: number, salt = ''): string {
  const vocab = ['routing', 'cache', 'prefix', 'replica', 'latency', 'gateway', 'token', 'engine', 'budget', 'stream', 'queue', 'block'];
  const out: string[] = [salt];
  let x = 7;
  for (let i = 0; i < words; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push(vocab[x % vocab.length]);
  }
  return out.join(' ');
}
