/**
 * Incremental detokenization for streamed output.
 *
 * Byte-level BPE splits one character over several tokens (a CJK character or an emoji is often
 * 2-4 byte tokens), so decoding token by token yields U+FFFD halves. We use the prefix-offset
 * technique from HF text-generation-inference / vLLM: keep a short window of already-emitted
 * tokens (`prefix`) in front of the unemitted ones, decode `prefix` and `prefix + new`, and emit the
 * difference once it no longer ends in U+FFFD. Only the window is kept, so a push costs
 * O(window), not O(tokens generated so far).
 */
import type { DecodeOptions } from './tokenizer.js';

/** What StreamDecoder needs from a tokenizer; Tokenizer satisfies it. */
export interface SyncDecoder {
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
}

export interface StreamDecoderOptions {
  skipSpecialTokens?: boolean;
  /**
   * Tokens that may be held back waiting for a character to complete. A UTF-8 character is at most
   * 4 bytes, so a well-formed stream never needs more; the cap only stops a model that emits
   * invalid UTF-8 from stalling the stream forever (the text then carries U+FFFD, as it must).
   */
  maxHeldTokens?: number;
  /**
   * Already-emitted tokens to seed the window with (e.g. the prompt tail), so the first output
   * token is decoded with context. Nothing from them is ever emitted.
   */
  context?: ArrayLike<number>;
}

const REPLACEMENT = '\uFFFD';
/** Context tokens kept in front of the unemitted ones, as vLLM's INITIAL_INCREMENTAL_DETOKENIZATION_OFFSET. */
const PREFIX_WINDOW = 5;

export class StreamDecoder {
  /** tokens[0..readOffset) are emitted (they are the prefix); tokens[readOffset..) are pending. */
  private tokens: number[] = [];
  private readOffset = 0;
  private readonly decodeOpts: DecodeOptions;
  private readonly maxHeldTokens: number;

  constructor(private readonly tokenizer: SyncDecoder, opts: StreamDecoderOptions = {}) {
    this.decodeOpts = { skipSpecialTokens: opts.skipSpecialTokens ?? false };
    this.maxHeldTokens = Math.max(4, opts.maxHeldTokens ?? 16);
    if (opts.context !== undefined && opts.context.length > 0) {
      const start = Math.max(0, opts.context.length - PREFIX_WINDOW);
      for (let i = start; i < opts.context.length; i++) this.tokens.push(opts.context[i]);
      this.readOffset = this.tokens.length;
    }
  }

  /** Appends tokens and returns the text they complete ('' while a character is still partial). */
  push(ids: ArrayLike<number>): string {
    for (let i = 0; i < ids.length; i++) this.tokens.push(ids[i]);
    if (this.tokens.length === this.readOffset) return '';

    const prefixText = this.decodeRange(0, this.readOffset);
    const fullText = this.decodeRange(0, this.tokens.length);
    const held = this.tokens.length - this.readOffset;
    const complete = fullText.length > prefixText.length && !fullText.endsWith(REPLACEMENT);
    if (!complete && held < this.maxHeldTokens) return '';

    // Comparing lengths, not content: the prefix decodes the same whether or not tokens follow it
    // for byte-level BPE, and slicing is what keeps each emission exactly the new text.
    const emitted = fullText.length > prefixText.length ? fullText.slice(prefixText.length) : '';
    this.advance();
    return emitted;
  }

  /** Emits whatever is pending, incomplete characters included, and resets the window. */
  flush(): string {
    if (this.tokens.length === this.readOffset) return '';
    const prefixText = this.decodeRange(0, this.readOffset);
    const fullText = this.decodeRange(0, this.tokens.length);
    this.advance();
    return fullText.length > prefixText.length ? fullText.slice(prefixText.length) : '';
  }

  /**
   * Tokens pushed but not yet emitted (held back mid-character). Non-zero at the end of a stream
   * means the engine stopped inside a character, and flush() will emit replacement characters.
   */
  get pendingTokens(): number {
    return this.tokens.length - this.readOffset;
  }

  /** Forgets all state, for reuse on a new sequence (e.g. the next choice of an `n > 1` request). */
  reset(): void {
    this.tokens = [];
    this.readOffset = 0;
  }

  /**
   * Marks everything emitted and trims the window back to the last PREFIX_WINDOW tokens, in place:
   * a stream's next token comes a step later, and a new array per token (as slice made it) lived
   * until then, through young-generation collections that copied it at every stream.
   */
  private advance(): void {
    const drop = Math.max(0, this.tokens.length - PREFIX_WINDOW);
    if (drop > 0) {
      this.tokens.copyWithin(0, drop);
      this.tokens.length -= drop;
    }
    this.readOffset = this.tokens.length;
  }

  private decodeRange(start: number, end: number): string {
    if (end <= start) return '';
    return this.tokenizer.decode(this.tokens.slice(start, end), this.decodeOpts);
  }
}
