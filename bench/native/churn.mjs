// Engine churn for memory checkers: `valgrind --leak-check=full node bench/native/churn.mjs [N]`.
// Drives the addon directly (no TypeScript loader, so the checker sees only node and the addon):
// N requests through a real-clock engine with random cancellations, then a manual-clock engine,
// then close(); prints what is left (must be nothing).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Engine } = require('../../native/build/Release/switchyard_engine.node');
const n = Number(process.argv[2] ?? 2000);
const profile = {
  name: 'churn', blockSize: 16, numBlocks: 512, maxBatchSize: 32, maxNumTokens: 1024, chunkedPrefill: true,
  enablePrefixCaching: true, schedulerPolicy: 'max-utilization', stepBaseMs: 5, stepPerSeqMs: 0.05,
  stepPerPrefillTokenMs: 0.01, stepPerKvTokenMs: 0, maxModelLen: 4096, maxQueueSize: 0,
};
let seed = 7;
const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const prompt = (i) => Array.from({ length: 16 + Math.floor(random() * 200) }, (_, j) => (j < 48 ? 5 + (i % 4) : 100 + Math.floor(random() * 9000)));

const waiters = new Map();
const real = new Engine({ profile, timeScale: 500, kvEventBufferSize: 64 }, (batch) => {
  for (const r of batch) if (r.isFinal) waiters.get(r.requestId)?.();
});
const finals = [];
for (let i = 0; i < n; i++) {
  const id = real.enqueue({ inputTokenIds: prompt(i), maxTokens: 1 + Math.floor(random() * 24), streaming: random() < 0.5, endId: 2 });
  finals.push(new Promise((resolve) => waiters.set(id, resolve)));
  if (random() < 0.25) setTimeout(() => real.cancel(id), Math.floor(random() * 4));
  if (i % 100 === 99) { real.getLatestKvEvents(); real.getLatestIterationStats(); await new Promise((r) => setTimeout(r, 1)); }
}
await Promise.all(finals);
const realSnap = real.snapshot();
real.close();

const manual = new Engine({ profile, clock: 'manual', kvEventBufferSize: 64 });
for (let i = 0; i < n / 4; i++) {
  const id = manual.enqueue({ inputTokenIds: prompt(i), maxTokens: 8, streaming: true });
  if (i % 3 === 0) manual.cancel(id);
  manual.step();
}
while (manual.snapshot().running + manual.snapshot().waiting > 0) manual.step();
const manualSnap = manual.snapshot();
manual.close();
console.log(JSON.stringify({
  real: { running: realSnap.running, waiting: realSnap.waiting, usedBlocks: realSnap.usedBlocks, completed: realSnap.completed },
  manual: { running: manualSnap.running, waiting: manualSnap.waiting, usedBlocks: manualSnap.usedBlocks },
}));
