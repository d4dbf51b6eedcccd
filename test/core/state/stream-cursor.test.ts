import { describe, expect, it } from 'vitest';
import { compareIds, parseStreamInfo, placeCursor } from '../../../core/state/stream-cursor.js';

describe('placeCursor', () => {
  const now = 1_000_000;
  it('at start, replays replayMs of server time, never past the last id, and reads a missing stream from 0-0', () => {
    expect(placeCursor(null, { lastGeneratedId: '999999-3' }, now, 60_000)).toEqual({ kind: 'start', lastId: '940000-0' });
    expect(placeCursor(null, { lastGeneratedId: '5-1' }, now, 60_000)).toEqual({ kind: 'start', lastId: '5-1' });
    expect(placeCursor(null, { lastGeneratedId: '999999-3' }, now, 0)).toEqual({ kind: 'start', lastId: '999999-3' });
    expect(placeCursor(null, null, now, 60_000)).toEqual({ kind: 'start', lastId: '0-0' });
  });

  it('after an outage, resumes from the last id read', () => {
    expect(placeCursor('500-2', { lastGeneratedId: '900-0', firstId: '400-0' }, 0, 0)).toEqual({ kind: 'resume', lastId: '500-2' });
    expect(placeCursor('500-2', { lastGeneratedId: '500-2', firstId: '500-2' }, 0, 0)).toEqual({ kind: 'resume', lastId: '500-2' });
  });

  it('reads a recreated or vanished stream from the start', () => {
    expect(placeCursor('500-2', { lastGeneratedId: '1-1' }, 0, 0)).toEqual({ kind: 'recreated', lastId: '0-0' });
    expect(placeCursor('500-2', null, 0, 0)).toEqual({ kind: 'recreated', lastId: '0-0' });
    expect(placeCursor('0-0', null, 0, 0)).toEqual({ kind: 'resume', lastId: '0-0' });
  });

  it('flags a cursor that was trimmed away', () => {
    expect(placeCursor('500-2', { lastGeneratedId: '900-0', firstId: '600-0' }, 0, 0)).toEqual({ kind: 'trimmed', lastId: '500-2', oldest: '600-0' });
  });
});

describe('stream ids', () => {
  it('compare numerically, seq after ms, beyond 2^53', () => {
    expect(compareIds('10-0', '9-5')).toBe(1);
    expect(compareIds('9-5', '9-10')).toBe(-1);
    expect(compareIds('18446744073709551615-1', '18446744073709551615-0')).toBe(1);
    expect(compareIds('7-7', '7-7')).toBe(0);
  });

  it('parse from XINFO STREAM', () => {
    expect(parseStreamInfo(['length', 1, 'last-generated-id', '9-0', 'first-entry', ['8-0', ['g', 'x']]])).toEqual({ lastGeneratedId: '9-0', firstId: '8-0' });
    expect(parseStreamInfo(['length', 0, 'last-generated-id', '9-0', 'first-entry', null])).toEqual({ lastGeneratedId: '9-0', firstId: undefined });
    expect(() => parseStreamInfo('OK')).toThrow();
  });
});
