// An export of 1,000,000 rows on chDB keeps memory flat: one keyset page of rows and the part
// writer's bounded buffers, whatever the export's size. Sampled while it runs; no timing asserted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadExportSigningKey } from '../infra/export-keys.ts';
import { openObjectStore } from '../infra/objectstore/object-store.ts';
import { FileSecretsProvider } from '../infra/secrets/secrets-provider.ts';
import { emptyProgress, type ExportJob } from '../processors/export/export-jobs.ts';
import { runExport } from '../processors/export/export-runner.ts';
import { verifyExport } from '../processors/export/verify-export.ts';
import { newTenant, startStores, type Stores } from './support/read-api-harness.ts';

const N = 1_000_000;
let stores: Stores;
const dataDir = mkdtempSync(path.join(tmpdir(), 'af-exp-large-'));
const tenant = newTenant('big');

beforeAll(async () => {
  stores = await startStores();
  const h = stores.list.find((s) => s.name === 'chdb')!;
  const t0 = Date.parse('2026-03-01T00:00:00Z');
  for (let i = 0; i < N; i += 50_000) {
    await h.rows.audit(tenant, Array.from({ length: 50_000 }, (_, k) => ({ event_time: new Date(t0 + (i + k) * 10).toISOString(), details: JSON.stringify({ n: i + k }) })));
  }
}, 600_000);
afterAll(async () => {
  await stores?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

it('exports 1M rows with flat memory, and the manifest verifies', async () => {
  const h = stores.list.find((s) => s.name === 'chdb')!;
  const destination = { type: 'local', bucket: 'big', prefix: 'm' } as const;
  const job: ExportJob = {
    tenantId: tenant, exportId: 'exp_large', version: 1, status: 'running', scheduleId: null,
    spec: { from: '2026-03-01T00:00:00.000Z', to: '2026-04-01T00:00:00.000Z', format: 'jsonl', compression: 'gzip', filters: {}, destination, snapshot_seq: N },
    createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), estimatedRecords: N, recordCount: 0, progress: emptyProgress(),
    error: '', cancelRequested: false, attempt: 1, worker: 'test', leaseUntil: new Date().toISOString(), completedAt: null,
  };
  const store = await openObjectStore(destination, { secrets: new FileSecretsProvider(path.join(dataDir, 'secrets')), dataDir });
  const key = await loadExportSigningKey({ dataDir, exportSigningKeyFile: undefined });
  global.gc?.();
  const base = process.memoryUsage().heapUsed;
  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().heapUsed - base); }, 50);
  try {
    const result = await runExport(job, {
      store: h.store, destination: store, key, parts: { rows: 250_000, bytes: 1024 * 1024 * 1024 }, pageRows: 20_000,
      previousManifest: null, signal: new AbortController().signal, onProgress: () => undefined,
    });
    expect(result.recordCount).toBe(N);
    expect(result.parts.map((p) => p.records)).toEqual([250_000, 250_000, 250_000, 250_000]);
  } finally {
    clearInterval(sampler);
  }
  // One page of rows (20,000) as strings and objects is ~40 MB at most; 1M rows held would be ~1 GB.
  expect(peak).toBeLessThan(160 * 1024 * 1024);
  const report = await verifyExport(path.join(dataDir, 'exports', 'big', 'm', 'exp_large'), { publicKeyPem: key.publicKeyPem });
  expect(report.problems).toEqual([]);
}, 600_000);
