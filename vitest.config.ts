import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    // Every temporary file of the run under one folder, removed at the end (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    // The e2e and pool tests start processes and threads; two cores are all we have.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 30_000,
    // The UI tests simulate a terminal; with CI set, ink (is-in-ci) renders only the last frame.
    // CI runs this suite with CI=true, so turn that off before any test file loads ink.
    env: { CI: 'false', CONTINUOUS_INTEGRATION: 'false' },
    hookTimeout: 30_000,
  },
});
