// Export jobs run by a real ExportWorker over chDB to every destination the suite can start —
// s3rver (S3), the firebase-tools Cloud Storage emulator (GCS), Azurite (Azure Blob) and a local
// folder: the parts and manifest land there, and `verifyExport` checks them once downloaded. A
// destination that goes away mid-upload leaves the job failed with its reason; retried once it is
// back, the same export completes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HighWater } from '../api/query/high-water.ts';
import { createExport, retryExport } from '../api/exports/export-routes.ts';
import { loadExportSigningKey } from '../infra/export-keys.ts';
import { openObjectStore, type DestinationSpec } from '../infra/objectstore/object-store.ts';
import { FileSecretsProvider } from '../infra/secrets/secrets-provider.ts';
import { ExportJobs, type ExportDestination, type ExportJob } from '../processors/export/export-jobs.ts';
import { ExportWorker } from '../processors/export/export-worker.ts';
import { ExportScheduler } from '../processors/export/export-scheduler.ts';
import { ExportSchedules } from '../processors/export/export-schedules.ts';
import { verifyExport } from '../processors/export/verify-export.ts';
import { newTenant, startStores, type HarnessStore, type Stores } from './support/read-api-harness.ts';
import { startAzurite, type Azurite } from './support/azurite.ts';
import { startGcsEmulator, type GcsEmulator } from './support/gcs-emulator.ts';
import { startS3rver, type S3rver } from './support/s3rver.ts';
import { until } from './support/topologies.ts';

let stores: Stores;
let h: HarnessStore;
let s3: S3rver;
let gcs: GcsEmulator;
let azure: Azurite;
const dataDir = mkdtempSync(path.join(tmpdir(), 'af-exp-dest-'));
const secretsDir = path.join(dataDir, 'secrets');
const tenant = newTenant('exp');
const N = 12_000;
let worker: ExportWorker;
const secrets = new FileSecretsProvider(secretsDir);
const keySettings = { dataDir, exportSigningKeyFile: undefined };

beforeAll(async () => {
  [stores, s3, gcs, azure] = await Promise.all([startStores(), startS3rver(['exports']), startGcsEmulator(), startAzurite(['exports'])]);
  h = stores.list.find((s) => s.name === 'chdb')!;
  mkdirSync(secretsDir, { recursive: true });
  writeFileSync(path.join(secretsDir, 's3.json'), JSON.stringify({ access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey, region: s3.region, endpoint: s3.endpoint, force_path_style: true }));
  writeFileSync(path.join(secretsDir, 'gcs.json'), JSON.stringify({ api_endpoint: gcs.apiEndpoint, project_id: gcs.projectId }));
  writeFileSync(path.join(secretsDir, 'azure.json'), JSON.stringify({ connection_string: azure.connectionString }));
  const t0 = Date.parse('2026-03-01T00:00:00Z');
  for (let i = 0; i < N; i += 4000) {
    await h.rows.audit(tenant, Array.from({ length: 4000 }, (_, k) => ({ event_time: new Date(t0 + (i + k) * 1000).toISOString(), action: (i + k) % 3 ? 'read' : 'write', details: JSON.stringify({ n: i + k, text: 'ü€😀'.repeat(10) }) })));
  }
  worker = new ExportWorker({
    store: h.store, signingKey: () => loadExportSigningKey(keySettings),
    openDestination: (job) => openObjectStore(job.spec.destination as DestinationSpec, { secrets, dataDir }),
    config: { concurrency: 2, pageRows: 2000, pollMs: 100, parts: { rows: 5000, bytes: 256 * 1024 * 1024 } },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined }, settleMs: 50, leaseMs: 5000,
  });
  worker.start();
}, 240_000);

afterAll(async () => {
  await worker?.stop();
  await Promise.allSettled([stores?.stop(), s3?.stop(), gcs?.stop(), azure?.stop()]);
  rmSync(dataDir, { recursive: true, force: true });
});

const deps = () => ({ store: h.store, highWater: new HighWater(h.store, undefined, 0), checkCredentials: async () => undefined, appendAudit: async () => undefined });
const jobs = () => new ExportJobs(h.store);

async function exportTo(destination: ExportDestination, extra: { format?: 'jsonl' | 'csv'; compression?: 'gzip' | null } = {}): Promise<ExportJob> {
  const job = await createExport(deps(), jobs(), tenant, {
    from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z', format: extra.format ?? 'jsonl', compression: extra.compression ?? null,
    filters: {}, parsedFilters: {}, destination,
  }, null);
  worker.nudge();
  return job;
}

async function ended(job: ExportJob): Promise<ExportJob> {
  return until(async () => {
    const j = await jobs().get(job.tenantId, job.exportId);
    return j && ['completed', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
  }, 120_000, `export ${job.exportId}`);
}

/** Downloads an export's objects into a folder, as an auditor would, for verifyExport. */
async function download(destination: ExportDestination, job: ExportJob): Promise<string> {
  const store = await openObjectStore(destination as DestinationSpec, { secrets, dataDir });
  const dir = mkdtempSync(path.join(tmpdir(), 'af-dl-'));
  const prefix = `${destination.prefix}/${job.exportId}/`;
  for (const o of await store.list(prefix)) await pipeline(await store.get(o.key), createWriteStream(path.join(dir, o.key.slice(prefix.length))));
  await store.close();
  return dir;
}

describe.each([
  ['s3', { type: 's3', bucket: 'exports', prefix: 'audit/s3', credentials_path: 's3' }],
  ['gcs', { type: 'gcs', bucket: 'exports', prefix: 'audit/gcs', credentials_path: 'gcs' }],
  ['azure_blob', { type: 'azure_blob', bucket: 'exports', prefix: 'audit/azure', credentials_path: 'azure' }],
  ['local', { type: 'local', bucket: 'exports', prefix: 'audit/local' }],
] as const)('export to %s', (_name, destination) => {
  it('writes the parts and a manifest that verifies', async () => {
    const job = await exportTo(destination, { format: 'csv', compression: 'gzip' });
    const done = await ended(job);
    expect(done.status, done.error).toBe('completed');
    expect(done.recordCount).toBe(N);
    expect(done.progress.parts.map((p) => p.records)).toEqual([5000, 5000, 2000]);
    const dir = await download(destination, done);
    const report = await verifyExport(dir, { publicKeyPem: (await loadExportSigningKey(keySettings)).publicKeyPem });
    expect(report.problems, JSON.stringify(report.problems)).toEqual([]);
  }, 120_000);
});

describe('a schedule', () => {
  it('runs its windows in order, each manifest naming the one before: the chain verifies', async () => {
    let now = Date.parse('2026-03-01T00:00:30Z');
    const clock = () => now;
    const schedules = new ExportSchedules(h.store, clock);
    const s = await schedules.save({
      tenantId: tenant, scheduleId: `sch_${Date.now().toString(36)}`, cron: '0 */6 * * *', window: 'previous_day',
      output: { format: 'jsonl', compression: 'gzip', filters: {}, destination: { type: 'local', bucket: 'exports', prefix: 'daily' } },
      createdAt: new Date(now).toISOString(), lastWindowEnd: null, deleted: false,
    });
    now = Date.parse('2026-03-01T18:30:00Z');
    const queued = await new ExportScheduler(deps(), { delayMs: 0, everyMs: 0, log: { warn: () => undefined } }, clock).tick(true);
    expect(queued).toHaveLength(3);
    worker.nudge();
    const runs = await Promise.all(queued.map((id) => ended({ tenantId: tenant, exportId: id } as ExportJob)));
    expect(runs.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    expect(runs.map((r) => r.scheduleId)).toEqual([s.scheduleId, s.scheduleId, s.scheduleId]);
    const report = await verifyExport(path.join(dataDir, 'exports', 'exports', 'daily'), { publicKeyPem: (await loadExportSigningKey(keySettings)).publicKeyPem });
    expect(report.problems, JSON.stringify(report.problems)).toEqual([]);
    // Chained: the second and third name their predecessor's manifest.
    expect(runs[0]!.progress.manifest_sha256).toMatch(/^[0-9a-f]{64}$/);
  }, 120_000);
});

describe('a destination that fails mid-upload', () => {
  it('leaves the job failed with its reason, and a retry completes it', async () => {
    const flaky = await startS3rver(['exports']);
    writeFileSync(path.join(secretsDir, 'flaky.json'), JSON.stringify({ access_key_id: flaky.accessKeyId, secret_access_key: flaky.secretAccessKey, region: flaky.region, endpoint: flaky.endpoint, force_path_style: true }));
    const destination = { type: 's3', bucket: 'exports', prefix: 'flaky', credentials_path: 'flaky' } as const;
    const job = await exportTo(destination);
    // Gone once the job is under way.
    await until(async () => (await jobs().get(tenant, job.exportId))?.status === 'running', 30_000, 'running');
    await flaky.stop();
    const failed = await ended(job);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/^(DESTINATION_UNAVAILABLE|UPLOAD_ABORTED): /);
    expect(failed.error).not.toContain(flaky.secretAccessKey);
    // The destination is back (here: the same credentials path now names a working endpoint).
    writeFileSync(path.join(secretsDir, 'flaky.json'), JSON.stringify({ access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey, region: s3.region, endpoint: s3.endpoint, force_path_style: true }));
    await retryExport(jobs(), failed);
    worker.nudge();
    const done = await ended(failed);
    expect(done.status, done.error).toBe('completed');
    expect(done.recordCount).toBe(N);
    const report = await verifyExport(await download(destination, done), { publicKeyPem: (await loadExportSigningKey(keySettings)).publicKeyPem });
    expect(report.problems).toEqual([]);
  }, 120_000);
});
