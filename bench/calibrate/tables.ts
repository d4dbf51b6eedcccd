/**
 * The published throughput tables (bench/data/published-tables.json, from grps-trtllm's docs) and
 * how each maps onto engine-model profiles and a fixed closed-loop workload.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../core/util/package-root.js';

export interface PublishedTable {
  id: string;
  hardware: string;
  model: string;
  workload: string;
  concurrency: number[];
  /** Engine arm ('vllm' | 'trtllm') → total tokens/s at each concurrency. */
  arms: Record<string, number[]>;
}

/** The closed-loop workload a table was measured with, in tokens under the Qwen tokenizer. */
export interface TableWorkload {
  kind: 'short' | 'long';
  promptTokens: number;
  outputTokens: number;
  /** Arm → profile name in native/profiles.yaml. */
  profiles: Record<string, string>;
}

// The short prompt is the chat-templated "Who is Washington?" with Qwen2.5's default system
// prompt: 33 tokens; output fills the table's "about 120 (140) tokens in+out". The long prompt is
// a ~1.2k-token article with a summarise instruction; output as each table states.
export const TABLE_WORKLOADS: Record<string, TableWorkload> = {
  'a10-qwen2.5-7b-short': {
    kind: 'short', promptTokens: 33, outputTokens: 87,
    profiles: { vllm: 'a10-qwen2.5-7b-vllm', trtllm: 'a10-qwen2.5-7b-trtllm' },
  },
  'a10-qwen2.5-7b-long': {
    kind: 'long', promptTokens: 1200, outputTokens: 190,
    profiles: { vllm: 'a10-qwen2.5-7b-vllm', trtllm: 'a10-qwen2.5-7b-trtllm' },
  },
  '2080ti-qwen2-7b-short': {
    kind: 'short', promptTokens: 33, outputTokens: 107,
    profiles: { vllm: '2080ti-qwen2-7b-vllm', trtllm: '2080ti-qwen2-7b-trtllm' },
  },
  '2080ti-qwen2-7b-long': {
    kind: 'long', promptTokens: 1200, outputTokens: 150,
    profiles: { vllm: '2080ti-qwen2-7b-vllm', trtllm: '2080ti-qwen2-7b-trtllm' },
  },
};

interface RawTables {
  tables: Array<{
    id: string; hardware: string; model: string; workload: string; concurrency: number[];
    engines: Record<string, number[]>;
  }>;
}

export function loadPublishedTables(
  file = path.join(packageRoot(import.meta.url), 'bench', 'data', 'published-tables.json'),
): PublishedTable[] {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawTables;
  return raw.tables.map((t) => {
    const arms: Record<string, number[]> = {};
    // Engine keys carry versions ("vllm (xinference 1.1.1, vLLM 0.6.6, …)"); the arm is the first word.
    for (const [key, values] of Object.entries(t.engines)) arms[key.split(/[\s(]/)[0]] = values;
    return { id: t.id, hardware: t.hardware, model: t.model, workload: t.workload, concurrency: t.concurrency, arms };
  });
}

export function findTable(id: string): { table: PublishedTable; workload: TableWorkload } {
  const tables = loadPublishedTables();
  const table = tables.find((t) => t.id === id);
  const workload = TABLE_WORKLOADS[id];
  if (!table || !workload) {
    throw new Error(`no published table '${id}' (have: ${tables.map((t) => t.id).join(', ')})`);
  }
  return { table, workload };
}
