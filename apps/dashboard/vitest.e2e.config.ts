import { defineConfig } from 'vitest/config';

// Browser tests: `npm run test:e2e` builds the page, then runs these against the real stack.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['apps/*/e2e/**/*.e2e.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
