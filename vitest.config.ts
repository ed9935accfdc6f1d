// Two projects: `unit` (no services) and `integration` (real components on free loopback ports).
// pool 'forks' with isolation: every file runs in a process of its own, because chDB allows one
// engine per process and the Kafka helpers load native addons.
import { defineConfig } from 'vitest/config';

const EXCLUDE = ['test/bench/**', 'test/support/**', 'node_modules/**'];

export default defineConfig({
  test: {
    pool: 'forks',
    // The run-wide cap; vitest's default on this 2-core machine would be 1.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...EXCLUDE, 'test/**/*.integration.test.ts'],
          // A unit test spawns the CLI (tsx start-up, ~2 s idle); keep headroom on a loaded machine.
          testTimeout: 30_000,
          // Unit tests first, alone: they finish in seconds and then leave both cores to the integration files.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.integration.test.ts'],
          exclude: EXCLUDE,
          // Topologies start several processes and wait out Kafka rebalances (sessionTimeout 6 s, deadlines
          // of 30-60 s inside the tests); node:test had no timeout, so these are only a backstop for a hang.
          testTimeout: 300_000,
          hookTimeout: 300_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
