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

describe('Rendering long contents spliced in (no whole prompt built)', () => {
  const tokenizer = Tokenizer.qwenDefault();
  const long = (seed: number) => `Section ${seed}. ${'Blocks of cached keys, a queue, a batch; 数字 🚀 and more words. '.repeat(120)}End ${seed}.`;
  const conversations = [
    [{ role: 'system' as const, content: long(1) }, { role: 'user' as const, content: 'short question' }],
    [{ role: 'system' as const, content: long(1) }, { role: 'user' as const, content: long(2) }],
    // Multi-turn with reasoning in the history: Qwen3's template inspects these contents.
    [{ role: 'system' as const, content: long(1) }, { role: 'user' as const, content: long(3) }, { role: 'assistant' as const, content: `<think>\nhmm\n</think>\n\n${long(4)}` },
      { role: 'user' as const, content: `<tool_response>${long(5)}</tool_response>` }, { role: 'user' as const, content: `  ${long(6)}\n` }],
  ];

  it('gives the whole render\'s text, and the same segments as cutting that text', () => {
    const cache = new SegmentCache(tokenizer.addedTokenPattern, (t) => tokenizer.encode(t));
    for (const messages of conversations) {
      const whole = tokenizer.applyChatTemplate(messages, {});
      const pieces = tokenizer.applyChatTemplateSpliced(messages, {}, 4096);
      expect(pieces).toBeDefined();
      expect(pieces!.join('')).toBe(whole);
      // Only contents a template cannot tell from a placeholder are spliced: not the one with
      // whitespace at its ends, nor those holding special tokens.
      expect(pieces!.filter((_, i) => i % 2 === 1).every((c) => !c.includes('<') && c.trim() === c)).toBe(true);
      const texts = cache.splitPieces(pieces!).map((s) => s.head + s.body + s.tail);
      expect(texts).toEqual(cache.split(whole).map((s) => s.body));
    }
  });

  it('looks a spliced segment up by its content and the text around it', () => {
    const cache = new SegmentCache(tokenizer.addedTokenPattern, (t) => tokenizer.encode(t));
    const messages = conversations[0];
    const segments = cache.splitPieces(tokenizer.applyChatTemplateSpliced(messages, {}, 4096)!);
    const system = segments.find((s) => s.body === long(1))!;
    expect(system.head).toBe('<|im_start|>system\n');
    cache.set(system, Int32Array.of(1, 2, 3));
    expect(cache.get({ ...system, body: `${long(1)}` })).toEqual(Int32Array.of(1, 2, 3));
    // The same content under another role is another segment.
    expect(cache.get({ ...system, head: '<|im_start|>user\n' })).toBeUndefined();
    // And the whole text as one body is the same segment only when nothing is around it.
    expect(cache.get({ head: '', body: system.head + system.body, tail: '' })).toBeUndefined();
  });

  it('TokenizerPool: a template that copies contents verbatim is spliced; one that changes them is caught and rendered whole', async () => {
    const { TokenizerPool } = await import('../../../core/tokenizer/pool.js');
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { qwenDefaultPaths } = await import('../../../core/tokenizer/tokenizer.js');
    const paths = qwenDefaultPaths();
    const dir = mkdtempSync(join(tmpdir(), 'sy-splice-'));
    const config = JSON.parse(readFileSync(paths.tokenizerConfigPath, 'utf8')) as Record<string, unknown>;
    // Replaces one word in every content: a placeholder would not show it.
    config.chat_template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content | replace('queue', 'QUEUE') }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n";
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    const verbatim = new TokenizerPool({ threads: 0 });
    const rewriting = new TokenizerPool({ threads: 0, tokenizerJsonPath: paths.tokenizerJsonPath, tokenizerConfigPath: join(dir, 'tokenizer_config.json') });
    try {
      for (const pool of [verbatim, rewriting]) {
        expect(pool.stats().splicing).toBe('unchecked');
        for (const messages of conversations) {
          const segmented = await pool.encodeChatSegmented(messages);
          const whole = await pool.encodeChat(messages);
          expect(segmented.prompt).toBe(whole.prompt);
          expect(Array.from(segmented.ids)).toEqual(Array.from(whole.ids));
        }
      }
      expect(verbatim.stats().splicing).toBe('verified');
      expect(rewriting.stats().splicing).toBe('off');
      expect(rewriting.tokenizer.applyChatTemplate(conversations[0], {})).toContain('QUEUE');
    } finally {
      await verbatim.close();
      await rewriting.close();
    }
  });
});
