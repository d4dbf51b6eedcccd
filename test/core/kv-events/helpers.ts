/** Shared by the KV-event socket tests: sockets to close after each test, and polling for a condition. */
import { afterEach } from 'vitest';

/** Closers of what a test opened; run in reverse order after each test of a file that calls closeAfterEach(). */
export const cleanups: Array<() => unknown> = [];

export function closeAfterEach(): void {
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
}

export async function waitFor(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
