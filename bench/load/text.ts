/**
 * Deterministic filler prose for workloads: the same seed gives the same text, and
 * `textWithTokens` trims it to an exact token count under the model's tokenizer, so a workload's
 * prompt lengths are those the table or the flag asked for.
 */
import type { Tokenizer } from '../../core/tokenizer/tokenizer.js';

const WORDS = (
  'the a of and to in is that for on with as by at from this it be are was an or which has have ' +
  'not but its their more can also than other into been were one all new first two after most such ' +
  'system engine cache model token request server memory latency throughput batch prefix block queue ' +
  'river city market history council harbour railway bridge garden library season winter summer ' +
  'people village country century region island mountain valley coast north south east west ' +
  'report study result method design network signal process value power energy water light ' +
  'early later during between under over across around within without against toward'
).split(' ');

function rng(seed: number): () => number {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

/** About `words` words of sentence-shaped text, deterministic in `seed`. */
export function prose(words: number, seed: number): string {
  const next = rng(seed);
  const out: string[] = [];
  let sentence = 0;
  for (let i = 0; i < words; i++) {
    let w = WORDS[Math.floor(next() * WORDS.length)];
    if (sentence === 0) w = w[0].toUpperCase() + w.slice(1);
    sentence++;
    if (sentence > 8 && next() < 0.15) {
      w += '.';
      sentence = 0;
    }
    out.push(w);
  }
  return out.join(' ') + '.';
}

/** Prose of exactly `tokens` tokens (no special tokens) under `tokenizer`. */
export function textWithTokens(tokenizer: Tokenizer, tokens: number, seed: number): string {
  let words = Math.ceil(tokens * 1.1) + 8;
  let ids = tokenizer.encode(prose(words, seed), { addSpecialTokens: false });
  while (ids.length < tokens) {
    words *= 2;
    ids = tokenizer.encode(prose(words, seed), { addSpecialTokens: false });
  }
  // Cut at a token boundary, then re-encode: decode∘encode can merge across the cut, so trim
  // until the count is exact.
  let n = tokens;
  for (let attempt = 0; attempt < 8; attempt++) {
    const text = tokenizer.decode(ids.subarray(0, n));
    const count = tokenizer.encode(text, { addSpecialTokens: false }).length;
    if (count === tokens) return text;
    n += tokens - count;
  }
  return tokenizer.decode(ids.subarray(0, tokens));
}

/** Text and its token ids, `ids.length` being the exact token count of `text`. */
export interface TokenText {
  text: string;
  ids: Int32Array;
}

/** Decodes a prefix of `ids` and nudges the cut until the text re-encodes to exactly `tokens`. */
function exactPrefix(tokenizer: Tokenizer, ids: Int32Array, tokens: number): TokenText {
  let n = tokens;
  let last: TokenText | undefined;
  for (let attempt = 0; attempt < 8; attempt++) {
    const text = tokenizer.decode(ids.subarray(0, n));
    const again = tokenizer.encode(text, { addSpecialTokens: false });
    last = { text, ids: again };
    if (again.length === tokens) return last;
    n += tokens - again.length;
  }
  return last!;
}

/**
 * Like `textWithTokens`, but the text starts with a space, so it can follow any prose piece
 * without merging across the seam: under Qwen's byte-level pre-tokenizer ' word' always starts a
 * new pre-token, so a concatenation of such pieces has exactly the sum of their token counts and
 * shares its leading pieces' tokens with every other text that starts with the same pieces
 * (what a shared prefix needs). The ids come back too, for cutting token-exact prefixes.
 */
export function seamlessText(tokenizer: Tokenizer, tokens: number, seed: number): TokenText {
  if (tokens <= 0) return { text: '', ids: new Int32Array(0) };
  let words = Math.ceil(tokens * 1.1) + 8;
  let ids = tokenizer.encode(' ' + prose(words, seed), { addSpecialTokens: false });
  while (ids.length < tokens) {
    words *= 2;
    ids = tokenizer.encode(' ' + prose(words, seed), { addSpecialTokens: false });
  }
  return exactPrefix(tokenizer, ids, tokens);
}

/** The first `tokens` tokens of `piece` as text (a string prefix of `piece.text`). */
export function tokenPrefix(tokenizer: Tokenizer, piece: TokenText, tokens: number): TokenText {
  if (tokens >= piece.ids.length) return piece;
  if (tokens <= 0) return { text: '', ids: new Int32Array(0) };
  return exactPrefix(tokenizer, piece.ids, tokens);
}
