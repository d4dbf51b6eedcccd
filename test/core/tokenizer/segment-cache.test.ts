import { describe, expect, it } from 'vitest';
import { SegmentCache } from '../../../core/tokenizer/segment-cache.js';
import { Tokenizer } from '../../../core/tokenizer/tokenizer.js';

describe('SegmentCache: token ids cached by segment between added tokens', () => {
  const tokenizer = Tokenizer.qwenDefault();
  const system = 'You are a careful assistant.\n\n  Rules:\n1. Cite sources  \n2. 数字 1234567 and émojis 🚀\t\n'.repeat(40);
  const conversations = [
    [{ role: 'system' as const, content: system }, { role: 'user' as const, content: 'First question?' }],
    [{ role: 'system' as const, content: system }, { role: 'user' as const, content: '  leading spaces and a trailing newline\n' }],
    [{ role: 'system' as const, content: system }, { role: 'user' as const, content: 'q' }, { role: 'assistant' as const, content: '<think>\n\n</think>\n\nan answer' }, { role: 'user' as const, content: 'follow-up' }],
    [{ role: 'user' as const, content: 'text that mentions <|im_start|> and <|im_end|> literally, then more '.repeat(20) }],
  ];

  it('gives exactly the ids of the whole prompt, cold and cached', () => {
    const cache = new SegmentCache(tokenizer.addedTokenPattern, (t) => tokenizer.encode(t), 1 << 20, 16);
    expect(tokenizer.addedTokenPattern).toBeDefined();
    for (let pass = 0; pass < 2; pass++) {
      for (const messages of conversations) {
        const prompt = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
        expect(Array.from(cache.encodeText(prompt))).toEqual(Array.from(tokenizer.encode(prompt)));
      }
    }
    expect(cache.hits).toBeGreaterThan(0);
  });

  it('tokenizes a shared system prompt once', () => {
    let encoded = 0;
    const cache = new SegmentCache(tokenizer.addedTokenPattern, (t) => { encoded += t.length; return tokenizer.encode(t); });
    for (let i = 0; i < 5; i++) cache.encodeText(tokenizer.applyChatTemplate([{ role: 'system', content: system }, { role: 'user', content: `question ${i}` }], { addGenerationPrompt: true }));
    expect(encoded).toBeLessThan(system.length * 1.2);
    expect(cache.hits).toBe(4);
  });

  it('never lets a caller detach a cached entry, and stays within its bound', () => {
    const cache = new SegmentCache(tokenizer.addedTokenPattern, (t) => tokenizer.encode(t), 8000, 16);
    const text = `<|im_start|>system\n${'a b c '.repeat(200)}<|im_end|>`;
    const first = cache.encodeText(text);
    structuredClone(first.buffer, { transfer: [first.buffer] }); // what a worker's postMessage does
    expect(Array.from(cache.encodeText(text))).toEqual(Array.from(tokenizer.encode(text)));
    expect(cache.hits).toBe(1);
    for (let i = 0; i < 50; i++) cache.encodeText(`<|im_start|>user\n${`${i} words `.repeat(100)}`);
    expect(cache.heldChars).toBeLessThanOrEqual(8000);
  });
});

describe('TokenizerPool.encodeChatSegmented', () => {
  it('gives encodeChat\'s ids, and sends a worker only the text it has not seen', async () => {
    const { TokenizerPool } = await import('../../../core/tokenizer/pool.js');
    const pool = new TokenizerPool({ threads: 1 });
    try {
      await pool.ready();
      const system = 'A long shared system prompt about caches, batches and queues. '.repeat(200);
      for (let i = 0; i < 3; i++) {
        const messages = [{ role: 'system' as const, content: system }, { role: 'user' as const, content: `question ${i}: ${'why? '.repeat(i * 300)}` }];
        const before = pool.stats().workerCalls;
        const segmented = await pool.encodeChatSegmented(messages);
        const whole = await pool.encodeChat(messages);
        expect(Array.from(segmented.ids)).toEqual(Array.from(whole.ids));
        expect(segmented.prompt).toBe(whole.prompt);
        // The first call tokenizes the system prompt in the worker; later ones only a long question.
        if (i === 1) expect(pool.stats().workerCalls - before).toBe(1); // encodeChat's own call only
      }
    } finally {
      await pool.close();
    }
  });
});
