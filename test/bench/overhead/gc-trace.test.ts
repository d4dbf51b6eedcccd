import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { GcTrace, parseGcLine, type Collection } from '../../../bench/overhead/gc-trace.js';

// A real node process run with --trace-gc-nvp: young-generation garbage (scavenges), then a full
// collection forced with gc() (a mark-compact). Its stdout comes in chunks, as the bench reads it.
const PROGRAM = `
let keep = [];
for (let i = 0; i < 200000; i++) { keep.push({ i, s: 'x'.repeat(i % 64) }); if (keep.length > 1000) keep = []; }
globalThis.gc();
`;

describe('gc-trace: V8 --trace-gc-nvp lines', () => {
  it('reads the scavenges and the mark-compact of a real process, split across chunks', async () => {
    const child = spawn(process.execPath, ['--trace-gc-nvp', '--expose-gc', '-e', PROGRAM], { stdio: ['ignore', 'pipe', 'inherit'] });
    const seen: Collection[] = [];
    const trace = new GcTrace((c) => seen.push(c));
    child.stdout.on('data', (chunk: Buffer) => {
      // Cut each chunk in two, so that lines arrive in pieces.
      const half = chunk.length >> 1;
      trace.push(chunk.subarray(0, half));
      trace.push(chunk.subarray(half));
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(seen.filter((c) => c.kind === 'scavenge').length).toBeGreaterThan(0);
    expect(seen.filter((c) => c.kind === 'mark-compact').length).toBeGreaterThan(0);
    for (const c of seen) expect(Number.isFinite(c.pauseMs) && c.pauseMs >= 0).toBe(true);
  });

  it('ignores other lines', () => {
    expect(parseGcLine('{"level":40,"msg":"pause=3 gc=s"}')).toBeUndefined();
    expect(parseGcLine('floor proxy listening on http://127.0.0.1:1234')).toBeUndefined();
  });
});
