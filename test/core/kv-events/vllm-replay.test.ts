import { describe, expect, it } from 'vitest';
import {
  decodeSeq, encodeSeq, END_SEQ, parseLiveMessage, parseReplayReply, replayRequest,
} from '../../../core/kv-events/vllm-replay.js';

const b = (s: string) => Buffer.from(s);
const empty = Buffer.alloc(0);

describe('vLLM KV-event framing', () => {
  it('numbers batches with 8-byte big-endian seqs, the end marker being −1', () => {
    expect(encodeSeq(5n).toString('hex')).toBe('0000000000000005');
    expect(encodeSeq(-1n).toString('hex')).toBe('ffffffffffffffff');
    expect(decodeSeq(encodeSeq(-1n))).toBe(END_SEQ);
    expect(decodeSeq(Buffer.alloc(4))).toBe(null);
  });

  it('reads live messages as [topic, seq, payload] only', () => {
    expect(parseLiveMessage([b('kv'), encodeSeq(3n), b('p')])).toEqual({ topic: b('kv'), seq: 3n, payload: b('p') });
    expect(parseLiveMessage([b('kv'), b('p')])).toBe(null);
    expect(parseLiveMessage([b('kv'), b('short'), b('p')])).toBe(null);
  });

  it('asks for a replay with an empty delimiter and the start seq', () => {
    expect(replayRequest(10n)).toEqual([empty, encodeSeq(10n)]);
  });

  it('reads replies without the topic frame (before v0.26) and with it (#45177)', () => {
    expect(parseReplayReply([empty, encodeSeq(4n), b('p')])).toEqual({ kind: 'batch', seq: 4n, topic: null, payload: b('p') });
    expect(parseReplayReply([empty, encodeSeq(-1n), empty])).toEqual({ kind: 'end' });
    expect(parseReplayReply([empty, b('kv'), encodeSeq(4n), b('p')])).toEqual({ kind: 'batch', seq: 4n, topic: b('kv'), payload: b('p') });
    expect(parseReplayReply([empty, empty, encodeSeq(-1n), empty])).toEqual({ kind: 'end' });
    expect(parseReplayReply([b('x'), encodeSeq(4n), b('p')]).kind).toBe('malformed');
    expect(parseReplayReply([empty, b('p')]).kind).toBe('malformed');
  });
});
