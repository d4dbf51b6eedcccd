import { describe, expect, it } from 'vitest';
import { canonicalPrompt, prefixKey, promptText, RENDER_MAX_MESSAGES } from '../../../core/routing/prefix-key.js';
import { ChatTemplate, qwenDefaultPaths } from '../../../core/tokenizer/tokenizer.js';
import { BackendPrefixIndex } from '../../../core/routing/prefix-index.js';

describe('prefix key', () => {
  const system = { role: 'system', content: 'S'.repeat(2000) };
  it('is stable when a conversation grows by a turn', () => {
    const a = prefixKey({ messages: [system, { role: 'user', content: 'hello there '.repeat(40) }] });
    const b = prefixKey({ messages: [system, { role: 'user', content: 'hello there '.repeat(40) }, { role: 'assistant', content: 'an answer '.repeat(50) }, { role: 'user', content: 'more' }] });
    expect(b.hashes.slice(0, a.hashes.length)).toEqual(a.hashes);
    expect(b.hashes.length).toBeGreaterThan(a.hashes.length);
  });

  it('differs when anything before a chunk differs: tools, roles, earlier text', () => {
    const base = { messages: [system, { role: 'user', content: 'x'.repeat(600) }] };
    const withTools = { ...base, tools: [{ type: 'function', function: { name: 'f' } }] };
    expect(prefixKey(withTools).hashes[0]).not.toBe(prefixKey(base).hashes[0]);
    const otherRole = { messages: [{ ...system, role: 'developer' }, base.messages[1]] };
    expect(prefixKey(otherRole).hashes[0]).not.toBe(prefixKey(base).hashes[0]);
  });

  it('does not depend on JSON field order or escaping, only on the conversation', () => {
    const a = canonicalPrompt({ messages: [{ role: 'user', content: 'a "quoted" line\n' }], temperature: 0 });
    const b = canonicalPrompt({ temperature: 1, messages: [{ content: 'a "quoted" line\n', role: 'user' }] });
    expect(a).toBe(b);
    expect(canonicalPrompt({ messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] })).toBe(canonicalPrompt({ messages: [{ role: 'user', content: 'hi' }] }));
  });

  it('hashes full chunks only', () => {
    const k = prefixKey({ prompt: 'a'.repeat(1000) }, 256);
    expect(k.hashes.length).toBe(3);
    expect(k.bytes).toBe(1000);
  });
});

describe('backend prefix index', () => {
  it('matches leading chunks, evicts tails before heads under pressure', () => {
    const index = new BackendPrefixIndex(6);
    index.insert([1, 2, 3, 4]);
    expect(index.match([1, 2, 3, 9])).toBe(3);
    index.insert([10, 11, 12]);
    // Capacity 6: the oldest entries go first, and within a chain the tail is older than the head.
    expect(index.size).toBe(6);
    expect(index.match([1, 2, 3, 4])).toBe(3);
    expect(index.match([10, 11, 12])).toBe(3);
  });
});

describe('canonical prompt of bodies no schema checked', () => {
  it('keys an embeddings body whose messages hold null and numbers instead of throwing (fuzz case 1509: a 500)', () => {
    expect(canonicalPrompt({ input: '', messages: [{ role: 'user', content: 'x' }, null, 3] })).toBe('\u001euser\u001fx\u001enull\u001e3');
  });
});

describe('prefix key over the rendered chat template (route tokenizer_config)', () => {
  const template = ChatTemplate.fromConfigFile(qwenDefaultPaths().tokenizerConfigPath);
  const messages = [{ role: 'system', content: 'You are terse. '.repeat(100) }, { role: 'user', content: 'hello' }];

  it('keys the text the engine will tokenize, tools and template kwargs included', () => {
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }];
    const key = prefixKey({ messages, tools }, 256, template);
    expect(key.bytes).toBe(Buffer.byteLength(template.render(messages, { tools })));
    expect(key.hashes).not.toEqual(prefixKey({ messages, tools }, 256).hashes);
    expect(promptText({ messages, chat_template_kwargs: { enable_thinking: false } }, template))
      .toBe(template.render(messages, { chatTemplateKwargs: { enable_thinking: false } }));
  });

  it('falls back to the canonical form for what the template cannot render, and for completions', () => {
    // A malformed tool_calls (the engine would refuse it too) makes the template throw.
    const odd = { messages: [{ role: 'user', content: 'x', tool_calls: 5 }] };
    expect(() => template.render(odd.messages as never)).toThrow();
    expect(promptText(odd, template)).toBe(canonicalPrompt(odd));
    expect(promptText({ prompt: 'plain completion' }, template)).toBe('plain completion');
  });

  it('keys a conversation of more than 256 messages on the canonical form: no render of 100k messages on the event loop', () => {
    const turns = (n: number) => ({ messages: Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i}` })) });
    expect(promptText(turns(RENDER_MAX_MESSAGES), template)).toContain('<|im_start|>');
    const big = turns(100_000);
    expect(promptText(big, template)).toBe(canonicalPrompt(big));
  });
});
