import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TokenizerPool,
  TokenizerPoolClosedError,
  TokenizerWorkerError,
} from '../../../core/tokenizer/pool.js';
import { Tokenizer } from '../../../core/tokenizer/tokenizer.js';
import type { ChatMessage } from '../../../core/tokenizer/tokenizer.js';

const WORDS = (
  'the model cache token request server engine batch queue memory layer prompt output stream ' +
  'network latency throughput scheduler prefix block eviction routing replica gateway kernel ' +
  'attention decoding sampling temperature quantization 你好 世界 模型 缓存 🎉 café naïve ' +
  'function return const let await async import export interface class extends'
).split(' ');

/** Deterministic pseudo-prose (mulberry32), varied enough that BPE's word cache does not trivialize it. */
function syntheticText(words: number, seed = 1): string {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    const r = rand();
    if (r < 0.08) out.push(String(Math.floor(rand() * 100000)));
    else if (r < 0.12) out.push(`${WORDS[Math.floor(rand() * WORDS.length)]}_${Math.floor(rand() * 1000)}`);
    else out.push(WORDS[Math.floor(rand() * WORDS.length)]);
    if (rand() < 0.1) out.push(rand() < 0.5 ? '.' : ',\n');
  }
  return out.join(' ');
}

/** The next turn of the event loop (past its check phase). */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const report = (line: string): void => {
  process.stdout.write(`[tokenizer-pool] ${line}\n`);
};

let tok: Tokenizer;
let pool: TokenizerPool;

beforeAll(async () => {
  tok = Tokenizer.qwenDefault();
  pool = new TokenizerPool({ threads: 2, tokenizer: tok });
  await pool.ready();
});

afterAll(async () => {
  await pool.close();
});

describe('TokenizerPool', () => {
  it('returns the same ids as the inline tokenizer for a ~100k-character prompt', async () => {
    const text = syntheticText(16000, 7);
    expect(text.length).toBeGreaterThan(100_000);
    const before = pool.stats().workerCalls;
    const ids = await pool.encode(text);
    expect(pool.stats().workerCalls).toBe(before + 1);
    expect(ids).toBeInstanceOf(Int32Array);
    expect(ids).toEqual(tok.encode(text));
    expect(await pool.decode(ids)).toBe(text);
  });

  it('renders and encodes a long chat in one trip, identical to inline', async () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You summarize documents.' },
      { role: 'user', content: syntheticText(3000, 3) },
    ];
    const before = pool.stats().workerCalls;
    const { prompt, ids } = await pool.encodeChat(messages, { chatTemplateKwargs: { enable_thinking: false } });
    expect(pool.stats().workerCalls).toBe(before + 1);
    const expected = tok.applyChatTemplate(messages, { chatTemplateKwargs: { enable_thinking: false } });
    expect(prompt).toBe(expected);
    expect(ids).toEqual(tok.encode(expected));
    expect(await pool.applyChatTemplate(messages)).toBe(tok.applyChatTemplate(messages));
  });

  it('handles short inputs inline without a worker trip', async () => {
    // Each in a turn of the loop of its own: the inline budget is per turn.
    await nextTurn();
    const before = pool.stats();
    expect(Array.from(await pool.encode('Hello world'))).toEqual([9707, 1879]);
    await nextTurn();
    expect(await pool.decode([9707, 1879])).toBe('Hello world');
    await nextTurn();
    const chat = await pool.encodeChat([{ role: 'user', content: 'hi' }]);
    expect(chat.prompt).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    const after = pool.stats();
    expect(after.workerCalls).toBe(before.workerCalls);
    expect(after.inlineCalls).toBe(before.inlineCalls + 3);
  });

  it("sends short inputs to a worker once the turn's inline budget is spent, and keeps them inline in the next turn", async () => {
    // A budget any call spends: the first short input of a turn is inline, the rest of the turn's go to the worker.
    const p = new TokenizerPool({ threads: 1, tokenizer: tok, inlineBudgetMs: 1e-9 });
    try {
      await p.ready();
      await nextTurn();
      const chats = Array.from({ length: 4 }, (_, i): ChatMessage[] => [{ role: 'user', content: `short chat ${i}` }]);
      const burst = await Promise.all(chats.map((m) => p.encodeChat(m)));
      expect(p.stats()).toMatchObject({ inlineCalls: 1, workerCalls: 3 });
      chats.forEach((m, i) => {
        const prompt = tok.applyChatTemplate(m);
        expect(burst[i]).toEqual({ prompt, ids: tok.encode(prompt) });
      });
      await nextTurn();
      expect(Array.from(await p.encode('Hello world'))).toEqual([9707, 1879]);
      expect(p.stats()).toMatchObject({ inlineCalls: 2, workerCalls: 3 });
    } finally {
      await p.close();
    }
  });

  it('keeps short inputs inline past the budget while no worker is up to take them', async () => {
    // Its worker is still loading the tokenizer: nothing over budget waits for it.
    const p = new TokenizerPool({ threads: 1, tokenizer: tok, inlineBudgetMs: 1e-9 });
    try {
      await nextTurn();
      const ids = await Promise.all([1, 2, 3].map((i) => p.encode(`not yet ${i}`)));
      expect(p.stats()).toMatchObject({ inlineCalls: 3, workerCalls: 0 });
      ids.forEach((got, i) => expect(got).toEqual(tok.encode(`not yet ${i + 1}`)));
    } finally {
      await p.close();
    }
  });

  it('keeps the event loop responsive while a worker encodes ~32k tokens', async () => {
    const text = syntheticText(17500, 11);
    const tokens = tok.encode(text).length;
    expect(tokens).toBeGreaterThan(30_000);

    // Inline, for comparison: the whole encode is one block of the event loop.
    const t0 = performance.now();
    tok.encode(text);
    const inlineMs = performance.now() - t0;

    const histogram = monitorEventLoopDelay({ resolution: 1 });
    let probes = 0;
    let last = performance.now();
    let maxGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      probes++;
    }, 1);
    histogram.enable();
    const t1 = performance.now();
    const ids = await pool.encode(text);
    const poolMs = performance.now() - t1;
    histogram.disable();
    clearInterval(timer);

    expect(ids.length).toBe(tokens);
    expect(probes).toBeGreaterThan(0);
    report(
      `${tokens} tokens: inline ${inlineMs.toFixed(1)} ms (${Math.round((tokens / inlineMs) * 1000)} tok/s, ` +
        `event loop blocked for all of it); pool ${poolMs.toFixed(1)} ms ` +
        `(${Math.round((tokens / poolMs) * 1000)} tok/s), ${probes} probes, max probe gap ${maxGap.toFixed(1)} ms, ` +
        `histogram max ${(histogram.max / 1e6).toFixed(1)} ms`,
    );
  });

  it('spreads concurrent work over the workers', async () => {
    const texts = [1, 2, 3, 4].map((seed) => syntheticText(2000, seed));
    const results = await Promise.all(texts.map((t) => pool.encode(t)));
    results.forEach((ids, i) => expect(ids).toEqual(tok.encode(texts[i])));
    expect(pool.stats().pending).toEqual([0, 0]);
  });
});

describe('TokenizerPool lifecycle', () => {
  it('rejects new and in-flight work once closed', async () => {
    const p = new TokenizerPool({ threads: 1, tokenizer: tok });
    const inFlight = p.encode(syntheticText(5000, 5));
    const closing = p.close();
    await expect(inFlight).rejects.toBeInstanceOf(TokenizerPoolClosedError);
    await closing;
    await expect(p.encode('short')).rejects.toThrow('TokenizerPool is closed');
    await expect(p.encode(syntheticText(5000, 5))).rejects.toBeInstanceOf(TokenizerPoolClosedError);
    await expect(p.encodeChat([{ role: 'user', content: 'hi' }])).rejects.toBeInstanceOf(TokenizerPoolClosedError);
    await p.close();
  });

  it('rejects the calls of a crashed worker and replaces it', async () => {
    const p = new TokenizerPool({ threads: 1, tokenizer: tok });
    try {
      await p.ready();
      const text = syntheticText(2000, 9);
      const crash = p.injectWorkerCrash(0);
      // Queued behind the crash on the same worker, so it is pending when the worker dies.
      const doomed = p.encode(text);
      await expect(doomed).rejects.toBeInstanceOf(TokenizerWorkerError);
      await expect(doomed).rejects.toThrow(/crashed/);
      await crash;
      expect(await p.encode(text)).toEqual(tok.encode(text));
      expect(p.stats().workerRestarts).toBe(1);
    } finally {
      await p.close();
    }
  });

  it('with threads: 0 runs everything inline', async () => {
    const p = new TokenizerPool({ threads: 0, tokenizer: tok });
    const text = syntheticText(2000, 4);
    expect(await p.encode(text)).toEqual(tok.encode(text));
    expect(p.stats().workerCalls).toBe(0);
    await p.close();
  });
});
