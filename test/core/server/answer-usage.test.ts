import { describe, expect, it } from 'vitest';
import { readUsage } from '../../../core/server/answer-usage.js';

describe('readUsage', () => {
  const answer = (content: string, usage: string) => `{"id":"x","choices":[{"message":{"content":${JSON.stringify(content)}}}],"usage":${usage}}`;

  it('reads the same usage from the text and from its bytes, whatever characters come before it', () => {
    for (const content of ['plain', 'héllo wörld ✓ 日本語 🚀', '"usage": {"prompt_tokens": 99}', '{{{ }}}']) {
      const text = answer(content, '{ "prompt_tokens": 12, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 8} }');
      const fromText = readUsage(text);
      expect(fromText).toEqual({ prompt_tokens: 12, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 8 } });
      expect(readUsage(Buffer.from(text))).toEqual(fromText);
    }
  });

  it('reads none where usage is null, absent or cut off; Responses names become chat names', () => {
    for (const text of [answer('a', 'null'), '{"choices":[]}', '{"usage":{"prompt_tokens":1']) {
      expect(readUsage(text)).toBeUndefined();
      expect(readUsage(Buffer.from(text))).toBeUndefined();
    }
    const responses = Buffer.from('{"output":[],"usage":\n\t{"input_tokens":5,"output_tokens":2,"input_tokens_details":{"cached_tokens":4}}}');
    expect(readUsage(responses)).toEqual({ prompt_tokens: 5, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 4 } });
  });
});
