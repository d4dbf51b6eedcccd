/**
 * vLLM's KV-event framing: the live PUB message and the replay exchange with its ROUTER
 * (vllm/distributed/kv_events.py ZmqEventPublisher).
 *
 * Live: `[topic, seq, payload]`, seq an 8-byte big-endian counter from 0 per publisher.
 * Replay request (from a DEALER): `["", start_seq]`; the ROUTER sees `[identity, "", start_seq]`
 * and answers every buffered batch with seq ≥ start_seq, oldest first, then an end marker whose
 * seq is −1 as 8 signed bytes. What the DEALER receives changed with #45177 (v0.26.0):
 *   before: `["", seq, payload]`        … end `["", END, ""]`
 *   after:  `["", topic, seq, payload]` … end `["", "", END, ""]`
 * Both are read here.
 */

/** −1 as a signed 64-bit integer, read unsigned. */
export const END_SEQ = 0xffff_ffff_ffff_ffffn;

export function encodeSeq(seq: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, seq));
  return b;
}

export function decodeSeq(frame: Uint8Array): bigint | null {
  if (frame.length !== 8) return null;
  return Buffer.from(frame.buffer, frame.byteOffset, 8).readBigUInt64BE(0);
}

export interface LiveMessage {
  topic: Buffer;
  seq: bigint;
  payload: Buffer;
}

/** A live PUB message, or null when it is not vLLM's three frames with an 8-byte seq. */
export function parseLiveMessage(frames: Buffer[]): LiveMessage | null {
  if (frames.length !== 3) return null;
  const seq = decodeSeq(frames[1]);
  return seq === null ? null : { topic: frames[0], seq, payload: frames[2] };
}

/** The frames a DEALER sends to ask for every buffered batch from `startSeq` on. */
export function replayRequest(startSeq: bigint): Buffer[] {
  return [Buffer.alloc(0), encodeSeq(startSeq)];
}

export type ReplayReply =
  | { kind: 'batch'; seq: bigint; topic: Buffer | null; payload: Buffer }
  | { kind: 'end' }
  | { kind: 'malformed'; why: string };

export function parseReplayReply(frames: Buffer[]): ReplayReply {
  if (frames.length < 3 || frames.length > 4) return { kind: 'malformed', why: `${frames.length} frames` };
  if (frames[0].length !== 0) return { kind: 'malformed', why: 'no empty delimiter frame' };
  const withTopic = frames.length === 4;
  const seq = decodeSeq(frames[withTopic ? 2 : 1]);
  if (seq === null) return { kind: 'malformed', why: 'seq frame is not 8 bytes' };
  if (seq === END_SEQ) return { kind: 'end' };
  return { kind: 'batch', seq, topic: withTopic ? frames[1] : null, payload: frames[withTopic ? 3 : 2] };
}
