// Two projects: `unit` (no services) and `integration` (real components on free loopback ports).
// pool 'forks' with isolation: every file runs in a process of its own, because chDB allows one
// engine per process and the Kafka helpers load native addons.
import { defineConfig } from 'vitest/config';

const EXCLUDE = ['test/bench/**', 'test/support/**', 'node_modules/**'];

export default defineConfig({
  test: {
    pool: 'forks',
    // Two files at a time (vitest's default here would be 1): every integration file starts its own
    // components on free loopback ports, so files are independent. Measured on this 2-core machine,
    // three integration runs (one under load average 15 from other work): the Kafka files (mock-cluster
    // rebalances, sessionTimeout 6 s) passed beside another file every time, in ~95 s wall against
    // ~160 s of test time one file at a time. More workers than cores would starve those rebalances.
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
