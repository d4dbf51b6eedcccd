import { describe, expect, it } from 'vitest';
import { SseSplitter, type SseEvent } from '../../../core/server/sse-parser.js';

/** Feed `text` cut at the given offsets; return the events and the bytes they carry. */
function split(text: string, cuts: number[] = []): SseEvent[] {
  const bytes = Buffer.from(text, 'utf8');
  const s = new SseSplitter();
  const events: SseEvent[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    events.push(...s.push(Buffer.from(bytes.subarray(at, cut))));
    at = cut;
  }
  events.push(...s.end());
  return events;
}

const fields = (events: SseEvent[]) => events.map(({ raw: _raw, ...rest }) => rest);

describe('SseSplitter', () => {
  const stream = 'data: {"a": 1}\n\ndata:{"b":2}\r\n\r\n: ping\r\n\r\nevent: error\rdata: x\rdata: y\r\rid: 7\nretry: 100\ndata\n\n';

  it('reads LF, CRLF and CR framing, comments, multi-line data and the other fields', () => {
    expect(fields(split(stream))).toEqual([
      { data: '{"a": 1}' },
      { data: '{"b":2}' },
      {},
      { event: 'error', data: 'x\ny' },
      { id: '7', retry: 100, data: '' },
    ]);
  });

  it('keeps every byte, whatever the chunking (cut at every offset, CR LF split included)', () => {
    const bytes = Buffer.from(stream);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const events = split(stream, [cut]);
      expect(Buffer.concat(events.map((e) => e.raw)).equals(bytes)).toBe(true);
      expect(fields(events)).toEqual(fields(split(stream)));
    }
  });

  it('cut into single bytes, multi-byte characters included', () => {
    const text = 'data: {"content": "héllo 世界"}\r\n\r\n';
    const events = split(text, Array.from({ length: Buffer.byteLength(text) }, (_, i) => i));
    expect(fields(events)).toEqual([{ data: '{"content": "héllo 世界"}' }]);
  });

  it('reads an unterminated last event at the end of the stream', () => {
    expect(fields(split('data: a\n\ndata: [DONE]\n'))).toEqual([{ data: 'a' }, { data: '[DONE]' }]);
    expect(fields(split('data: [DONE]'))).toEqual([{ data: '[DONE]' }]);
  });

  it('a lone CR at the end of a chunk waits for the next: CR LF is one line end, not two', () => {
    const events = split('data: a\r\n\r\ndata: b\r\n\r\n', [8, 10]);
    expect(fields(events)).toEqual([{ data: 'a' }, { data: 'b' }]);
  });

  it('strips at most one space after the colon', () => {
    expect(fields(split('data:  two\n\n'))).toEqual([{ data: ' two' }]);
  });
});
