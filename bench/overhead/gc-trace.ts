/**
 * A node process's garbage collections as V8 reports them with `--trace-gc-nvp`: one line per
 * collection on its stdout, `[pid:0x…]  1593 ms: pause=13.0 mutator=464.0 gc=s …` (gc=s: a
 * scavenge of the young generation; ms or mc: a mark-compact of the whole heap; mmc: the one that
 * also shrinks it). The pause is the time the main thread, and so the event loop, was held.
 */
export interface Collection {
  kind: 'scavenge' | 'mark-compact';
  pauseMs: number;
}

const NVP = / pause=([\d.]+) .*? gc=(\w+) /;

/** The collection a `--trace-gc-nvp` line reports; undefined for any other line. */
export function parseGcLine(line: string): Collection | undefined {
  const m = NVP.exec(line);
  return m ? { kind: m[2] === 's' ? 'scavenge' : 'mark-compact', pauseMs: Number(m[1]) } : undefined;
}

/** Feeds a process's stdout in chunks as they come; `onCollection` gets each collection as its line completes. */
export class GcTrace {
  private rest = '';

  constructor(private readonly onCollection: (c: Collection) => void) {}

  push(chunk: Buffer | string): void {
    const lines = (this.rest + chunk.toString()).split('\n');
    this.rest = lines.pop()!;
    for (const line of lines) {
      const c = parseGcLine(line);
      if (c) this.onCollection(c);
    }
  }
}
