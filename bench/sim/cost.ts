/**
 * What one emulated engine replica can sustain on this machine: requests/s and streamed tokens/s
 * of one face process, with the engine model fast enough (high time scale) that the face's own
 * work — HTTP, tokenization, SSE framing — is the limit. Also reports the face's CPU use, to
 * say how much of one core that took.
 *
 *   node --import tsx bench/sim/cost.ts [--engine vllm] [--seconds 10] [--concurrency 64] [--max-tokens 64]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { spawnSim } from './spawn.js';
import { loadProfile } from '../../native/profiles.js';

function cpuSeconds(pid: number): number {
  // /proc/<pid>/stat fields 14 and 15: utime and stime in clock ticks (100 Hz on Linux).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'vllm' },
    profile: { type: 'string', default: 'h100-llama3-8b-vllm' },
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '64' },
    'max-tokens': { type: 'string', default: '64' },
    'time-scale': { type: 'string', default: '1000' },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const maxTokens = Number(values['max-tokens']);
const model = loadProfile(values.profile!).model;
const sim = await spawnSim([
  '--engine', values.engine!, '--profile', values.profile!, '--port', '0', '--time-scale', values['time-scale']!,
  '--frontend-overhead-ms', '0',
]);
const dispatcher = new Agent({ connections: concurrency, keepAliveTimeout: 10_000 });
let requests = 0;
let tokens = 0;
let errors = 0;
const deadline = performance.now() + seconds * 1000;
const cpuStart = cpuSeconds(sim.child.pid!);
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, async (_, c) => {
  let i = 0;
  while (performance.now() < deadline) {
    const body = JSON.stringify({
      model, stream: true, max_tokens: maxTokens, ignore_eos: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: `Client ${c} question ${i++}: what is a KV cache?` }],
    });
    const res = await request(`${sim.url}/v1/chat/completions`, {
      method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher,
    });
    if (res.statusCode !== 200) { errors++; await res.body.dump(); continue; }
    const text = await res.body.text();
    const usage = /"completion_tokens":(\d+)/.exec(text);
    tokens += usage ? Number(usage[1]) : 0;
    requests++;
  }
}));
const elapsed = (performance.now() - started) / 1000;
const cpu = cpuSeconds(sim.child.pid!) - cpuStart;
await dispatcher.close();
await sim.stop();
const rps = requests / elapsed;
const tps = tokens / elapsed;
process.stdout.write(
  `face ${values.engine} (${values.profile}, time scale ${values['time-scale']}), ${concurrency} streams, ${maxTokens} tokens each\n` +
  `  ${rps.toFixed(0)} requests/s, ${tps.toFixed(0)} streamed tokens/s, ${errors} errors\n` +
  `  face CPU ${(cpu / elapsed).toFixed(2)} cores → per core: ${(rps / (cpu / elapsed)).toFixed(0)} requests/s, ` +
  `${(tps / (cpu / elapsed)).toFixed(0)} tokens/s\n`,
);
