import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/guards.ts'],
    // Native ops use OpenMP threads; one worker keeps the 2-core machines from oversubscribing.
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 60_000,
  },
});
