/**
 * Mooncake-style trace replay (`kvcache-ai/Mooncake: FAST25-release/traces/`): one JSON object a
 * line, `{"timestamp": ms, "input_length": n, "output_length": m, "hash_ids": [...]}`. Each hash id
 * names one block of 512 prompt tokens, and equal ids mean equal content, so two requests whose id
 * lists start alike share that prefix. Each id is mapped to deterministic prose of exactly one
 * block, and blocks are `seamlessText`, so joining them never merges tokens across a seam: the
 * prompt has exactly `input_length` tokens and shared ids give byte-identical, token-identical
 * prefixes.
 */
import { readFileSync } from 'node:fs';
import type { Tokenizer } from '../../core/tokenizer/tokenizer.js';
import { mixSeed } from './random.js';
import type { WorkloadRequest } from './source.js';
import { seamlessText, tokenPrefix, type TokenText } from './text.js';

export interface TraceEntry {
  timestampMs: number;
  inputLength: number;
  outputLength: number;
  hashIds: number[];
}

export class TraceFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TraceFormatError';
  }
}

function nonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** Parses JSONL trace text; errors name the file, the line and the field. */
export function parseTrace(text: string, file: string): TraceEntry[] {
  const entries: TraceEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const where = `${file}:${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new TraceFormatError(`${where}: not a JSON object`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new TraceFormatError(`${where}: not a JSON object`);
    const r = row as Record<string, unknown>;
    if (typeof r.timestamp !== 'number' || !Number.isFinite(r.timestamp) || r.timestamp < 0) {
      throw new TraceFormatError(`${where}: "timestamp" must be a non-negative number of ms`);
    }
    if (!nonNegativeInt(r.input_length) || r.input_length === 0) throw new TraceFormatError(`${where}: "input_length" must be a positive integer`);
    if (!nonNegativeInt(r.output_length) || r.output_length === 0) throw new TraceFormatError(`${where}: "output_length" must be a positive integer`);
    const ids = r.hash_ids ?? [];
    if (!Array.isArray(ids) || !ids.every(nonNegativeInt)) throw new TraceFormatError(`${where}: "hash_ids" must be a list of non-negative integers`);
    entries.push({ timestampMs: r.timestamp, inputLength: r.input_length, outputLength: r.output_length, hashIds: ids });
  }
  if (entries.length === 0) throw new TraceFormatError(`${file}: no requests in the trace`);
  // Stable sort: a trace written out of order still replays in arrival order.
  return entries.map((e, i) => ({ e, i })).sort((a, b) => a.e.timestampMs - b.e.timestampMs || a.i - b.i).map(({ e }) => e);
}

export function readTrace(file: string): TraceEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TraceFormatError(`cannot read trace ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseTrace(text, file);
}

export interface TraceBuildOptions {
  blockSize: number;
  /** Arrival times are divided by this (2 replays the trace twice as fast). */
  speedup: number;
  seed: number;
  limit: number;
}

/**
 * The trace's requests with prompt text, `arrivalMs` relative to the first request. A request
 * with fewer ids than blocks gets blocks of its own for the rest (never shared); a partial last
 * block is the first tokens of its id's full block, so a partial and a full use of one id still
 * share what they have in common.
 */
export function traceRequests(entries: readonly TraceEntry[], tokenizer: Tokenizer, o: TraceBuildOptions): Array<WorkloadRequest & { contentTokens: number }> {
  const blocks = new Map<string, TokenText>();
  const block = (key: string, seed: number): TokenText => {
    let b = blocks.get(key);
    if (b === undefined) {
      b = seamlessText(tokenizer, o.blockSize, seed);
      blocks.set(key, b);
    }
    return b;
  };
  const first = entries[0]?.timestampMs ?? 0;
  return entries.slice(0, o.limit).map((entry, index) => {
    const pieces: string[] = [];
    const count = Math.ceil(entry.inputLength / o.blockSize);
    for (let k = 0; k < count; k++) {
      const id = entry.hashIds[k];
      const full = id !== undefined
        ? block(`h${id}`, mixSeed(o.seed, id))
        : block(`r${index}:${k}`, mixSeed(mixSeed(o.seed, index), 0x5eed + k));
      const want = Math.min(o.blockSize, entry.inputLength - k * o.blockSize);
      pieces.push(want === o.blockSize ? full.text : tokenPrefix(tokenizer, full, want).text);
    }
    return {
      messages: [{ role: 'user', content: pieces.join('') }],
      maxTokens: entry.outputLength,
      arrivalMs: (entry.timestampMs - first) / o.speedup,
      contentTokens: entry.inputLength,
      ignoreEos: true,
    };
  });
}
