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
 * A prompt rendered in pieces (ChatTemplate.renderSpliced) is cut the same way without joining
 * it: a segment is then the template's text around one long content — `head + body + tail` —
 * keyed by that content's own string and the short texts beside it, so a 200 KB system prompt
 * is looked up without ever being copied into a new string.
 *
 * Bounded by the characters it holds; least recently used segments go first.
 */
export interface Segment {
  head: string;
  /** The segment's bulk: a content spliced in whole, or the whole segment's text (head and tail empty). */
  body: string;
  tail: string;
}

interface Entry {
  /** `head.length:head` + tail: the texts around the body, unambiguously (the body is the map's key). */
  around: string;
  ids: Int32Array;
  chars: number;
}

export class SegmentCache {
  /** By body; a body seen with different texts around it holds one entry for each. */
  private readonly entries = new Map<string, Entry[]>();
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
  split(text: string): Segment[] {
    return this.cut(text).map((body) => ({ head: '', body, tail: '' }));
  }

  /**
   * A prompt given as pieces — template text and, at odd positions, contents that hold no added
   * token (ChatTemplate.renderSpliced) — cut as split() cuts their concatenation.
   */
  splitPieces(pieces: readonly string[]): Segment[] {
    const segments: Segment[] = [];
    // The segment still open: its texts so far, and where its one spliced content is (-1: none
    // yet; -2: more than one, from a template that joins contents with no added token between).
    let open: string[] = [];
    let bodyAt = -1;
    const close = () => {
      if (open.length === 0) return;
      segments.push(bodyAt < 0
        ? { head: '', body: open.join(''), tail: '' }
        : { head: open.slice(0, bodyAt).join(''), body: open[bodyAt], tail: open.slice(bodyAt + 1).join('') });
      open = [];
      bodyAt = -1;
    };
    for (const [k, piece] of pieces.entries()) {
      if (k % 2 === 1) {
        // A content holds no added token: it continues the open segment.
        bodyAt = bodyAt === -1 ? open.length : -2;
        open.push(piece);
        continue;
      }
      let from = 0;
      for (const at of this.tokenStarts(piece)) {
        if (at > from) open.push(piece.slice(from, at));
        close();
        from = at;
      }
      if (from < piece.length) open.push(piece.slice(from));
    }
    close();
    return segments;
  }

  /** A cached segment's ids (counted as a hit), or undefined. */
  get(segment: Segment): Int32Array | undefined {
    const list = this.entries.get(segment.body);
    if (list === undefined) return undefined;
    const around = aroundKey(segment);
    const hit = list.find((e) => e.around === around);
    if (hit === undefined) return undefined;
    this.hits++;
    this.entries.delete(segment.body); // re-insert: the Map stays in use order
    this.entries.set(segment.body, list);
    return hit.ids;
  }

  /** Keeps a segment's ids (those worth keeping: see minChars and the bound). */
  set(segment: Segment, ids: Int32Array): void {
    this.misses++;
    const chars = segment.head.length + segment.body.length + segment.tail.length;
    if (chars < this.minChars || chars > this.maxChars / 4) return;
    const around = aroundKey(segment);
    const list = this.entries.get(segment.body) ?? [];
    if (list.some((e) => e.around === around)) return;
    list.push({ around, ids, chars });
    this.entries.delete(segment.body);
    this.entries.set(segment.body, list);
    this.chars += chars;
    for (const [body, held] of this.entries) {
      if (this.chars <= this.maxChars) break;
      this.entries.delete(body);
      for (const e of held) this.chars -= e.chars;
    }
  }

  /** Where the added tokens in `text` start, in order. */
  private *tokenStarts(text: string): Generator<number> {
    if (!this.addedTokens) return;
    for (const m of text.matchAll(this.addedTokens)) {
      yield m.index;
      if (m[0].length === 0) return;
    }
  }

  private cut(text: string): string[] {
    const segments: string[] = [];
    let from = 0;
    // The token itself starts the next segment (it is skipped over by the next match's start).
    for (const at of this.tokenStarts(text)) {
      if (at > from) segments.push(text.slice(from, at));
      from = at;
    }
    if (from < text.length) segments.push(text.slice(from));
    return segments;
  }

  private lookup(segment: Segment): Int32Array {
    const text = segmentText(segment);
    if (text.length < this.minChars) return this.encode(text);
    const hit = this.get(segment);
    if (hit) return hit;
    const ids = this.encode(text);
    this.set(segment, ids);
    return ids;
  }
}

/** A segment's text whole (for the tokenizer, on a miss). */
export function segmentText(segment: Segment): string {
  return segment.head === '' && segment.tail === '' ? segment.body : segment.head + segment.body + segment.tail;
}

function aroundKey(segment: Segment): string {
  return segment.head === '' && segment.tail === '' ? '' : `${segment.head.length}:${segment.head}${segment.tail}`;
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
