import { describe, expect, it } from 'vitest';
import { TokenizerPool } from '../../../core/tokenizer/pool.js';
import { qwenDefaultPaths, Tokenizer } from '../../../core/tokenizer/tokenizer.js';
import { validateTrtllmOptions } from '../../../plugins/trtllm/options.js';

// grps-trtllm's force_tokens_dict: text ↔ id pairs that bypass the tokenizer's model.
const FORCED = [{ token: '[[ENV]]', id: 151_700 }, { token: '[[ENV]]+', id: 151_701 }];
const paths = qwenDefaultPaths();
const plain = Tokenizer.qwenDefault();
const forced = Tokenizer.fromFiles(paths.tokenizerJsonPath, paths.tokenizerConfigPath, FORCED);

describe('forced tokens', () => {
  it('encode maps each forced text to its id and the text between to the tokenizer', () => {
    const ids = Array.from(forced.encode('Hello [[ENV]] world[[ENV]]+!'));
    expect(ids).toEqual([
      ...plain.encode('Hello '), 151_700, ...plain.encode(' world'), 151_701, ...plain.encode('!'),
    ]);
    // The longer forced text wins where both match, and a text without any is unchanged.
    expect(Array.from(forced.encode('plain text only'))).toEqual(Array.from(plain.encode('plain text only')));
  });

  it('decode writes the forced text back, so a round trip is exact', () => {
    const text = 'a[[ENV]]b [[ENV]]+ 你好 <|im_end|>';
    expect(forced.decode(forced.encode(text))).toBe(text);
    // skip_special_tokens drops the tokenizer's specials, not forced tokens that are not special.
    expect(forced.decode(forced.encode(text), { skipSpecialTokens: true })).toBe('a[[ENV]]b [[ENV]]+ 你好 ');
    expect(forced.tokenId('[[ENV]]')).toBe(151_700);
  });

  it('reach the pool workers as well as the inline tokenizer', async () => {
    const pool = new TokenizerPool({ threads: 1, inlineBelowChars: 10, forceTokens: FORCED });
    try {
      const long = `${'word '.repeat(50)}[[ENV]]`; // long enough to go to the worker
      expect(Array.from(await pool.encode(long))).toEqual(Array.from(forced.encode(long)));
      expect(pool.stats().workerCalls).toBeGreaterThan(0);
    } finally {
      await pool.close();
    }
  });

  it('refuse a text or id forced two ways, and bad config', () => {
    expect(() => Tokenizer.fromFiles(paths.tokenizerJsonPath, paths.tokenizerConfigPath, [{ token: 'x', id: 1 }, { token: 'x', id: 2 }])).toThrow(/both 1 and 2/);
    expect(() => Tokenizer.fromFiles(paths.tokenizerJsonPath, paths.tokenizerConfigPath, [{ token: 'x', id: 1 }, { token: 'y', id: 1 }])).toThrow(/id 1 is forced/);
    expect(validateTrtllmOptions({ profile: 'a10-qwen2.5-7b-trtllm', force_tokens: [{ token: '', id: 3 }] })).toEqual([
      'force_tokens: expected a list of { token: non-empty text, id: token id }',
    ]);
    expect(validateTrtllmOptions({ profile: 'a10-qwen2.5-7b-trtllm', force_tokens: FORCED })).toEqual([]);
  });
});

