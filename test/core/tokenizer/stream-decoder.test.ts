import { beforeAll, describe, expect, it } from 'vitest';
import { StreamDecoder } from '../../../core/tokenizer/stream-decoder.js';
import type { SyncDecoder } from '../../../core/tokenizer/stream-decoder.js';
import { Tokenizer } from '../../../core/tokenizer/tokenizer.js';
import type { DecodeOptions } from '../../../core/tokenizer/tokenizer.js';

const REPLACEMENT = '\uFFFD';
// CJK, full-width punctuation, emoji with skin tone and ZWJ family, astral math letters, a rare
// CJK character: all split over several byte-level tokens.
const TEXT = '你好，世界！流式解码测试 🎉👍🏽 Hello 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 café 龘 👨‍👩‍👧 end.';

let tok: Tokenizer;
beforeAll(() => {
  tok = Tokenizer.qwenDefault();
});

/** Records how many ids each decode call sees, to check the work per push stays bounded. */
class CountingDecoder implements SyncDecoder {
  maxIdsPerCall = 0;
  calls = 0;
  constructor(private readonly inner: Tokenizer) {}
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string {
    this.calls++;
    this.maxIdsPerCall = Math.max(this.maxIdsPerCall, ids.length);
    return this.inner.decode(ids, opts);
  }
}

describe('StreamDecoder', () => {
  it('one token at a time equals the full decode and never emits half a character', () => {
    const ids = tok.encode(TEXT);
    // The test is only meaningful if some tokens are partial characters on their own.
    const partial = Array.from(ids).filter((id) => tok.decode([id]).includes(REPLACEMENT));
    expect(partial.length).toBeGreaterThan(3);

    const dec = new StreamDecoder(tok);
    const pieces: string[] = [];
    let heldBack = 0;
    for (const id of ids) {
      const piece = dec.push([id]);
      if (piece === '') heldBack++;
      expect(piece).not.toContain(REPLACEMENT);
      pieces.push(piece);
    }
    pieces.push(dec.flush());
    expect(heldBack).toBeGreaterThan(0);
    expect(pieces.join('')).toBe(tok.decode(ids));
    expect(pieces.join('')).toBe(TEXT);
  });

  it('handles multi-token pushes and special tokens', () => {
    const ids = tok.encode(`<|im_start|>assistant\n${TEXT}<|im_end|>`);
    for (const skipSpecialTokens of [false, true]) {
      const dec = new StreamDecoder(tok, { skipSpecialTokens });
      let out = '';
      for (let i = 0; i < ids.length; i += 3) {
        const piece = dec.push(ids.subarray(i, i + 3));
        expect(piece).not.toContain(REPLACEMENT);
        out += piece;
      }
      out += dec.flush();
      expect(out).toBe(tok.decode(ids, { skipSpecialTokens }));
    }
  });

  it('does O(window) work per push, not O(tokens so far)', () => {
    const ids = tok.encode(TEXT.repeat(40));
    expect(ids.length).toBeGreaterThan(1000);
    const counting = new CountingDecoder(tok);
    const dec = new StreamDecoder(counting);
    let out = '';
    for (const id of ids) out += dec.push([id]);
    out += dec.flush();
    expect(out).toBe(TEXT.repeat(40));
    // Window = 5 context tokens + at most a few pending bytes of one character.
    expect(counting.maxIdsPerCall).toBeLessThanOrEqual(12);
    expect(counting.calls).toBeLessThanOrEqual(2 * ids.length + 2);
  });

  it('flush emits an incomplete tail as-is and resets', () => {
    const ids = tok.encode('龘');
    expect(ids.length).toBeGreaterThan(1);
    const dec = new StreamDecoder(tok);
    expect(dec.push(ids.subarray(0, 1))).toBe('');
    expect(dec.pendingTokens).toBe(1);
    expect(dec.flush()).toContain(REPLACEMENT);
    expect(dec.pendingTokens).toBe(0);
    expect(dec.flush()).toBe('');
    expect(dec.push(tok.encode(' ok'))).toBe(' ok');
  });

  it('gives up holding back after maxHeldTokens of invalid UTF-8', () => {
    const lead = tok.encode('龘')[0];
    const dec = new StreamDecoder(tok, { maxHeldTokens: 4 });
    const out: string[] = [];
    for (let i = 0; i < 4; i++) out.push(dec.push([lead]));
    expect(out.slice(0, 3)).toEqual(['', '', '']);
    expect(out[3]).toContain(REPLACEMENT);
  });

  it('uses context tokens without emitting them', () => {
    const context = tok.encode('Prompt tail:');
    const dec = new StreamDecoder(tok, { context });
    expect(dec.push(tok.encode(' answer'))).toBe(' answer');
    dec.reset();
    expect(dec.push(tok.encode('again'))).toBe('again');
  });
});
