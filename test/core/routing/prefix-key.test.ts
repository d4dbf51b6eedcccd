import { describe, expect, it } from 'vitest';
import { canonicalPrompt, prefixKey } from '../../../core/routing/prefix-key.js';
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
