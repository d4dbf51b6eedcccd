/**
 * Token ids cached by text segment, so that a long prompt prefix seen before is not tokenized
 * again for every request (llm-d's prefix store does the same by text chunk). The cache must
 * never change the ids, so a prompt is cut only where the tokenizer itself cuts before looking
 * at anything else: at its added (special) tokens. HF tokenizers split those out first and
 * pre-tokenize each stretch of text between them on its own, so encoding the stretches one by
 * one gives exactly the ids of the whole. Rendered chat prompts are full of such tokens
 * (`<|im_start|>` opens every message), so each message is one segment: a shared system prompt
 * is tokenized once, and a conversation that grows by a turn re-tokenizes only that turn.
 *
 * A segment is the text from one added token up to the next (the first may start without one).
 * Bounded by the characters it holds; least recently used segments go first.
 */
export class SegmentCache {
  private readonly entries = new Map<string, Int32Array>();
  private chars = 0;

  /** Characters of text held. */
  get heldChars(): number {
    return this.chars;
  }
  hits = 0;
  misses = 0;

  constructor(
    /** Matches any added token of the tokenizer (longest first). */
    private readonly addedTokens: RegExp | undefined,
    private readonly encode: (segment: string) => Int32Array,
    private readonly maxChars = 16 * 1024 * 1024,
    /** Segments shorter than this are tokenized each time (not worth a cache entry). */
    private readonly minChars = 256,
  ) {}

  /** The ids of `text`, exactly as `encode(text)` would give them. */
  encodeText(text: string): Int32Array {
    return concat(this.split(text).map((segment) => this.lookup(segment)));
  }

  /** `text` cut before each added token (the pieces the tokenizer encodes independently). */
  split(text: string): string[] {
    const segments: string[] = [];
    let from = 0;
    for (const m of this.addedTokens ? text.matchAll(this.addedTokens) : []) {
      if (m.index > from) segments.push(text.slice(from, m.index));
      from = m.index;
      // The token itself starts the next segment (it is skipped over by the next match's start).
      if (m[0].length === 0) break;
    }
    if (from < text.length) segments.push(text.slice(from));
    return segments;
  }

  /** A cached segment's ids (counted as a hit), or undefined. */
  get(segment: string): Int32Array | undefined {
    const hit = this.entries.get(segment);
    if (hit) {
      this.hits++;
      this.entries.delete(segment); // re-insert: the Map stays in use order
      this.entries.set(segment, hit);
    }
    return hit;
  }

  /** Keeps a segment's ids (those worth keeping: see minChars and the bound). */
  set(segment: string, ids: Int32Array): void {
    this.misses++;
    if (segment.length < this.minChars || segment.length > this.maxChars / 4 || this.entries.has(segment)) return;
    this.entries.set(segment, ids);
    this.chars += segment.length;
    for (const [k] of this.entries) {
      if (this.chars <= this.maxChars) break;
      this.entries.delete(k);
      this.chars -= k.length;
    }
  }

  private lookup(segment: string): Int32Array {
    if (segment.length < this.minChars) return this.encode(segment);
    const hit = this.get(segment);
    if (hit) return hit;
    const ids = this.encode(segment);
    this.set(segment, ids);
    return ids;
  }
}

/** One fresh array of the parts in order: callers may transfer its buffer, which must not detach a cached entry. */
export function concat(parts: readonly Int32Array[]): Int32Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Int32Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
