/**
 * An incremental Server-Sent Events splitter that keeps every byte: it cuts a byte stream into
 * whole events (each with the exact bytes it arrived as, blank line included) and reads each
 * event's fields, so the relay can forward an event untouched or drop it, and observe its data.
 *
 * Framing per the WHATWG HTML "event stream" grammar: lines end in CRLF, LF or a lone CR (Python
 * servers on sse-starlette end lines in CRLF by default; a CR at the very end of a chunk may be
 * the first half of a CRLF, so it is settled by the next chunk or the end of the stream); a blank
 * line ends an event; `field: value` with at most one space removed after the colon; a line
 * starting with `:` is a comment (heartbeats such as `: ping`); several `data` lines join with
 * `\n`. `event`, `id` and `retry` are read and kept; the relay uses only `event` and `data`.
 */

export interface SseEvent {
  /** The event's bytes exactly as they arrived, its terminating blank line included. */
  raw: Buffer;
  /** The `event:` field, if any. */
  event?: string;
  /** The `data:` lines joined by `\n`; undefined when the event has none (a comment or heartbeat). */
  data?: string;
  id?: string;
  retry?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

/**
 * What a splitter holds between chunks when a chunk ended on an event's end (the common case):
 * shared, so that nothing it allocated for one chunk lives until the next. A stream's next chunk
 * comes a token later, and at thousands of streams whatever a stream keeps from one to the next
 * outlives young-generation collections and is copied by each.
 */
const NOTHING_PENDING = Buffer.alloc(0);
const NO_FIELDS: Readonly<Omit<SseEvent, 'raw'>> = Object.freeze({});

export class SseSplitter {
  private pending: Buffer = NOTHING_PENDING;
  /** Where the next line starts in `pending`, and where the scan resumes. */
  private lineStart = 0;
  /** The fields read so far of the event being cut (NO_FIELDS until it has one). */
  private current: Omit<SseEvent, 'raw'> = NO_FIELDS;

  /** Whole events completed by this chunk, in order. */
  push(chunk: Buffer): SseEvent[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    return this.scan(false);
  }

  /**
   * At the end of the stream: the unterminated last event, if any bytes are left. Browsers drop
   * it; the relay reads it (an engine that ends on `data: [DONE]\n` without the blank line has
   * still finished) and forwards its bytes.
   */
  end(): SseEvent[] {
    const events = this.scan(true);
    if (this.pending.length > 0) {
      if (this.lineStart < this.pending.length) this.readLine(this.lineStart, this.pending.length);
      events.push({ raw: this.pending, ...this.current });
    }
    this.pending = NOTHING_PENDING;
    this.lineStart = 0;
    this.current = NO_FIELDS;
    return events;
  }

  private scan(atEnd: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    const buf = this.pending;
    let eventStart = 0;
    let i = this.lineStart;
    while (i < buf.length) {
      const c = buf[i];
      if (c !== LF && c !== CR) { i++; continue; }
      let next = i + 1;
      if (c === CR) {
        if (next === buf.length && !atEnd) break; // CR LF may be split across chunks
        if (buf[next] === LF) next++;
      }
      if (i === this.lineStart) {
        // A blank line: the event is complete. Comment-only events and stray blank lines are
        // events without fields: their bytes still go to the client.
        events.push({ raw: buf.subarray(eventStart, next), ...this.current });
        this.current = NO_FIELDS;
        eventStart = next;
      } else {
        this.readLine(this.lineStart, i);
      }
      this.lineStart = next;
      i = next;
    }
    if (eventStart > 0) {
      // Keep only the unfinished event; copy so the consumed chunk can be collected.
      this.pending = eventStart === buf.length ? NOTHING_PENDING : Buffer.from(buf.subarray(eventStart));
      this.lineStart -= eventStart;
    }
    return events;
  }

  private readLine(start: number, end: number): void {
    const buf = this.pending;
    if (buf[start] === COLON) return; // a comment
    let colon = buf.indexOf(COLON, start);
    if (colon < 0 || colon > end) colon = end;
    const name = buf.toString('latin1', start, colon);
    let valueStart = colon + 1;
    if (valueStart < end && buf[valueStart] === SPACE) valueStart++;
    const value = valueStart >= end ? '' : buf.toString('utf8', valueStart, end);
    switch (name) {
      case 'data':
        this.fields().data = this.current.data === undefined ? value : `${this.current.data}\n${value}`;
        break;
      case 'event':
        this.fields().event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.fields().id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.fields().retry = Number(value);
        break;
      default:
        return; // unknown fields are ignored, as the grammar says
    }
  }

  /** The current event's fields, made writable at its first field. */
  private fields(): Omit<SseEvent, 'raw'> {
    if (this.current === NO_FIELDS) this.current = {};
    return this.current;
  }
}
