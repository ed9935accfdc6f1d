// One export, as one stream pipeline: keyset pages of the /v1/audit/logs query (Store.stream),
// each row shaped by ClickHouse into its line — the API's entry, byte for byte, or mapped in JS by
// the API's own toScaiVaultLog where the SQL cannot vouch for it (./export-pages.ts) → gzip →
// numbered parts uploaded as they are written (./part-writer.ts) → the count check → the signed
// manifest, last. Memory holds two pages (one read ahead) and the part writer's bounded buffers,
// whatever the export's size.
//
// Nothing is complete until manifest.json exists and the job says `completed`: an attempt that
// stops (crash, failure, cancel) leaves at most parts without a manifest, which the next attempt
// overwrites (same names: same rows, same split) and whose leftovers it deletes before it writes
// the manifest. So an interrupted job restarts from its first part and never presents a partial
// part as complete.
import { Readable } from 'node:stream';
import type { ObjectStore } from '../../infra/objectstore/object-store.ts';
import type { Store } from '../../infra/store/store.ts';
import { AuditflowError } from '../../infra/errors.ts';
import type { ExportSigningKey } from '../../infra/export-keys.ts';
import { exportKey, exportQuery, manifestKey } from '../../api/exports/export-routes.ts';
import { readAuditLogFilters } from '../../api/scaivault/scaivault-log.ts';
import { QueryReader } from '../../api/query/query-params.ts';
import type { ExportJob, ExportPart } from './export-jobs.ts';
import { exportRecords } from './export-pages.ts';
import { manifestSha256, serializeManifest, signManifest, MANIFEST_VERSION, type UnsignedManifest } from './manifest.ts';
import { writeExportParts } from './part-writer.ts';

export interface RunnerDeps {
  store: Store;
  destination: ObjectStore;
  key: ExportSigningKey;
  parts: { rows: number; bytes: number };
  pageRows: number;
  /** What one page query may use (export-pages.ts PAGE_MEMORY_BYTES unless a test makes pages split). */
  pageMemoryBytes?: number;
  /** The previous completed manifest's SHA-256 of the job's schedule (the chain), or null. */
  previousManifest: string | null;
  signal: AbortSignal;
  /** Records written so far (progress and lease renewal; may throw to stop the job). */
  onProgress(records: number): void;
  now?: () => number;
}

export interface RunResult {
  parts: ExportPart[];
  recordCount: number;
  manifestSha256: string;
}

const CONTENT_TYPES = { jsonl: 'application/x-ndjson', csv: 'text/csv; charset=utf-8' } as const;

export async function runExport(job: ExportJob, deps: RunnerDeps): Promise<RunResult> {
  const { spec } = job;
  const gzip = spec.compression === 'gzip';
  const records = exportRecords(deps.store, job, { format: spec.format, pageRows: deps.pageRows, pageMemoryBytes: deps.pageMemoryBytes, signal: deps.signal });
  const written = await writeExportParts(records, {
    format: spec.format, gzip, partRows: deps.parts.rows, partBytes: deps.parts.bytes, signal: deps.signal,
    onProgress: (n) => deps.onProgress(n),
    uploadPart: (part, body, signal) => deps.destination.put(exportKey(job, part.name), body, {
      contentType: CONTENT_TYPES[spec.format], ...(gzip ? { contentEncoding: 'gzip' } : {}), signal,
    }),
  });
  // The rows written are exactly the rows the query holds: the same WHERE, counted by the store.
  const { sql, params } = exportQuery(job.tenantId, spec, readAuditLogFilters(new QueryReader(spec.filters), ['from', 'to'])).select('count() AS n');
  const expected = Number((await deps.store.query<{ n: number | string }>(sql, params))[0]?.n ?? 0);
  if (expected !== written.records) {
    throw new AuditflowError('EXPORT_INCOMPLETE', `export ${job.exportId} wrote ${written.records} records, the query holds ${expected}`);
  }
  const parts: ExportPart[] = written.parts.map((p) => ({ key: exportKey(job, p.name), size_bytes: p.size_bytes, sha256: p.sha256, records: p.records }));
  // Leftovers of an interrupted attempt (a part number this attempt did not reach) go first.
  const keep = new Set(parts.map((p) => p.key));
  for (const o of await deps.destination.list(exportKey(job, ''))) {
    if (!keep.has(o.key) && o.key !== manifestKey(job)) await deps.destination.delete(o.key);
  }
  const unsigned: UnsignedManifest = {
    version: MANIFEST_VERSION, export_id: job.exportId, schedule_id: job.scheduleId, tenant_id: job.tenantId,
    created_at: new Date((deps.now ?? Date.now)()).toISOString(),
    query: { from: spec.from, to: spec.to, filters: spec.filters, format: spec.format, compression: spec.compression },
    record_count: written.records, parts, previous_manifest_sha256: deps.previousManifest,
  };
  const bytes = serializeManifest(signManifest(unsigned, deps.key.privateKey));
  await deps.destination.put(manifestKey(job), Readable.from([bytes]), { contentType: 'application/json', signal: deps.signal });
  return { parts, recordCount: written.records, manifestSha256: manifestSha256(bytes) };
}
