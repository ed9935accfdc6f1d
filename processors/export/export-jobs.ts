// The durable export queue, in the store (schemas/migrations/0005_exports.sql). Each change of a
// job — queued, claimed, progress, done — is a new version row; the newest version is the job.
//
// Claiming without transactions: a worker writes a version naming itself with a lease, waits a
// moment and reads the job back; it owns the job only if the newest version is its own. It then
// renews the lease with every progress write and re-checks ownership before each part and
// before the manifest, so a lost race costs at most one part's duplicated (identical) upload,
// never a second export. An expired lease (a crashed worker) makes the job claimable again, and
// the new owner resumes after the last part the old one recorded.
import { randomBytes } from 'node:crypto';
import type { Store } from '../../infra/store/store.ts';
import { chTime, isoFromStore } from '../../api/query/scoped-query.ts';

export type ExportStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL: ReadonlySet<ExportStatus> = new Set(['completed', 'failed', 'cancelled']);

export interface ExportDestination {
  type: 's3' | 'gcs' | 'azure_blob' | 'local';
  bucket: string;
  prefix: string;
  /** A path the secrets provider resolves (never the credentials themselves). */
  credentials_path?: string | undefined;
}

/** What an export reads and writes; fixed when it is created. */
export interface ExportSpec {
  from: string;
  to: string;
  format: 'jsonl' | 'csv';
  compression: 'gzip' | null;
  /** The /v1/audit/logs filters as given (names and text values as in its query string). */
  filters: Record<string, string>;
  destination: ExportDestination;
  /** The tenant's highest readable seq at creation: the export is that snapshot, whatever arrives later. */
  snapshot_seq: number;
}

export interface ExportPart {
  key: string;
  size_bytes: number;
  sha256: string;
  records: number;
}

export interface ExportProgress {
  records_written: number;
  /** Parts uploaded and complete, in order. */
  parts: ExportPart[];
  /** The seq the last complete part ends at (the next part starts after it). */
  last_seq: number;
  /** Completed: the SHA-256 of its manifest.json (the next run of its schedule names it). */
  manifest_sha256?: string;
}

export interface ExportJob {
  tenantId: string;
  exportId: string;
  version: number;
  status: ExportStatus;
  scheduleId: string | null;
  spec: ExportSpec;
  createdAt: string;
  updatedAt: string;
  estimatedRecords: number;
  recordCount: number;
  progress: ExportProgress;
  error: string;
  cancelRequested: boolean;
  attempt: number;
  worker: string;
  leaseUntil: string;
  completedAt: string | null;
}

interface JobRow {
  tenant_id: string; export_id: string; version: number | string; status: ExportStatus; schedule_id: string; spec: string;
  created_at: string; updated_at: string; estimated_records: number | string; record_count: number | string; progress: string;
  error: string; cancel_requested: boolean; attempt: number; worker: string; lease_until: string; completed_at: string | null;
}

const COLUMNS = 'tenant_id, export_id, version, status, schedule_id, spec, created_at, updated_at, estimated_records, record_count, progress, error, cancel_requested, attempt, worker, lease_until, completed_at';
const EPOCH = '1970-01-01T00:00:00.000Z';

export const emptyProgress = (): ExportProgress => ({ records_written: 0, parts: [], last_seq: 0 });

export function newExportId(): string {
  return `exp_${Date.now().toString(36)}${randomBytes(8).toString('hex')}`;
}

function fromRow(r: JobRow): ExportJob {
  return {
    tenantId: r.tenant_id, exportId: r.export_id, version: Number(r.version), status: r.status,
    scheduleId: r.schedule_id === '' ? null : r.schedule_id, spec: JSON.parse(r.spec) as ExportSpec,
    createdAt: isoFromStore(r.created_at), updatedAt: isoFromStore(r.updated_at),
    estimatedRecords: Number(r.estimated_records), recordCount: Number(r.record_count),
    progress: JSON.parse(r.progress) as ExportProgress, error: r.error, cancelRequested: r.cancel_requested === true || String(r.cancel_requested) === 'true',
    attempt: Number(r.attempt), worker: r.worker, leaseUntil: isoFromStore(r.lease_until),
    completedAt: r.completed_at === null ? null : isoFromStore(r.completed_at),
  };
}

export class ExportJobs {
  /** Versions only grow, also within one millisecond and across processes (ms × 1000 + a counter). */
  private lastVersion = 0;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  private nextVersion(after: number): number {
    const v = Math.max(this.now() * 1000 + Math.floor(Math.random() * 1000), after + 1, this.lastVersion + 1);
    this.lastVersion = v;
    return v;
  }

  /** Writes `job` as its next version; returns it as stored. */
  async save(job: Omit<ExportJob, 'version' | 'updatedAt'> & { version?: number }): Promise<ExportJob> {
    const saved: ExportJob = { ...job, version: this.nextVersion(job.version ?? 0), updatedAt: new Date(this.now()).toISOString() };
    const row = {
      tenant_id: saved.tenantId, export_id: saved.exportId, version: saved.version, status: saved.status,
      schedule_id: saved.scheduleId ?? '', spec: JSON.stringify(saved.spec), created_at: chTime(saved.createdAt),
      updated_at: chTime(saved.updatedAt), estimated_records: saved.estimatedRecords, record_count: saved.recordCount,
      progress: JSON.stringify(saved.progress), error: saved.error, cancel_requested: saved.cancelRequested,
      attempt: saved.attempt, worker: saved.worker, lease_until: chTime(saved.leaseUntil),
      completed_at: saved.completedAt === null ? null : chTime(saved.completedAt),
    };
    await this.store.insertJsonEachRow('export_jobs', Buffer.from(`${JSON.stringify(row)}\n`));
    return saved;
  }

  /** A new queued job. */
  create(tenantId: string, exportId: string, spec: ExportSpec, estimatedRecords: number, scheduleId: string | null): Promise<ExportJob> {
    const at = new Date(this.now()).toISOString();
    return this.save({
      tenantId, exportId, status: 'queued', scheduleId, spec, createdAt: at, estimatedRecords, recordCount: 0,
      progress: emptyProgress(), error: '', cancelRequested: false, attempt: 0, worker: '', leaseUntil: EPOCH, completedAt: null,
    });
  }

  async get(tenantId: string, exportId: string): Promise<ExportJob | null> {
    const rows = await this.store.query<JobRow>(
      `SELECT ${COLUMNS} FROM export_jobs FINAL WHERE tenant_id = {tenant:String} AND export_id = {id:String}`,
      { tenant: tenantId, id: exportId },
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /** A tenant's jobs, newest first; `before` is the last (created_at, export_id) of the previous page. */
  async list(tenantId: string, opts: { limit: number; before?: { createdAt: string; exportId: string } | undefined; scheduleId?: string | undefined }): Promise<ExportJob[]> {
    const params: Record<string, unknown> = { tenant: tenantId, limit: opts.limit };
    let where = 'tenant_id = {tenant:String}';
    if (opts.before) {
      where += " AND (created_at, export_id) < ({bt:DateTime64(3, 'UTC')}, {bid:String})";
      params['bt'] = chTime(opts.before.createdAt);
      params['bid'] = opts.before.exportId;
    }
    if (opts.scheduleId !== undefined) {
      where += ' AND schedule_id = {sid:String}';
      params['sid'] = opts.scheduleId;
    }
    const rows = await this.store.query<JobRow>(`SELECT ${COLUMNS} FROM export_jobs FINAL WHERE ${where} ORDER BY created_at DESC, export_id DESC LIMIT {limit:UInt32}`, params);
    return rows.map(fromRow);
  }

  /**
   * Jobs a worker may take: queued, or running with an expired lease (its worker died), and
   * cancel requests to finish, oldest first. Across tenants: the workers serve every tenant.
   * Ties (a schedule's catch-up queues several windows in one millisecond) go by export id, which
   * for a schedule's runs is the window's end (./export-schedules.ts windowExportId).
   */
  async claimable(limit: number): Promise<ExportJob[]> {
    const rows = await this.store.query<JobRow>(
      `SELECT ${COLUMNS} FROM export_jobs FINAL
       WHERE status = 'queued' OR (status = 'running' AND lease_until < {now:DateTime64(3, 'UTC')})
       ORDER BY created_at, export_id LIMIT {limit:UInt32}`,
      { now: chTime(new Date(this.now()).toISOString()), limit },
    );
    return rows.map(fromRow);
  }
}
