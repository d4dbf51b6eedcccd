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
 *
 * A waiting chunk costs nothing here but its place in the queue: the relay hands over a callback
 * it made once for the whole stream (it holds the chunk itself), not a promise and its reactions
 * per chunk. An engine step answers every stream at once, so thousands of chunks wait through the
 * slices of one burst; as promises (~1 KB each with the async work around them) they outlived
 * young-generation collections and were copied by each: at 5,000 proxied streams, a token a second
 * each, 1.8 MB more survived every scavenge (2.8 against 4.6 MB, pauses 7 against 10 ms; V8's
 * --trace-gc-nvp, bench/overhead/many-streams.ts --gc).
 */
export class RelayTurns {
  /** Chunks' work waiting for a slice: each called once, in arrival order. */
  private readonly waiting: Array<() => void> = [];
  /** New requests waiting for a slice, in arrival order: let go in turn with the chunks. */
  private readonly admissions: Array<() => void> = [];
  /** Whose turn is next when both wait: a request's, or a chunk's. */
  private admissionNext = true;
  /** A slice is open until the loop has turned (its setImmediate ran). */
  private open = false;
  private sliceEnds = 0;

  constructor(private readonly budgetMs = 1) {}

  /**
   * For a chunk's work: true — go on now; false — `resume` is called when this work has its turn,
   * once, in a later slice (and must not throw: the work it starts is the caller's to guard).
   */
  turn(resume: () => void): boolean {
    if (!this.open) {
      this.openSlice();
      return true;
    }
    if (this.waiting.length === 0 && this.admissions.length === 0 && performance.now() < this.sliceEnds) return true;
    this.waiting.push(resume);
    return false;
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
   * Lets waiting work go, one at a time, while the slice has time. A chunk's work runs in its
   * callback; a request's in the microtasks after its promise resolves, before this loop reads the
   * clock again. What is still waiting when the budget is spent goes in the next slice (already
   * scheduled by openSlice).
   */
  private async release(): Promise<void> {
    while ((this.admissions.length > 0 || this.waiting.length > 0) && performance.now() < this.sliceEnds) {
      const admission = this.admissions.length > 0 && (this.admissionNext || this.waiting.length === 0);
      this.admissionNext = !admission;
      if (!admission) {
        this.waiting.shift()!();
        continue;
      }
      this.admissions.shift()!();
      await undefined;
      await undefined;
    }
  }
}
