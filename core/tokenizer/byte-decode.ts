/**
 * Decoding for tokenizers whose decoder is ByteLevel alone (Qwen, Llama 3, GPT-2 style), by table:
 * each token id's bytes are looked up and the run is decoded as UTF-8 once. It gives the same text
 * as the tokenizer library's own decode, which maps every id to its vocabulary string, every
 * character of that string to a byte, and decodes the bytes — building a string, an array of
 * characters and an array of bytes per call, and scanning the added tokens for every token. A
 * stream decodes each new token twice (stream-decoder.ts), so at 10,000 streams that was a sixth
 * of the gateway's CPU and much of its garbage.
 *
 * What the library does, and this mirrors (@lenml/tokenizers, a port of transformers.js; the
 * Hugging Face `tokenizers` ByteLevel decoder is the same on valid vocabularies):
 * - a vocabulary string's characters are bytes through GPT-2's bytes-to-unicode table; a
 *   character outside it stands for byte 0;
 * - a token whose string is an added token's content is emitted as that text, and the bytes before
 *   it are decoded on their own (so a character is never completed across it);
 * - skipping special tokens drops every token whose string is a special token's;
 * - bytes are decoded leniently (U+FFFD for what is not UTF-8), a byte-order mark kept.
 * Anything else — another decoder in a sequence, `clean_up_tokenization_spaces`, an id outside the
 * vocabulary — is not handled here: the caller builds a table only for a ByteLevel-only decoder
 * without clean-up, and `decode` returns undefined for an id outside it (the caller uses the
 * library then).
 */

/** GPT-2's bytes_to_unicode: the printable bytes stand for themselves, the rest for 256 + n. */
function unicodeToByte(): Map<number, number> {
  const map = new Map<number, number>();
  let next = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    map.set(printable ? b : 256 + next++, b);
  }
  return map;
}

/** Token kinds in the table: bytes (decoded with their neighbours), text (an added token), unknown. */
const BYTES = 0;
const TEXT = 1;
const UNKNOWN = 2;

export interface ByteDecoderSource {
  /** The vocabulary's strings by id (added tokens' ids included or not; holes allowed). */
  vocab: ReadonlyArray<string | undefined>;
  /** Added tokens: id and content. */
  added: ReadonlyArray<{ id: number; content: string }>;
  /** Strings of the special tokens (what skipping special tokens drops). */
  special: ReadonlyArray<string>;
}

export class ByteTableDecoder {
  private readonly kind: Uint8Array;
  private readonly skippable: Uint8Array;
  /** Bytes of token id i: bytes[offset[i] .. offset[i + 1]). */
  private readonly offset: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly text = new Map<number, string>();
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private scratch = new Uint8Array(256);

  /** `size`: the ids the table covers (vocabulary and added tokens: the highest id + 1). */
  constructor(size: number, src: ByteDecoderSource) {
    const toByte = unicodeToByte();
    const contents = new Set(src.added.map((a) => a.content));
    const special = new Set(src.special);
    const strings: Array<string | undefined> = new Array(size);
    for (let id = 0; id < src.vocab.length; id++) strings[id] = src.vocab[id];
    for (const a of src.added) strings[a.id] = a.content;
    this.kind = new Uint8Array(size).fill(UNKNOWN);
    this.skippable = new Uint8Array(size);
    this.offset = new Int32Array(size + 1);
    let total = 0;
    for (let id = 0; id < size; id++) {
      const s = strings[id];
      if (typeof s === 'string' && !contents.has(s)) for (const _ of s) total++;
    }
    this.bytes = new Uint8Array(total);
    let at = 0;
    for (let id = 0; id < size; id++) {
      this.offset[id] = at;
      const s = strings[id];
      if (typeof s !== 'string') continue;
      if (special.has(s)) this.skippable[id] = 1;
      if (contents.has(s)) {
        this.kind[id] = TEXT;
        this.text.set(id, s);
        continue;
      }
      this.kind[id] = BYTES;
      for (const ch of s) this.bytes[at++] = toByte.get(ch.codePointAt(0)!) ?? 0;
    }
    this.offset[size] = at;
  }

  /** The text of these ids, or undefined when one is outside the table (the caller falls back). */
  decode(ids: ArrayLike<number>, skipSpecial: boolean): string | undefined {
    let out = '';
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < this.kind.length) || this.kind[id] === UNKNOWN) return undefined;
      if (skipSpecial && this.skippable[id] === 1) continue;
      if (this.kind[id] === TEXT) {
        if (n > 0) out += this.utf8.decode(this.scratch.subarray(0, n));
        n = 0;
        out += this.text.get(id)!;
        continue;
      }
      const from = this.offset[id];
      const len = this.offset[id + 1] - from;
      if (n + len > this.scratch.length) {
        const grown = new Uint8Array(Math.max(this.scratch.length * 2, n + len));
        grown.set(this.scratch.subarray(0, n));
        this.scratch = grown;
      }
      for (let k = 0; k < len; k++) this.scratch[n + k] = this.bytes[from + k];
      n += len;
    }
    if (n > 0) out += this.utf8.decode(this.scratch.subarray(0, n));
    return out;
  }
}
