/**
 * Where a replica's reader resumes in the observation stream after (re)connecting. Stream ids are
 * `<ms>-<seq>` in Redis server time, and XREAD returns the entries after a given id, so resuming
 * is choosing that id:
 * - at start: `replayMs` back from the server's clock, so a new or restarted replica warms its
 *   index from recent history (never past the last id, to keep the cursor on the stream's clock);
 * - after an outage: the last id read, so what peers published meanwhile is read now;
 * - a stream whose last id is behind the cursor, or that is gone, was recreated (Redis restarted
 *   empty, a failover to another clock): read it from the start, 0-0;
 * - a cursor older than the oldest retained entry was trimmed away: XREAD returns the oldest
 *   retained entries anyway; the caller counts the possible gap.
 */

export interface StreamInfo {
  lastGeneratedId: string;
  /** Absent when the stream is empty. */
  firstId?: string;
}

export type CursorPlacement =
  | { lastId: string; kind: 'start' | 'resume' | 'recreated' }
  | { lastId: string; kind: 'trimmed'; oldest: string };

/** `info` null: the stream does not exist. `lastId` null: the reader has not started yet. */
export function placeCursor(lastId: string | null, info: StreamInfo | null, serverNowMs: number, replayMs: number): CursorPlacement {
  if (lastId === null) {
    const since = `${Math.max(0, serverNowMs - replayMs)}-0`;
    return { kind: 'start', lastId: info ? minId(info.lastGeneratedId, since) : '0-0' };
  }
  if (!info || compareIds(info.lastGeneratedId, lastId) < 0) return { kind: lastId === '0-0' ? 'resume' : 'recreated', lastId: '0-0' };
  if (info.firstId && lastId !== '0-0' && compareIds(info.firstId, lastId) > 0) return { kind: 'trimmed', lastId, oldest: info.firstId };
  return { kind: 'resume', lastId };
}

/** Parses XINFO STREAM's flat reply. */
export function parseStreamInfo(raw: unknown): StreamInfo {
  if (!Array.isArray(raw)) throw new Error('XINFO STREAM: unexpected reply');
  const field = (name: string): unknown => raw[raw.indexOf(name) + 1];
  const lastGeneratedId = field('last-generated-id');
  const first = field('first-entry');
  if (typeof lastGeneratedId !== 'string') throw new Error('XINFO STREAM: no last-generated-id');
  return { lastGeneratedId, firstId: Array.isArray(first) && typeof first[0] === 'string' ? first[0] : undefined };
}

/** Orders stream ids; BigInt because both parts are 64-bit. */
export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm) || BigInt(as) - BigInt(bs);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

function minId(a: string, b: string): string {
  return compareIds(a, b) <= 0 ? a : b;
}
