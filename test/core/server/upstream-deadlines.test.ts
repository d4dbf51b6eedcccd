/**
 * The deadlines' one timer (deadlines.ts): which deadline cancels a request, and never before it
 * is due, whatever order the first token, the stalls and the whole request's deadline come in.
 */
import { describe, expect, it } from 'vitest';
import { Cancel } from '../../../core/plugin/cancel.js';
import { UpstreamDeadlines, type DeadlineSpec } from '../../../core/server/deadlines.js';
import { GatewayError } from '../../../core/server/errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the deadlines; resolves with the error that cancelled the request and when (ms after the start). */
function run(spec: DeadlineSpec, stream: boolean): { deadlines: UpstreamDeadlines; cancelled: Promise<{ code: string; afterMs: number }> } {
  const cancel = new Cancel();
  const deadlines = new UpstreamDeadlines(spec, cancel);
  const started = performance.now();
  const cancelled = new Promise<{ code: string; afterMs: number }>((resolve) => {
    cancel.onCancel((reason) => resolve({ code: (reason as GatewayError).body().error.code, afterMs: performance.now() - started }));
  });
  deadlines.start(stream);
  return { deadlines, cancelled };
}

describe('upstream deadlines, one timer', () => {
  it('cuts a stream that stalls right after its first token when the stall is due, not at the first token\'s deadline', async () => {
    // Were the timer to sleep until the first token's deadline, the whole request's would come first.
    const { deadlines, cancelled } = run({ firstTokenMs: 2_000, stallMs: 150, totalMs: 1_000 }, true);
    await sleep(20);
    deadlines.token();
    const { code, afterMs } = await cancelled;
    expect(code).toBe('upstream_stalled');
    expect(afterMs).toBeGreaterThanOrEqual(20 + 150 - 1);
  });

  it('lets tokens hold off the stall, then cuts the stream a stall after the last one', async () => {
    const { deadlines, cancelled } = run({ firstTokenMs: 1_000, stallMs: 120, totalMs: 5_000 }, true);
    let cut = false;
    void cancelled.then(() => { cut = true; });
    let lastTokenAt = 0;
    const started = performance.now();
    for (let i = 0; i < 8; i++) {
      await sleep(40);
      deadlines.token();
      lastTokenAt = performance.now() - started;
    }
    expect(cut).toBe(false);
    const { code, afterMs } = await cancelled;
    expect(code).toBe('upstream_stalled');
    expect(afterMs).toBeGreaterThanOrEqual(lastTokenAt + 120 - 1);
  });

  it('cuts a stream without a first token at the first token\'s deadline, though it is longer than the stall', async () => {
    const { cancelled } = run({ firstTokenMs: 300, stallMs: 100, totalMs: 5_000 }, true);
    const { code, afterMs } = await cancelled;
    expect(code).toBe('first_token_timeout');
    expect(afterMs).toBeGreaterThanOrEqual(300 - 1);
  });

  it('cuts a stream whose tokens keep coming at the whole request\'s deadline', async () => {
    const { deadlines, cancelled } = run({ firstTokenMs: 100, stallMs: 100, totalMs: 300 }, true);
    let cut = false;
    void cancelled.then(() => { cut = true; });
    while (!cut) {
      deadlines.token();
      await sleep(20);
    }
    const { code, afterMs } = await cancelled;
    expect(code).toBe('deadline_exceeded');
    expect(afterMs).toBeGreaterThanOrEqual(300 - 1);
  });

  it('holds a non-streamed request to the whole deadline only', async () => {
    const { cancelled } = run({ firstTokenMs: 50, stallMs: 50, totalMs: 250 }, false);
    const { code, afterMs } = await cancelled;
    expect(code).toBe('deadline_exceeded');
    expect(afterMs).toBeGreaterThanOrEqual(250 - 1);
  });

  it('cancels nothing once cleared', async () => {
    const { deadlines, cancelled } = run({ firstTokenMs: 50, stallMs: 50, totalMs: 80 }, true);
    let cut = false;
    void cancelled.then(() => { cut = true; });
    deadlines.clear();
    await sleep(200);
    expect(cut).toBe(false);
  });
});
