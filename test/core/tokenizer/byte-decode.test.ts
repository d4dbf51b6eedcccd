import { readFileSync } from 'node:fs';
import { TokenizerLoader } from '@lenml/tokenizers';
import { describe, expect, it } from 'vitest';
import { ByteTableDecoder } from '../../../core/tokenizer/byte-decode.js';
import { StreamDecoder } from '../../../core/tokenizer/stream-decoder.js';
import { Tokenizer, qwenDefaultPaths } from '../../../core/tokenizer/tokenizer.js';

// The table decoder against the library's own decode, on the real Qwen3 vocabulary (151,669 ids:
// byte-level BPE, 26 added tokens): every id alone, and random runs that cut characters apart and
// mix in added and special tokens, with and without skipping special tokens.
const paths = qwenDefaultPaths();
const library = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(paths.tokenizerJsonPath, 'utf8')),
  tokenizerConfig: JSON.parse(readFileSync(paths.tokenizerConfigPath, 'utf8')),
});
const tok = Tokenizer.qwenDefault();
const reference = (ids: number[], skip: boolean) => library.decode(ids, { skip_special_tokens: skip });

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('decoding byte-level BPE by table', () => {
  it('gives the library\'s text for every id of the vocabulary, special tokens kept and skipped', () => {
    const differ: number[] = [];
    for (let id = 0; id < tok.vocabSize; id++) {
      if (tok.decode([id]) !== reference([id], false) || tok.decode([id], { skipSpecialTokens: true }) !== reference([id], true)) differ.push(id);
    }
    expect(differ).toEqual([]);
  });

  it('gives the library\'s text for random runs that split characters and mix in added tokens', () => {
    const random = lcg(7);
    const added = [151643, 151644, 151645, 151657, 151658, 151665];
    // Multi-byte text: its tokens split characters (a CJK character or an emoji over 2-4 tokens).
    const multiByte = Array.from(tok.encode('日本語のテキスト 🎉🚀 naïve café — ∑∫ 한국어'));
    let checked = 0;
    for (let run = 0; run < 3000; run++) {
      const len = 1 + Math.floor(random() * 12);
      const ids: number[] = [];
      for (let i = 0; i < len; i++) {
        const r = random();
        ids.push(r < 0.15 ? added[Math.floor(random() * added.length)]
          : r < 0.6 ? multiByte[Math.floor(random() * multiByte.length)]
            : Math.floor(random() * 151643));
      }
      for (const skip of [false, true]) {
        expect(tok.decode(ids, { skipSpecialTokens: skip }), JSON.stringify(ids)).toBe(reference(ids, skip));
        checked++;
      }
    }
    expect(checked).toBe(6000);
  });

  it('builds its tables ahead of first use (prepareForServing) with the same results', () => {
    const prepared = Tokenizer.qwenDefault();
    prepared.prepareForServing();
    const ids = Array.from(tok.encode('日本語 and 🎉, then ümlauts<|im_end|>'));
    expect(prepared.decode(ids)).toBe(reference(ids, false));
    expect(prepared.decode(ids, { skipSpecialTokens: true })).toBe(reference(ids, true));
    expect(Array.from(prepared.tokenByteLengths(ids)!)).toEqual(Array.from(tok.tokenByteLengths(ids)!));
    expect(Array.from(prepared.tokenByteLengths(ids)!).reduce((a, b) => a + b, 0)).toBe(Buffer.byteLength('日本語 and 🎉, then ümlauts<|im_end|>'));
  });

  it('streams the same text as decoding the whole answer at once', () => {
    const text = 'Plain words, then 日本語 and 🎉 emoji, then ümlauts.';
    const ids = Array.from(tok.encode(text));
    const d = new StreamDecoder(tok);
    let out = '';
    for (const id of ids) out += d.push([id]);
    out += d.flush();
    expect(out).toBe(text);
  });

  it('leaves what it cannot decode to the library: an id outside the vocabulary', () => {
    const table = new ByteTableDecoder(4, { vocab: ['a', 'Ġb'], added: [{ id: 3, content: '<x>' }], special: ['<x>'] });
    expect(table.decode([0, 1, 3], false)).toBe('a b<x>');
    expect(table.decode([0, 1, 3], true)).toBe('a b');
    expect(table.decode([2], false)).toBeUndefined();
    expect(table.decode([9], false)).toBeUndefined();
    expect(table.decode([-1], false)).toBeUndefined();
  });
});
