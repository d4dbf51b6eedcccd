/**
 * `switchyard bench scenario in-process`: the same engine-model profile served two ways behind one
 * gateway — in the gateway process (type: trtllm, executor: model) and over HTTP through the
 * trtllm-serve face (type: trtllm-serve, the face's own per-request overhead set to 0 so only the
 * hop itself differs: a second HTTP server, its own tokenization and SSE framing). TTFT and
 * throughput at each concurrency, in one run, with the difference.
 */
import { writeFileSync } from 'node:fs';
import { defineCommand, parseCommandLine } from '../../core/cli/args.js';
import { Tokenizer } from '../../core/tokenizer/tokenizer.js';
import { freePort, startFleet } from '../fleet.js';
import { runLoad } from '../load/runner.js';
import { fmt, table, writeReport } from './common.js';

const SPEC = defineCommand({
  command: 'switchyard bench scenario in-process',
  usage: `usage: switchyard bench scenario in-process [options]

The same engine-model profile in the gateway process (type: trtllm) and over HTTP (the
trtllm-serve face): TTFT and throughput per concurrency, with the difference.

options:
  --quick                  concurrency 1 and 4, 256 input and 16 output tokens, 8 prompts per level
  --profile NAME           engine-model profile (default a10-qwen2.5-7b-trtllm)
  --concurrency N,…        (default 1,2,4,8,16)
  --input-len N            prompt tokens (default 1200)
  --output-len N           output tokens (default 190)
  --prompts-per-level N    (default 32)
  --time-scale X           model time runs X times faster than real time (default 5; --quick 20)
  --json FILE              results as JSON
  --report DIR             DIR/index.html with charts, and DIR/results.json
  -h, --help               this text`,
  options: {
    quick: { type: 'boolean', default: false }, json: { type: 'string' }, report: { type: 'string' },
    profile: { type: 'string', default: 'a10-qwen2.5-7b-trtllm' },
    concurrency: { type: 'string' }, 'time-scale': { type: 'string' },
    'input-len': { type: 'string', default: '1200' }, 'output-len': { type: 'string', default: '190' },
    'prompts-per-level': { type: 'string' },
  },
});

export async function runInProcessScenario(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(SPEC, argv);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const quick = values.quick!;
  const levels = (values.concurrency ?? (quick ? '1,4' : '1,2,4,8,16')).split(',').map(Number);
  const timeScale = Number(values['time-scale'] ?? (quick ? 20 : 5));
  const inputLen = quick ? 256 : Number(values['input-len']);
  const outputLen = quick ? 16 : Number(values['output-len']);
  const perLevel = Number(values['prompts-per-level'] ?? (quick ? 8 : 32));
  const port = await freePort();
  const fleet = await startFleet({
    listen: { host: '127.0.0.1', port: 0 },
    backends: [
      { id: 'in-process', type: 'trtllm', executor: 'model', profile: values.profile, time_scale: timeScale, enable_chunked_context: true, models: ['m'] },
      { id: 'over-http', type: 'trtllm-serve', models: ['m'], sim: { profile: values.profile, port, time_scale: timeScale, args: ['--frontend-overhead-ms', '0'] } },
    ],
    routes: [{ model: 'in-process', backends: ['in-process'] }, { model: 'over-http', backends: ['over-http'] }],
  });
  const tokenizer = Tokenizer.qwenDefault();
  const rows: Array<Array<string | number>> = [];
  const json: Array<Record<string, unknown>> = [];
  try {
    for (const c of levels) {
      const measured: Record<string, { ttftP50: number; ttftMean: number; tokS: number }> = {};
      for (const model of ['in-process', 'over-http']) {
        const load = await runLoad({
          target: { baseUrl: fleet.url, model },
          workload: { kind: 'fixed', inputLen, outputLen },
          levels: [{ kind: 'closed', concurrency: c }], numPrompts: perLevel, warmup: 2, seed: 1, ignoreEos: true, tokenizer, progress: false,
        });
        const m = load.levels[0].metrics;
        // Real time × time scale = model time: what the modelled GPU would have delivered.
        measured[model] = { ttftP50: m.ttft.percentiles['50'] * timeScale, ttftMean: m.ttft.mean * timeScale, tokS: m.totalTokenThroughput / timeScale };
      }
      const a = measured['in-process'];
      const b = measured['over-http'];
      rows.push([c, fmt(a.ttftP50, 0), fmt(b.ttftP50, 0), fmt(100 * (a.ttftP50 / b.ttftP50 - 1), 1) + '%', fmt(a.tokS, 1), fmt(b.tokS, 1), fmt(100 * (a.tokS / b.tokS - 1), 1) + '%']);
      json.push({ concurrency: c, in_process: a, over_http: b });
    }
  } finally {
    await fleet.stop();
  }
  const header = ['concurrency', 'TTFT p50 in-proc ms', 'over HTTP ms', 'Δ TTFT', 'tok/s in-proc', 'over HTTP', 'Δ throughput'];
  process.stdout.write(`in-process vs trtllm-serve face, profile ${values.profile} (SIMULATED), ${inputLen} in / ${outputLen} out, ` +
    `time scale ${timeScale}; model time (real × ${timeScale}); total tokens/s\n${table(header, rows)}\n`);
  const out = { scenario: 'in-process', profile: values.profile, timeScale, inputLen, outputLen, levels: json };
  if (values.json) writeFileSync(values.json, JSON.stringify(out, null, 2));
  if (values.report) writeReport(values.report, 'In-process engine vs the same engine over HTTP', header, rows, [{ title: 'Throughput in process', column: 4, unit: 'tok/s' }], out);
  return 0;
}
