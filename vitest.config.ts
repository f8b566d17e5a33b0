import { defineConfig } from 'vitest/config';

// Unit tests run in parallel; the end-to-end suite (tests/e2e) spawns the built CLI and is slower.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: ['dist/**', 'node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
