// The export part of scaivault-audit-logs-api.txt: POST /v1/audit/export, GET /v1/audit/exports,
// GET /v1/audit/exports/{id}, and beyond it POST /v1/audit/exports/{id}/cancel. Scope
// audit:export, the token's tenant only. A job is queued in the store (processors/export/) and
// run by an export worker; creating one is itself an audit event (`export_created`, a ScaiVault
// action), so it shows in /v1/audit/logs.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import { AuditflowError } from '../../infra/errors.ts';
import type { Store } from '../../infra/store/store.ts';
import type { AuditEvent } from '../../schemas/event-model.ts';
import { newAuditId } from '../../schemas/ids.ts';
import { ExportJobs, newExportId, TERMINAL, type ExportJob, type ExportSpec } from '../../processors/export/export-jobs.ts';
import { scopeHash } from '../query/cursor.ts';
import type { HighWater } from '../query/high-water.ts';
import { QueryReader } from '../query/query-params.ts';
import { ScopedQuery } from '../query/scoped-query.ts';
import { applyAuditLogFilters, type AuditLogFilters } from '../scaivault/scaivault-log.ts';
import { BodyReader, objectBody, readExportOutput } from './export-request.ts';
import { EXPORT_SCHEMAS } from './export-schemas.ts';

export interface ExportApiDeps {
  store: Store;
  highWater: HighWater;
  /** Resolves a destination's credentials_path (400 when unknown) before anything is queued. */
  checkCredentials(destination: ExportSpec['destination']): Promise<void>;
  /** Appends an audit event to the log (durable when it resolves). */
  appendAudit(event: AuditEvent): Promise<void>;
  /** Told a job was queued (an in-process worker starts at once instead of at its next poll). */
  onQueued?: (() => void) | undefined;
}

const TAGS = ['exports'];

/** The job as GET /v1/audit/exports/{id} shows it: the document's fields first, then ours. */
export function exportView(j: ExportJob): Record<string, unknown> {
  const done = j.status === 'completed';
  return {
    export_id: j.exportId,
    status: j.status,
    record_count: done ? j.recordCount : j.progress.records_written,
    files: j.progress.parts.map((p) => ({ key: p.key, size_bytes: p.size_bytes })),
    completed_at: j.completedAt,
    created_at: j.createdAt,
    schedule_id: j.scheduleId,
    estimated_records: j.estimatedRecords,
    format: j.spec.format,
    compression: j.spec.compression,
    from: j.spec.from,
    to: j.spec.to,
    filters: j.spec.filters,
    destination: { type: j.spec.destination.type, bucket: j.spec.destination.bucket, prefix: j.spec.destination.prefix },
    ...(done ? { manifest_key: manifestKey(j) } : {}),
    ...(j.status === 'running' ? { progress: { records_written: j.progress.records_written, parts_done: j.progress.parts.length, estimated_records: j.estimatedRecords } } : {}),
    ...(j.status === 'failed' ? { error: j.error } : {}),
    ...(j.cancelRequested && !TERMINAL.has(j.status) ? { cancel_requested: true } : {}),
  };
}

/** Where an export's objects go: `<prefix>/<export_id>/…`. */
export function exportKey(j: Pick<ExportJob, 'exportId' | 'spec'>, name: string): string {
  const p = j.spec.destination.prefix;
  return `${p === '' ? '' : `${p}/`}${j.exportId}/${name}`;
}

export const manifestKey = (j: Pick<ExportJob, 'exportId' | 'spec'>) => exportKey(j, 'manifest.json');

/** The rows an export reads: the /v1/audit/logs query over [from, to), up to the snapshot seq. */
export function exportQuery(tenantId: string, spec: Pick<ExportSpec, 'from' | 'to' | 'snapshot_seq'>, filters: AuditLogFilters): ScopedQuery {
  return applyAuditLogFilters(new ScopedQuery('audit_events', { kind: 'tenant', tenantId }), { ...filters, from: spec.from, to: spec.to })
    .where({ column: 'seq', op: '<=', type: 'UInt64', value: spec.snapshot_seq });
}

/** A failed export queued again: the same id, query and snapshot, restarted from its first part. */
export async function retryExport(jobs: ExportJobs, job: ExportJob): Promise<ExportJob> {
  if (job.status !== 'failed') throw new AuditflowError('EXPORT_NOT_FAILED', `export ${job.exportId} is ${job.status}; only a failed export is retried`);
  return jobs.save({ ...job, status: 'queued', error: '', worker: '', leaseUntil: '1970-01-01T00:00:00.000Z' });
}

/** One-off exports and schedule runs are created the same way (./export-schedule-routes.ts). */
export async function createExport(
  deps: ExportApiDeps, jobs: ExportJobs, tenantId: string,
  input: Omit<ExportSpec, 'snapshot_seq'> & { parsedFilters: AuditLogFilters }, scheduleId: string | null, exportId = newExportId(),
): Promise<ExportJob> {
  await deps.checkCredentials(input.destination);
  const snapshot = await deps.highWater.latest('audit_events', tenantId);
  const { parsedFilters, ...spec } = input;
  const full: ExportSpec = { ...spec, snapshot_seq: snapshot };
  const { sql, params } = exportQuery(tenantId, full, parsedFilters).select('count() AS n');
  const estimated = Number((await deps.store.query<{ n: number | string }>(sql, params))[0]?.n ?? 0);
  const job = await jobs.create(tenantId, exportId, full, estimated, scheduleId);
  deps.onQueued?.();
  return job;
}

function exportCreatedEvent(req: FastifyRequest | null, job: ExportJob, actor: { id: string; type: string; email: string; serviceAccount: string | null }): AuditEvent {
  const d = job.spec.destination;
  return {
    id: newAuditId(), tenant_id: job.tenantId, partner_id: '', event_time: job.createdAt,
    event_type: 'audit.export_created', action: 'export_created', category: 'compliance', severity: 'info',
    outcome: 'success', success: true, actor_id: actor.id, actor_type: actor.type, actor_email: actor.email,
    service_account: actor.serviceAccount, resource_type: 'audit_export', resource_id: job.exportId, resource_name: job.exportId,
    resource_path: `${d.type}://${d.bucket}/${d.prefix}`, share_id: '', source_ip: req?.ip ?? '', user_agent: String(req?.headers['user-agent'] ?? '').slice(0, 1024),
    request_id: req ? String(req.id) : job.exportId, duration_ms: null, action_source: req ? 'PublicAPI' : 'Schedule',
    details: JSON.stringify({ export_id: job.exportId, schedule_id: job.scheduleId, from: job.spec.from, to: job.spec.to, format: job.spec.format, compression: job.spec.compression, filters: job.spec.filters, estimated_records: job.estimatedRecords, destination: { type: d.type, bucket: d.bucket, prefix: d.prefix } }),
    source_format: 'canonical',
  };
}

export async function recordExportCreated(deps: ExportApiDeps, req: FastifyRequest | null, job: ExportJob): Promise<void> {
  const p = req?.principal;
  const actor = p
    ? { id: p.subject, type: p.serviceAccount !== null ? 'service_account' : 'user', email: p.email ?? '', serviceAccount: p.serviceAccount }
    : { id: `schedule:${job.scheduleId ?? ''}`, type: 'service_account', email: '', serviceAccount: null };
  await deps.appendAudit(exportCreatedEvent(req, job, actor));
}

/** The listing's cursor: the last (created_at, export_id) shown, bound to the tenant and filter. */
function encodeListCursor(j: ExportJob, scope: string): string {
  return Buffer.from(JSON.stringify({ v: 1, t: j.createdAt, id: j.exportId, h: scope })).toString('base64url');
}

function decodeListCursor(cursor: string, scope: string): { createdAt: string; exportId: string } {
  let d: { v?: unknown; t?: unknown; id?: unknown; h?: unknown } = {};
  try {
    d = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as typeof d;
  } catch {
    // refused below
  }
  if (d.v !== 1 || typeof d.t !== 'string' || Number.isNaN(Date.parse(d.t)) || typeof d.id !== 'string' || d.h !== scope) {
    throw new AuditflowError('CURSOR_INVALID', 'cursor is not one this listing issued');
  }
  return { createdAt: d.t, exportId: d.id };
}

export async function exportRoutes(app: FastifyInstance, deps: ExportApiDeps): Promise<void> {
  const jobs = new ExportJobs(deps.store);

  app.post('/v1/audit/export', { schema: EXPORT_SCHEMAS.create }, async (req, reply) => {
    requireScope(req.principal, 'audit:export');
    const r = new BodyReader(objectBody(req.body));
    const from = r.instant('from');
    const to = r.instant('to');
    if (from !== undefined && to !== undefined && Date.parse(to) <= Date.parse(from)) r.fail('/to', 'must be after from');
    const out = readExportOutput(r);
    r.onlyKnown(['from', 'to', 'format', 'filters', 'destination', 'compression']);
    r.done();
    const job = await createExport(deps, jobs, req.principal.tenantId, {
      from: from!, to: to!, format: out.format!, compression: out.compression ?? null, filters: out.filters!, parsedFilters: out.parsedFilters!, destination: out.destination!,
    }, null);
    await recordExportCreated(deps, req, job);
    return reply.code(202).send({ export_id: job.exportId, status: job.status, estimated_records: job.estimatedRecords });
  });

  app.get('/v1/audit/exports', { schema: EXPORT_SCHEMAS.list }, async (req) => {
    requireScope(req.principal, 'audit:export');
    const q = new QueryReader(req.query as Record<string, unknown>);
    const limit = q.int('limit', 1, 200) ?? 50;
    const cursor = q.string('cursor', 512);
    const scheduleId = q.string('schedule_id', 128);
    q.done();
    const cursorScope = scopeHash(['audit.exports', req.principal.tenantId, scheduleId ?? '']);
    const before = cursor === undefined ? undefined : decodeListCursor(cursor, cursorScope);
    const page = await jobs.list(req.principal.tenantId, { limit: limit + 1, before, scheduleId });
    const more = page.length > limit;
    const shown = page.slice(0, limit);
    const last = shown[shown.length - 1];
    return {
      exports: shown.map(exportView),
      cursor: more && last ? encodeListCursor(last, cursorScope) : null,
      has_more: more,
    };
  });

  app.get<{ Params: { id: string } }>('/v1/audit/exports/:id', { schema: EXPORT_SCHEMAS.get }, async (req) => {
    requireScope(req.principal, 'audit:export');
    const job = await jobs.get(req.principal.tenantId, req.params.id);
    if (!job) throw new AuditflowError('NOT_FOUND', `no export ${req.params.id}`);
    return exportView(job);
  });

  app.post<{ Params: { id: string } }>('/v1/audit/exports/:id/retry', { schema: EXPORT_SCHEMAS.retry }, async (req, reply) => {
    requireScope(req.principal, 'audit:export');
    const job = await jobs.get(req.principal.tenantId, req.params.id);
    if (!job) throw new AuditflowError('NOT_FOUND', `no export ${req.params.id}`);
    const next = await retryExport(jobs, job);
    deps.onQueued?.();
    return reply.code(202).send(exportView(next));
  });

  app.post<{ Params: { id: string } }>('/v1/audit/exports/:id/cancel', { schema: EXPORT_SCHEMAS.cancel }, async (req, reply) => {
    requireScope(req.principal, 'audit:export');
    const job = await jobs.get(req.principal.tenantId, req.params.id);
    if (!job) throw new AuditflowError('NOT_FOUND', `no export ${req.params.id}`);
    if (job.status === 'cancelled') return reply.code(200).send(exportView(job));
    if (TERMINAL.has(job.status)) throw new AuditflowError('EXPORT_FINISHED', `export ${job.exportId} is already ${job.status}`);
    // Queued: cancelled now. Running: its worker stops at the next part and marks it cancelled.
    const next = await jobs.save(job.status === 'queued'
      ? { ...job, status: 'cancelled', cancelRequested: true, completedAt: new Date().toISOString() }
      : { ...job, cancelRequested: true });
    return reply.code(202).send(exportView(next));
  });
}

