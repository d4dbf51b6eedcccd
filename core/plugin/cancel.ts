/**
 * The cancellation a request carries to its backend: cancelled when the client goes away or the
 * gateway gives up. An AbortController per request costs the gateway several microseconds (an
 * EventTarget, its listener bookkeeping and the GC of both) on a path that is otherwise ~100 µs,
 * and almost every request finishes without being cancelled; this is a flag and a short list of
 * callbacks. `signal` gives a real AbortSignal, made on first use, to plugins and libraries that
 * take one.
 */
export class Cancel {
  private reasonValue: Error | undefined;
  private listeners: Array<(reason: Error) => void> | undefined;
  private controller: AbortController | undefined;

  get aborted(): boolean {
    return this.reasonValue !== undefined;
  }

  /** Why it was cancelled; undefined while it is not. */
  get reason(): Error | undefined {
    return this.reasonValue;
  }

  /**
   * Call `fn` once on cancellation (at once, synchronously, when already cancelled). Returns the
   * function that unsubscribes it; call it when the work ends so nothing outlives the request.
   */
  onCancel(fn: (reason: Error) => void): () => void {
    if (this.reasonValue) {
      fn(this.reasonValue);
      return noop;
    }
    (this.listeners ??= []).push(fn);
    return () => {
      const list = this.listeners;
      if (!list) return;
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** Cancel, once; later calls are ignored. Listeners run in the order they subscribed. */
  cancel(reason: Error): void {
    if (this.reasonValue) return;
    this.reasonValue = reason;
    const list = this.listeners;
    this.listeners = undefined;
    this.controller?.abort(reason);
    if (list) for (const fn of list) fn(reason);
  }

  /** An AbortSignal that aborts with this cancellation (for fetch, undici's request(), …). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reasonValue) this.controller.abort(this.reasonValue);
    }
    return this.controller.signal;
  }
}

function noop(): void {}
