/**
 * Turns of the event loop shared by every stream the gateway relays: the work on relayed chunks
 * (split, observe, write to the client) runs in slices of at most `budgetMs`, and the loop turns
 * between slices, so timers, health checks and new requests wait at most about one slice.
 *
 * Why: an engine step answers its whole batch at once. Thousands of upstream sockets become
 * readable together, node hands up to 1,024 of them to one poll phase, and each chunk's relay work
 * (~40 µs) runs in the microtasks right after its socket's callback: 40 ms and more without a turn
 * of the loop. With the slicer, a chunk that arrives while the current slice has used its budget
 * waits (in arrival order) for the next slice, which starts in the check phase of the same turn.
 *
 * New requests take the next slice once the current one is spent, before they are routed and
 * dispatched (`admission`, inference.ts): a burst of arrivals then shares the loop with the
 * streams in flight.
 *
 * A lone stream pays nothing: the first chunk of a turn opens a slice and goes on at once.
 */
export class RelayTurns {
  private readonly waiting: Array<() => void> = [];
  /** New requests waiting for a slice, in arrival order: let go in turn with the chunks. */
  private readonly admissions: Array<() => void> = [];
  /** Whose turn is next when both wait: a request's, or a chunk's. */
  private admissionNext = true;
  /** A slice is open until the loop has turned (its setImmediate ran). */
  private open = false;
  private sliceEnds = 0;

  constructor(private readonly budgetMs = 1) {}

  /** Undefined: go on now. Else a promise that resolves when this work has its turn. */
  turn(): Promise<void> | undefined {
    if (!this.open) {
      this.openSlice();
      return undefined;
    }
    if (this.waiting.length === 0 && this.admissions.length === 0 && performance.now() < this.sliceEnds) return undefined;
    return new Promise<void>((resolve) => { this.waiting.push(resolve); });
  }

  /**
   * For a new request: undefined while the current slice has time (it does not queue behind the
   * chunks waiting, so a request's routing adds nothing to its latency on a loop that keeps up);
   * once the slice's budget is spent, a promise for a later slice. Waiting requests and chunks
   * are let go alternately (each in arrival order), so neither starves the other: requests first,
   * streams' chunks (first tokens included) waited behind a whole burst of arrivals.
   */
  admission(): Promise<void> | undefined {
    if (!this.open) {
      this.openSlice();
      return undefined;
    }
    if (this.admissions.length === 0 && performance.now() < this.sliceEnds) return undefined;
    return new Promise<void>((resolve) => { this.admissions.push(resolve); });
  }

  /** Chunks and requests waiting for a slice (for tests and metrics). */
  get queued(): number {
    return this.waiting.length + this.admissions.length;
  }

  private openSlice(): void {
    this.open = true;
    this.sliceEnds = performance.now() + this.budgetMs;
    setImmediate(this.turned);
  }

  private readonly turned = (): void => {
    this.open = false;
    if (this.waiting.length === 0 && this.admissions.length === 0) return;
    this.openSlice();
    void this.release();
  };

  /**
   * Lets waiting work go, one at a time, while the slice has time. Each one's work runs in the
   * microtasks after its promise resolves, before this loop reads the clock again; what is still
   * waiting when the budget is spent goes in the next slice (already scheduled by openSlice).
   */
  private async release(): Promise<void> {
    while ((this.admissions.length > 0 || this.waiting.length > 0) && performance.now() < this.sliceEnds) {
      const admission = this.admissions.length > 0 && (this.admissionNext || this.waiting.length === 0);
      this.admissionNext = !admission;
      (admission ? this.admissions.shift() : this.waiting.shift())!();
      await undefined;
      await undefined;
    }
  }
}
