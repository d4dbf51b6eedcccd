import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The built-in plugins, registered as the composition root does (core imports none of them).
    setupFiles: ['test/setup.ts'],
    // Integration tests start real processes and servers on loopback.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time even on a 2-core machine (vitest's default there is one): most of
    // the suite waits on processes and sockets. 558 s against 630 s for the whole suite here.
    maxWorkers: 2,
  },
});
