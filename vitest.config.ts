import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'integration/**/*.test.ts'],
    // Integration tests run real containers as root; they share /run/tsrun-test and the host's cgroups.
    fileParallelism: false,
    testTimeout: 30000,
    hookTimeout: 30000,
  },
});
