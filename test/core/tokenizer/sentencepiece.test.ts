import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../../core/tokenizer/tokenizer.js';
import { validateTrtllmOptions } from '../../../plugins/trtllm/options.js';

// A SentencePiece-style tokenizer in its tokenizer.json form (Unigram model, Metaspace
// pre-tokenizer and decoder, `</s>` appended by the post-processor) — the shape transformers saves
// for Llama-2, T5 and other SentencePiece models. A tiny vocabulary written for this test.
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/unigram-tokenizer');
const tok = Tokenizer.fromFiles(path.join(dir, 'tokenizer.json'), path.join(dir, 'tokenizer_config.json'));

describe('SentencePiece tokenizers (tokenizer.json form)', () => {
  it('encode picks the most likely pieces, with ▁ marking word starts, and decode restores the text', () => {
    const ids = Array.from(tok.encode('hello world, the wor!'));
    // ▁hello ▁world , ▁the ▁ wor !  (ids in the fixture's vocabulary order)
    expect(ids).toEqual([4, 5, 61, 6, 3, 8, 62]);
    expect(tok.decode(ids)).toBe('hello world, the wor!');
  });

  it('frames with the post-processor only when asked, and knows its end token', () => {
    expect(Array.from(tok.encode('hello', { addSpecialTokens: true }))).toEqual([4, 2]);
    expect(Array.from(tok.encode('hello'))).toEqual([4]);
    expect(tok.eosTokenId).toBe(2);
    expect(tok.decode([4, 2], { skipSpecialTokens: true })).toBe('hello');
  });

  it('a raw sentencepiece .model file is refused at config load with what to use instead', () => {
    expect(validateTrtllmOptions({ profile: 'a10-qwen2.5-7b-trtllm', tokenizer_json: '/models/llama/tokenizer.model' })).toEqual([
      expect.stringMatching(/^tokenizer_json: .*tokenizer\.model is a SentencePiece model file.*tokenizer\.json/),
    ]);
  });
});
