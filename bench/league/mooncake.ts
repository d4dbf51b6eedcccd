/**
 * W4 — the Mooncake synthetic trace (kvcache-ai/Mooncake FAST25-release: JSONL of
 * `{timestamp (ms), input_length, output_length, hash_ids}`; each hash id one 512-token block,
 * equal ids a shared prefix). Each hash id becomes one seeded segment of 512 token ids (the same
 * ids in every run and for every profile); a request's prompt is its blocks in order, the last one
 * cut so that `input_length` governs. The rate is swept by scaling the timestamps.
 *
 * Subsample: the whole trace (61M prompt tokens) costs about 15 s per point in approximate mode
 * and a minute in exact mode (KV events) here — too slow for a league. Its hash ids are prefix
 * chains (equal ids at a position mean equal prompts up to there), so requests grouped by their
 * first hash id share nothing across groups: seed s keeps the groups whose first id ≡ s − 1
 * (mod 8) — about 500 requests over the trace's whole span, with every prefix relation among
 * them intact (the full trace's infinite-cache prefix hit rate is 65%; such slices give 60–68%).
 * Each seed is thus another eighth of the trace. `SWITCHYARD_MOONCAKE_SAMPLE=1` runs all of it.
 *
 * Replicas: 4 × the h100 profile with realistic KV — an 80 GB GPU with an 8B model holds ~500k
 * tokens (31,250 blocks of 16), and the longest prompts (191k tokens) fit, so max_model_len is
 * raised to 262,144.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { BuildOptions } from './workloads.js';
import { concatIds, randomIds, rng, Segment, type LeagueRequest, type Workload } from './workload.js';

export const MOONCAKE_TRACE = process.env.SWITCHYARD_MOONCAKE_TRACE ?? '/work/shared/data/mooncake-synthetic-trace.jsonl';
const BLOCK = 512;

interface TraceLine {
  timestamp: number;
  input_length: number;
  output_length: number;
  hash_ids: number[];
}

function readTrace(file: string): TraceLine[] {
  if (!existsSync(file)) throw new Error(`W4: the Mooncake trace is missing (${file}); set SWITCHYARD_MOONCAKE_TRACE`);
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as TraceLine);
}

/** `quick`: 40 requests of one 32nd of the groups, each cut to its first 6 blocks, on 2 small replicas. */
export function loadMooncake(o: BuildOptions, file = MOONCAKE_TRACE): Workload {
  const all = readTrace(file);
  const sample = o.quick ? 32 : Number(process.env.SWITCHYARD_MOONCAKE_SAMPLE ?? 8);
  const slice = (o.seed - 1) % sample;
  const lines = all.filter((l) => l.hash_ids.length > 0 && l.hash_ids[0] % sample === slice).slice(0, o.quick ? 40 : undefined);
  const maxBlocks = o.quick ? 6 : Infinity;
  const blocks = new Map<number, Segment>();
  const blockOf = (id: number) => {
    let s = blocks.get(id);
    if (!s) {
      s = new Segment(randomIds(rng(id * 2654435761 + 1), BLOCK));
      blocks.set(id, s);
    }
    return s;
  };
  const requests: LeagueRequest[] = lines.map((line, index) => {
    const ids = line.hash_ids.slice(0, maxBlocks);
    const input = Math.min(line.input_length, ids.length * BLOCK);
    const segments = ids.map((id, i) => (i === ids.length - 1 && input < (i + 1) * BLOCK ? blockOf(id).head(input - i * BLOCK) : blockOf(id)));
    return {
      index, group: line.hash_ids[0], messages: [{ role: 'user', segments }], ids: concatIds(segments),
      maxTokens: Math.max(1, line.output_length), traceMs: line.timestamp,
    };
  });
  const span = Math.max(1, requests[requests.length - 1].traceMs! - requests[0].traceMs!);
  const n = o.quick ? 2 : 4;
  const numBlocks = o.quick ? 600 : 31_250;
  return {
    name: 'W4', title: 'Mooncake trace', arrivals: 'trace', slo: { ttftMs: 3000, tpotMs: 100 },
    fleet: Array.from({ length: n }, (_, i) => ({ id: `r${i}`, profile: 'h100-llama3-8b-vllm', numBlocks, maxModelLen: 262_144 })),
    notes: `${requests.length} of ${all.length} trace requests (first hash id ≡ ${slice} mod ${sample})${o.quick ? ', first 6 blocks each' : ''}, 512-token hash blocks; ${n} × h100 with ${numBlocks * 16} KV tokens each`,
    requests, nativeRate: (requests.length - 1) / (span / 1000),
    rates: o.quick ? [4, 12] : [4, 6, 9, 13, 20, 30, 45],
  };
}
