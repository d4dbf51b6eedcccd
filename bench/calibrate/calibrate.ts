/**
 * `switchyard bench calibrate`: runs a published table's closed-loop workload (fixed prompt,
 * fixed output length, concurrency 1..16) against emulated engine faces over real HTTP, and
 * prints published and measured total-token throughput side by side for both engines.
 */
import { request, Agent } from 'undici';
import { Tokenizer } from '../../core/tokenizer/tokenizer.js';
import { loadProfile } from '../../native/profiles.js';
import { textWithTokens } from '../load/text.js';
import { spawnSim } from '../sim/spawn.js';
import { findTable, type PublishedTable, type TableWorkload } from './tables.js';

/** The face that stands in for each published arm. */
const ARM_FACE: Record<string, string> = { vllm: 'vllm', trtllm: 'trtllm-serve' };

export interface CalibrateOptions {
  tables: string[];
  tolerancePct?: number;
  timeScale: number;
  requestsPerClient: number;
}

export interface ArmResult {
  arm: string;
  profile: string;
  published: number[];
  measured: number[];
  errorPct: number[];
}

export interface TableResult {
  table: PublishedTable;
  workload: TableWorkload;
  arms: ArmResult[];
}

const QWEN_SYSTEM = 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.';

/** The table's fixed chat messages, sized to its prompt length under the Qwen chat template. */
export function tableMessages(tokenizer: Tokenizer, workload: TableWorkload): Array<{ role: string; content: string }> {
  if (workload.kind === 'short') {
    return [{ role: 'system', content: QWEN_SYSTEM }, { role: 'user', content: 'Who is Washington?' }];
  }
  const instruction = 'Summarize the following article in about 150 words.\n\n';
  const frame = [{ role: 'system', content: QWEN_SYSTEM }, { role: 'user', content: instruction }];
  const frameTokens = tokenizer.encode(tokenizer.applyChatTemplate(frame, { addGenerationPrompt: true })).length;
  const article = textWithTokens(tokenizer, workload.promptTokens - frameTokens, 1);
  return [{ role: 'system', content: QWEN_SYSTEM }, { role: 'user', content: instruction + article }];
}

async function closedLoop(
  url: string, model: string, messages: unknown, outputTokens: number, concurrency: number,
  perClient: number, timeScale: number, dispatcher: Agent,
): Promise<number> {
  const body = JSON.stringify({ model, messages, max_tokens: outputTokens, ignore_eos: true, temperature: 0 });
  const one = async (): Promise<number> => {
    const res = await request(`${url}/v1/chat/completions`, {
      method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`calibration request failed: ${res.statusCode} ${text.slice(0, 300)}`);
    const usage = (JSON.parse(text) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    return usage.prompt_tokens + usage.completion_tokens;
  };
  const phase = async (n: number) => {
    const started = performance.now();
    const counts = await Promise.all(
      Array.from({ length: concurrency }, async () => {
        let tokens = 0;
        for (let i = 0; i < n; i++) tokens += await one();
        return tokens;
      }),
    );
    return { tokens: counts.reduce((a, b) => a + b, 0), realMs: performance.now() - started };
  };
  await phase(1); // warm-up: the first round fills the prefix cache, as in the published runs
  const measured = await phase(perClient);
  // Real time × time scale = model time: throughput as the modelled GPU would have delivered it.
  return measured.tokens / ((measured.realMs * timeScale) / 1000);
}

export async function calibrateTable(id: string, options: CalibrateOptions, tokenizer: Tokenizer): Promise<TableResult> {
  const { table, workload } = findTable(id);
  const messages = tableMessages(tokenizer, workload);
  const arms: ArmResult[] = [];
  for (const [arm, published] of Object.entries(table.arms)) {
    const profile = workload.profiles[arm];
    const face = ARM_FACE[arm];
    if (!profile || !face) throw new Error(`table ${id}: no profile or face for arm '${arm}'`);
    const model = loadProfile(profile).model;
    // The published runs went through another front end (xinference, grps): its per-request cost is
    // part of what the tables measured, so the faces sleep the profile's fitted overhead here.
    const sim = await spawnSim(['--engine', face, '--profile', profile, '--port', '0', '--time-scale', String(options.timeScale),
      '--calibration-overhead']);
    const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
    try {
      const measured: number[] = [];
      for (const c of table.concurrency) {
        measured.push(await closedLoop(sim.url, model, messages, workload.outputTokens, c, options.requestsPerClient, options.timeScale, dispatcher));
      }
      arms.push({
        arm, profile, published, measured,
        errorPct: measured.map((m, i) => (100 * (m - published[i])) / published[i]),
      });
    } finally {
      await dispatcher.close();
      await sim.stop();
    }
  }
  return { table, workload, arms };
}

const pct = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`;

export function formatTable(r: TableResult, timeScale: number): string {
  const w = 10;
  const head = (label: string, cells: string[]) => label.padEnd(26) + cells.map((c) => c.padStart(w)).join('');
  const lines = [
    `${r.table.id}: ${r.table.hardware}, ${r.table.model}; ${r.workload.promptTokens} in / ${r.workload.outputTokens} out; ` +
      `total tokens/s, closed loop (simulated, time scale ${timeScale})`,
    head('concurrency', r.table.concurrency.map(String)),
  ];
  for (const a of r.arms) {
    lines.push(head(`${a.arm} published`, a.published.map((v) => v.toFixed(2))));
    lines.push(head(`${a.arm} measured`, a.measured.map((v) => v.toFixed(2))));
    lines.push(head(`${a.arm} error`, a.errorPct.map(pct)));
  }
  if (r.arms.length === 2) {
    const [a, b] = r.arms;
    lines.push(head(`${b.arm} vs ${a.arm} published`, b.published.map((v, i) => pct(100 * (v / a.published[i] - 1)))));
    lines.push(head(`${b.arm} vs ${a.arm} measured`, b.measured.map((v, i) => pct(100 * (v / a.measured[i] - 1)))));
  }
  return lines.join('\n');
}

/** Largest absolute cell error of a result, in percent. */
export function worstErrorPct(r: TableResult): number {
  return Math.max(...r.arms.flatMap((a) => a.errorPct.map(Math.abs)));
}
