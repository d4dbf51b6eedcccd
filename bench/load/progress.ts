/**
 * A one-line progress bar on stderr, redrawn in place (`\r`), only when stderr is a terminal: a
 * redirected log gets no control characters. Redraws are throttled so a fast run does not spend
 * its CPU on the terminal.
 */
const WIDTH = 24;
const REDRAW_MS = 100;

export class ProgressLine {
  private lastDraw = 0;
  private readonly started = performance.now();

  constructor(private readonly label: string, private readonly total: number, private readonly out: NodeJS.WriteStream = process.stderr) {}

  update(done: number, failed: number): void {
    const now = performance.now();
    if (now - this.lastDraw < REDRAW_MS && done < this.total) return;
    this.lastDraw = now;
    const filled = this.total > 0 ? Math.min(WIDTH, Math.round((done / this.total) * WIDTH)) : 0;
    const rate = done / Math.max((now - this.started) / 1000, 1e-3);
    const fail = failed > 0 ? `  ${failed} failed` : '';
    this.out.write(`\r\x1b[K${this.label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${done}/${this.total}  ${rate.toFixed(1)} req/s${fail}`);
  }

  /** Clears the line so the report starts on a clean one. */
  finish(): void {
    this.out.write('\r\x1b[K');
  }
}
