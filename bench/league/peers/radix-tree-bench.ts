/**
 * Micro-benchmark: SGLang's approximate radix tree (radix-tree.ts) on ~60 KB prompts — insert and
 * match times, median and p99, with a tree of `--groups` shared system prompts × `--per-group`
 * questions spread over 8 workers, and one eviction pass of every worker to half its size.
 *   node --import tsx bench/league/peers/radix-tree-bench.ts [--groups 40] [--per-group 25]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { ApproxRadixTree } from './radix-tree.js';

const { values } = parseArgs({ options: { groups: { type: 'string', default: '40' }, 'per-group': { type: 'string', default: '25' } } });
const groups = Number(values.groups);
const perGroup = Number(values['per-group']);

function words(seed: number, n: number): string {
  let x = seed >>> 0;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out.push(`w${x % 5000}`);
  }
  return out.join(' ');
}

const systems = Array.from({ length: groups }, (_, g) => words(g + 1, 9000)); // ~55 KB each
const prompts: string[] = [];
// Flat strings, as a parsed request body's are (a concatenation is a rope V8 flattens on first read).
for (let q = 0; q < perGroup; q++) for (let g = 0; g < groups; g++) prompts.push(Buffer.from(`${systems[g]} ${words(100_000 + g * perGroup + q, 700)}`).toString());

const tree = new ApproxRadixTree();
const insertMs: number[] = [];
const matchMs: number[] = [];
prompts.forEach((p, i) => {
  let t = performance.now();
  tree.match(p);
  matchMs.push(performance.now() - t);
  t = performance.now();
  tree.insert(p, `w${i % 8}`);
  insertMs.push(performance.now() - t);
});

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
const kb = Math.round(prompts.reduce((a, p) => a + p.length, 0) / prompts.length / 1024);
console.log(`${prompts.length} prompts of ~${kb} K characters, 8 workers`);
console.log(`match:  median ${pct(matchMs, 0.5).toFixed(3)} ms, p99 ${pct(matchMs, 0.99).toFixed(3)} ms`);
console.log(`insert: median ${pct(insertMs, 0.5).toFixed(3)} ms, p99 ${pct(insertMs, 0.99).toFixed(3)} ms`);
const t = performance.now();
for (const w of tree.tenants()) tree.evict(w, tree.size(w) / 2);
console.log(`evict every worker to half: ${(performance.now() - t).toFixed(1)} ms`);
