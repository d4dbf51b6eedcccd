import { describe, expect, it } from 'vitest';
import { Cancel } from '../../../core/plugin/cancel.js';

describe('Cancel', () => {
  it('runs its listeners once, in order, with the reason', () => {
    const c = new Cancel();
    const seen: string[] = [];
    c.onCancel((r) => seen.push(`a:${r.message}`));
    c.onCancel((r) => seen.push(`b:${r.message}`));
    expect(c.aborted).toBe(false);
    c.cancel(new Error('gone'));
    c.cancel(new Error('again'));
    expect(seen).toEqual(['a:gone', 'b:gone']);
    expect(c.aborted).toBe(true);
    expect(c.reason?.message).toBe('gone');
  });

  it('does not call a listener that unsubscribed, and calls a late one at once', () => {
    const c = new Cancel();
    let calls = 0;
    const off = c.onCancel(() => calls++);
    off();
    off();
    c.cancel(new Error('gone'));
    expect(calls).toBe(0);
    c.onCancel(() => calls++);
    expect(calls).toBe(1);
  });

  it('gives an AbortSignal that follows it, before or after the cancel', () => {
    const early = new Cancel();
    const signal = early.signal;
    expect(signal.aborted).toBe(false);
    early.cancel(new Error('gone'));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe('gone');
    const late = new Cancel();
    late.cancel(new Error('late'));
    expect(late.signal.aborted).toBe(true);
  });
});
