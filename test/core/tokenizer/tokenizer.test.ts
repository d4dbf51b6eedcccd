import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChatTemplate, Tokenizer, qwenDefaultPaths } from '../../../core/tokenizer/tokenizer.js';
import type { ChatMessage } from '../../../core/tokenizer/tokenizer.js';
import { OUTPUT_POOL_WORDS, buildOutputTokenPool } from '../../../native/word-pool.js';

const IM_START = 151644;
const IM_END = 151645;
const ENDOFTEXT = 151643;

let tok: Tokenizer;
let vocab: Record<string, number>;

beforeAll(() => {
  tok = Tokenizer.qwenDefault();
  // The ground truth for ids: the vocabulary in the shipped tokenizer.json itself.
  const json: unknown = JSON.parse(readFileSync(qwenDefaultPaths().tokenizerJsonPath, 'utf8'));
  const model = (json as { model: { vocab: Record<string, number> } }).model;
  vocab = model.vocab;
});

const count = (ids: Int32Array, id: number): number => ids.filter((x) => x === id).length;

describe('Tokenizer encode/decode', () => {
  it('encodes known strings to the ids in tokenizer.json', () => {
    // 'Ġ' is byte-level BPE's rendering of a leading space.
    expect(Array.from(tok.encode('Hello world'))).toEqual([vocab['Hello'], vocab['Ġworld']]);
    expect(Array.from(tok.encode('Hello world'))).toEqual([9707, 1879]);
    expect(tok.encode(' token')).toEqual(Int32Array.from([vocab['Ġtoken']]));
    expect(tok.encode('The quick brown fox jumps over the lazy dog.').length).toBe(10);
    expect(tok.encode('你好，世界！').length).toBe(4);
    // Qwen splits numbers into single digits.
    expect(tok.encode('12345').length).toBe(5);
    expect(tok.encode('')).toEqual(new Int32Array(0));
    expect(tok.encode('x')).toBeInstanceOf(Int32Array);
  });

  it('exposes the special token ids', () => {
    expect(tok.eosTokenId).toBe(IM_END);
    expect(tok.tokenId('<|im_start|>')).toBe(IM_START);
    expect(tok.tokenId('<|im_end|>')).toBe(IM_END);
    expect(tok.tokenId('<|endoftext|>')).toBe(ENDOFTEXT);
    expect(tok.tokenId('Ġthe')).toBe(vocab['Ġthe']);
    expect(tok.tokenId('no such token at all')).toBeUndefined();
    expect(tok.specialTokenIds.has(IM_START)).toBe(true);
    expect(tok.specialTokenIds.has(ENDOFTEXT)).toBe(true);
    // <think> is an added token but not a special one: skip_special_tokens keeps it.
    expect(tok.specialTokenIds.has(tok.tokenId('<think>') ?? -1)).toBe(false);
    expect(tok.vocabSize).toBe(151669);
  });

  it('encodes special tokens written in the text as single ids', () => {
    const ids = tok.encode('<|im_start|>user\nhi<|im_end|><|endoftext|>');
    expect(Array.from(ids)).toEqual([IM_START, vocab['user'], vocab['Ċ'], vocab['hi'], IM_END, ENDOFTEXT]);
  });

  it('round-trips text, with and without special tokens', () => {
    const text = 'Mixed: café, 你好世界, emoji 🎉👍🏽, code `x => x * 2`\n\ttabs  and  spaces.';
    expect(tok.decode(tok.encode(text))).toBe(text);
    const prompt = '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n';
    const ids = tok.encode(prompt);
    expect(tok.decode(ids)).toBe(prompt);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('system\nBe brief.\nuser\nHi!\n');
    expect(tok.decode([])).toBe('');
    expect(tok.decode([IM_END], { skipSpecialTokens: true })).toBe('');
  });
});

describe('Tokenizer.applyChatTemplate (Qwen3 template via @huggingface/jinja)', () => {
  const conversation: ChatMessage[] = [
    { role: 'system', content: 'You are helpful.' },
    { role: 'user', content: 'What is 2+2?' },
  ];

  it('renders system + user as ChatML with the generation prompt', () => {
    const prompt = tok.applyChatTemplate(conversation);
    expect(prompt).toBe(
      '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n',
    );
    const ids = tok.encode(prompt);
    expect(ids[0]).toBe(IM_START);
    expect(count(ids, IM_START)).toBe(3);
    expect(count(ids, IM_END)).toBe(2);
    expect(Array.from(ids.slice(-3))).toEqual([IM_START, vocab['assistant'], vocab['Ċ']]);
  });

  it('omits the assistant header when addGenerationPrompt is false', () => {
    const prompt = tok.applyChatTemplate(conversation, { addGenerationPrompt: false });
    expect(prompt.endsWith('What is 2+2?<|im_end|>\n')).toBe(true);
    expect(prompt).not.toContain('assistant');
  });

  it('passes chat_template_kwargs: enable_thinking=false pre-fills an empty think block', () => {
    const off = tok.applyChatTemplate(conversation, { chatTemplateKwargs: { enable_thinking: false } });
    expect(off.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    const on = tok.applyChatTemplate(conversation, { chatTemplateKwargs: { enable_thinking: true } });
    expect(on.endsWith('<|im_start|>assistant\n')).toBe(true);
  });

  it('renders tools into the system turn', () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather for a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    ];
    const prompt = tok.applyChatTemplate(conversation, { tools });
    expect(prompt.startsWith('<|im_start|>system\nYou are helpful.\n\n# Tools\n')).toBe(true);
    expect(prompt).toContain(
      '<tools>\n{"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city", ' +
        '"parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}\n</tools>',
    );
    expect(prompt.endsWith('<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
    // An empty tools list renders exactly like no tools.
    expect(tok.applyChatTemplate(conversation, { tools: [] })).toBe(tok.applyChatTemplate(conversation));
  });

  it('renders tool calls with null content and tool results', () => {
    const prompt = tok.applyChatTemplate([
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
    ]);
    expect(prompt).toBe(
      '<|im_start|>user\nWeather in Paris?<|im_end|>\n' +
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n' +
        '<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
  });

  it('joins text parts of array content and drops reasoning of past turns', () => {
    const prompt = tok.applyChatTemplate([
      { role: 'user', content: [{ type: 'text', text: 'part one' }, { type: 'image_url' }, { type: 'text', text: 'part two' }] },
      { role: 'assistant', content: 'Four.', reasoning_content: 'Two plus two.' },
      { role: 'user', content: 'Thanks' },
    ]);
    expect(prompt).toContain('<|im_start|>user\npart one\npart two<|im_end|>');
    // Qwen3 keeps reasoning only for turns after the last user query.
    expect(prompt).toContain('<|im_start|>assistant\nFour.<|im_end|>');
    expect(prompt).not.toContain('Two plus two');
  });
});

describe('buildOutputTokenPool', () => {
  it('holds single-token words plus "." and "," and decodes to readable words', () => {
    const pool = buildOutputTokenPool(tok);
    expect(pool.length).toBeGreaterThanOrEqual(250);
    expect(pool.length).toBeLessThanOrEqual(OUTPUT_POOL_WORDS.length + 2);
    expect(new Set(pool).size).toBe(pool.length);
    expect(Array.from(pool)).toContain(vocab['Ġthe']);
    expect(Array.from(pool)).toContain(vocab['Ġmodel']);
    expect(Array.from(pool.slice(-2))).toEqual([vocab['.'], vocab[',']]);
    for (const id of pool.slice(0, -2)) expect(tok.decode([id])).toMatch(/^ [a-z]+$/);
    expect(buildOutputTokenPool(tok)).toEqual(pool);
  });
});

describe('ChatTemplate rendering', () => {
  it("renders without stack traces, and leaves the process's stack-trace limit as it was, also when the template raises", () => {
    const limit = Error.stackTraceLimit;
    const t = new ChatTemplate("{% if tools is defined %}T{% endif %}{% for m in messages %}{% if m.role == 'bad' %}{{ raise_exception('no bad roles') }}{% endif %}{{ m.content }}{% endfor %}");
    expect(t.render([{ role: 'user', content: 'hi' }])).toBe('hi');
    expect(Error.stackTraceLimit).toBe(limit);
    let seen: number | undefined;
    const probe = { chatTemplateKwargs: { probe: () => { seen = Error.stackTraceLimit; return ''; } } };
    expect(new ChatTemplate('{{ probe() }}{{ messages[0].content }}').render([{ role: 'user', content: 'hi' }], probe)).toBe('hi');
    expect(seen).toBe(0);
    expect(Error.stackTraceLimit).toBe(limit);
    let raised: unknown;
    try {
      t.render([{ role: 'bad', content: 'x' }] as ChatMessage[]);
    } catch (err) {
      raised = err;
    }
    expect((raised as Error).message).toContain('no bad roles');
    // The error that leaves the render has a stack, from the render's caller.
    expect((raised as Error).stack).toContain('tokenizer.test.ts');
    expect(Error.stackTraceLimit).toBe(limit);
  });
});
