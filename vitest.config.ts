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
  },
});
