import { defineConfig } from 'vitest/config';

/**
 * Tests that run `apprefer serve` as a process and kill it, or kill its PostgreSQL, time their
 * assertions against a real restart: beside three parallel workers and a headless Chromium they
 * flaked on this 2-core machine. They run after the rest, one at a time.
 */
const WHOLE_PROCESS = [
  'test/crash.test.ts',
  'test/embedded-database.test.ts',
  'test/restart.test.ts',
  'test/forwarding-restart.test.ts',
  'test/webhook-crash.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'parallel',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: WHOLE_PROCESS,
          maxWorkers: 3,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'whole-process',
          include: WHOLE_PROCESS,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
