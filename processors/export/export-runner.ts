// One export, as one stream pipeline: keyset pages of the /v1/audit/logs query (Store.stream) →
// entries (the API's own mapping) → format → gzip → numbered parts uploaded as they are written
// (./part-writer.ts) → the count check → the signed manifest, last. Memory holds one page and the
// part writer's bounded buffers, whatever the export's size.
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
import { readAuditLogFilters, LOG_COLUMNS, toScaiVaultLog, type LogRow } from '../../api/scaivault/scaivault-log.ts';
import { QueryReader } from '../../api/query/query-params.ts';
import type { ExportJob, ExportPart } from './export-jobs.ts';
import type { ScaiVaultLogEntry } from './export-formats.ts';
import { manifestSha256, serializeManifest, signManifest, MANIFEST_VERSION, type UnsignedManifest } from './manifest.ts';
import { writeExportParts } from './part-writer.ts';

export interface RunnerDeps {
  store: Store;
  destination: ObjectStore;
  key: ExportSigningKey;
  parts: { rows: number; bytes: number };
  pageRows: number;
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

/** The stored rows of a job's query in seq order, one keyset page per store read, a chunk's rows at a time. */
async function* exportRows(store: Store, job: ExportJob, pageRows: number, signal: AbortSignal): AsyncGenerator<ScaiVaultLogEntry[]> {
  const filters = readAuditLogFilters(new QueryReader(job.spec.filters), ['from', 'to']);
  let after = 0;
  for (;;) {
    const q = exportQuery(job.tenantId, job.spec, filters).where({ column: 'seq', op: '>', type: 'UInt64', value: after });
    const { sql, params } = q.select(LOG_COLUMNS, 'ORDER BY seq LIMIT {page_rows:UInt32}', { page_rows: pageRows });
    let n = 0;
    // Bytes after the last line end of the chunks so far (a chunk may end inside a row, or inside a UTF-8 character).
    let rest: Buffer = Buffer.alloc(0);
    const entries = (lines: string[]): ScaiVaultLogEntry[] => {
      const out: ScaiVaultLogEntry[] = [];
      for (const line of lines) {
        if (line === '') continue;
        const row = JSON.parse(line) as LogRow;
        after = Number(row.seq);
        out.push(toScaiVaultLog(row));
      }
      n += out.length;
      return out;
    };
    for await (const chunk of store.stream(sql, params, { signal })) {
      const bytes = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
      const end = bytes.lastIndexOf(0x0a);
      if (end < 0) {
        rest = bytes;
        continue;
      }
      rest = bytes.subarray(end + 1);
      yield entries(bytes.toString('utf8', 0, end).split('\n'));
    }
    if (rest.length > 0) yield entries([rest.toString('utf8').trim()]);
    if (n < pageRows) return;
  }
}

const CONTENT_TYPES = { jsonl: 'application/x-ndjson', csv: 'text/csv; charset=utf-8' } as const;

export async function runExport(job: ExportJob, deps: RunnerDeps): Promise<RunResult> {
  const { spec } = job;
  const gzip = spec.compression === 'gzip';
  const written = await writeExportParts(exportRows(deps.store, job, deps.pageRows, deps.signal), {
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
