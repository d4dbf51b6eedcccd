/**
 * Streamed output text: stop strings and tool calls.
 *
 * OutputStream turns engine token batches into text deltas with OpenAI stop semantics: a stop
 * string is never emitted (not even its first half when it spans tokens), and text that merely
 * starts like one is held back only until it is clear it is not one. grps-trtllm keeps stop
 * strings in the output (REFERENCE §1.6); OpenAI clients expect them removed.
 *
 * ToolCallStreamer sits on top for `<tool_call>` formats (qwen2.5, Qwen3 templates): content
 * streams as it comes, a call is held until `</tool_call>` and then sent as OpenAI tool-call deltas.
 */
import type { StreamDecoder } from '../../../core/tokenizer/stream-decoder.js';
import { newToolCallId, parseToolCallJson, TOOL_CALL_CLOSE, TOOL_CALL_OPEN } from './tool-calls.js';
import type { FunctionCall } from './tool-calls.js';

/** Length of the longest tail of `text` that is the start (not the whole) of one of `needles`. */
export function heldSuffixLength(text: string, needles: readonly string[]): number {
  let longest = 0;
  for (const needle of needles) longest = Math.max(longest, needle.length - 1);
  for (let k = Math.min(text.length, longest); k > 0; k--) {
    const tail = text.slice(text.length - k);
    if (needles.some((needle) => needle.length > k && needle.startsWith(tail))) return k;
  }
  return 0;
}

export interface OutputDelta {
  text: string;
  /** The stop string that ended the output, once one has: cancel the engine request then. */
  stopped: string | null;
}

export interface OutputEnd<R extends string> {
  /** What was held back (a possible stop-string start, a character cut off by the engine). */
  text: string;
  stopped: string | null;
  /** 'stop' when a stop string hit, else the engine's reason. */
  finishReason: R | 'stop';
}

export class OutputStream {
  private pending = '';
  private stoppedBy: string | null = null;
  private readonly stops: readonly string[];

  /** `decoder` turns token ids into text; engines that answer in text (over HTTP) need none. */
  constructor(private readonly decoder: StreamDecoder | undefined, stop: readonly string[] = []) {
    this.stops = [...new Set(stop.filter((s) => s !== ''))];
  }

  get stopped(): string | null {
    return this.stoppedBy;
  }

  /** Text that can no longer be part of a stop string. Nothing more once a stop string hit. */
  push(ids: ArrayLike<number>): OutputDelta {
    if (this.decoder === undefined) throw new Error('OutputStream: token ids need a decoder');
    return this.pushText(this.stoppedBy === null ? this.decoder.push(ids) : '');
  }

  /** The same for an engine that answers in text: `text` is the next piece of its output. */
  pushText(text: string): OutputDelta {
    if (this.stoppedBy !== null) return { text: '', stopped: this.stoppedBy };
    this.pending += text;
    return { text: this.release(false), stopped: this.stoppedBy };
  }

  /** The rest of the output, at the engine's end of sequence (`reason`: 'stop', 'length', …). */
  finish<R extends string>(reason: R): OutputEnd<R> {
    let text = '';
    if (this.stoppedBy === null) {
      if (this.decoder !== undefined) this.pending += this.decoder.flush();
      text = this.release(true);
    }
    const stopped = this.stoppedBy;
    return { text, stopped, finishReason: stopped === null ? reason : 'stop' };
  }

  private release(final: boolean): string {
    let at = -1;
    let hit: string | null = null;
    for (const stop of this.stops) {
      const i = this.pending.indexOf(stop);
      if (i < 0) continue;
      if (hit === null || i < at || (i === at && stop.length > hit.length)) {
        at = i;
        hit = stop;
      }
    }
    if (hit !== null) {
      const out = this.pending.slice(0, at);
      this.pending = '';
      this.stoppedBy = hit;
      return out;
    }
    // Emitted text never ends in a stop string's start (it is held here), so a stop string can
    // only begin inside `pending`: searching it alone is enough.
    const keep = final ? 0 : heldSuffixLength(this.pending, this.stops);
    const out = this.pending.slice(0, this.pending.length - keep);
    this.pending = this.pending.slice(this.pending.length - keep);
    return out;
  }
}

/** One OpenAI `choices[].delta.tool_calls[]` entry. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

/** One OpenAI `choices[].delta` (without `role`): content text or one tool-call piece. */
export interface StreamDelta {
  content?: string;
  tool_calls?: ToolCallDelta[];
}

export interface ToolCallStreamerOptions {
  /** Id generator, for tests; default newToolCallId. */
  newId?: () => string;
}

/**
 * Content is streamed trimmed, as the non-streaming parser trims it: leading whitespace is dropped,
 * and whitespace is held until more content follows (so the newline before a `<tool_call>` or at
 * the end never goes out), which makes the streamed content equal parseToolCalls' content.
 */
export class ToolCallStreamer {
  private buffer = '';
  private inCall = false;
  private heldSpace = '';
  private started = false;
  private calls = 0;
  private readonly newId: () => string;

  constructor(opts: ToolCallStreamerOptions = {}) {
    this.newId = opts.newId ?? newToolCallId;
  }

  /** Calls emitted so far. */
  get toolCallCount(): number {
    return this.calls;
  }

  push(text: string): StreamDelta[] {
    this.buffer += text;
    const out: StreamDelta[] = [];
    for (;;) {
      if (!this.inCall) {
        const open = this.buffer.indexOf(TOOL_CALL_OPEN);
        if (open < 0) {
          const keep = heldSuffixLength(this.buffer, [TOOL_CALL_OPEN]);
          this.content(out, this.buffer.slice(0, this.buffer.length - keep));
          this.buffer = this.buffer.slice(this.buffer.length - keep);
          return out;
        }
        this.content(out, this.buffer.slice(0, open));
        this.buffer = this.buffer.slice(open + TOOL_CALL_OPEN.length);
        this.inCall = true;
      }
      const close = this.buffer.indexOf(TOOL_CALL_CLOSE);
      if (close < 0) return out;
      const body = this.buffer.slice(0, close);
      this.buffer = this.buffer.slice(close + TOOL_CALL_CLOSE.length);
      this.inCall = false;
      const call = parseToolCallJson(body);
      // A block that is not a valid call stays text, as in the non-streaming parser.
      if (call === undefined) this.content(out, TOOL_CALL_OPEN + body + TOOL_CALL_CLOSE);
      else this.emitCall(out, call);
    }
  }

  /** Flushes what is held (an unterminated call is text) and picks the finish reason. */
  finish<R extends string>(reason: R): { deltas: StreamDelta[]; finishReason: R | 'tool_calls' } {
    const out: StreamDelta[] = [];
    const rest = this.inCall ? TOOL_CALL_OPEN + this.buffer : this.buffer;
    this.buffer = '';
    this.inCall = false;
    this.content(out, rest);
    this.heldSpace = '';
    return { deltas: out, finishReason: this.calls > 0 ? 'tool_calls' : reason };
  }

  private emitCall(out: StreamDelta[], call: FunctionCall): void {
    const index = this.calls++;
    out.push({ tool_calls: [{ index, id: this.newId(), type: 'function', function: { name: call.name, arguments: '' } }] });
    out.push({ tool_calls: [{ index, function: { arguments: call.arguments } }] });
  }

  private content(out: StreamDelta[], text: string): void {
    let t = this.heldSpace + text;
    if (!this.started) t = t.trimStart();
    const body = t.trimEnd();
    this.heldSpace = t.slice(body.length);
    if (body === '') return;
    this.started = true;
    const last = out[out.length - 1];
    if (last !== undefined && last.content !== undefined) last.content += body;
    else out.push({ content: body });
  }
}
