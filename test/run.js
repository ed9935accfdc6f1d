#!/usr/bin/env node
// Runs the whole suite with node's test runner: unit tests (*.test.ts) and integration tests
// (*.integration.test.ts, which start real components on free loopback ports).
// `--unit` runs only the unit tests. Extra arguments are file filters (substring match).
import { readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname));

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (name === 'node_modules' || name === 'bench') return [];
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const files = walk(root)
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => !unitOnly || !f.endsWith('.integration.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort((a, b) => Number(a.endsWith('.integration.test.ts')) - Number(b.endsWith('.integration.test.ts')) || a.localeCompare(b));

if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Integration files each start their own services; run files one at a time on a 2-core machine
// so timing-sensitive components (Kafka rebalances) are not starved.
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'test' },
});
process.exit(r.status ?? 1);
