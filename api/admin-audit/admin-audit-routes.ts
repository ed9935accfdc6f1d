// The Admin audit API (admin-audit-api.txt), scope audit:admin: GET /api/v1/admin/audit/ (offset
// pages with filters), /actions, /resource-types, /stats and /{log_id}, over every tenant the
// token reaches (its own; a partner's; all for a platform token: ../query/tenant-scope.ts).
// Invalid parameters are 422 HTTPValidationError bodies on these routes only (./validation-error.ts);
// every read is self-audited, and the self-audit events are listed here like any other, marked.
// @fastify/swagger's FastifySchema keywords (summary, tags, hide) for the route schemas.
import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import { AuditflowError } from '../../infra/errors.ts';
import type { Store } from '../../infra/store/store.ts';
import { QueryReader } from '../query/query-params.ts';
import { ScopedQuery } from '../query/scoped-query.ts';
import { adminScope, type TenantScope } from '../query/tenant-scope.ts';
import type { ReadRecord, SelfAudit } from '../self-audit.ts';
import {
  applyAdminFilters, BOUNDS, ENTRY_COLUMNS, NEWEST_FIRST, PAGE_MAX, PER_PAGE_DEFAULT, PER_PAGE_MAX,
  readAdminFilters, textBounds, toAdminEntry, type EntryRow,
} from './admin-audit-log.ts';
import { auditStats } from './admin-audit-stats.ts';
import { ENTRY_SCHEMA, LIST_QUERY_SCHEMA, NO_QUERY_SCHEMA, STATS_QUERY_SCHEMA, STATS_SCHEMA, responses } from './admin-audit-schemas.ts';
import { documentationOnly } from '../service/openapi.ts';
import { StoreTenantDirectory } from './tenant-directory.ts';
import { validationErrorHandler } from './validation-error.ts';

const BASE = '/api/v1/admin/audit';
const TAGS = ['admin-audit'];

/** The scope as the self-audit records it: whose events the read could reach. */
const reach = (s: TenantScope) => (s.kind === 'platform' ? 'platform' : s.kind === 'partner' ? `partner:${s.partnerId}` : `tenant:${s.tenantId}`);

export async function adminAuditRoutes(app: FastifyInstance, deps: { store: Store; selfAudit: SelfAudit }): Promise<void> {
  const { store, selfAudit } = deps;
  const directory = new StoreTenantDirectory(store);
  // Schemas are documentation (QueryReader validates, bodies go out as built): set here as well, so
  // these routes hold to that whatever the app's compilers are.
  documentationOnly(app);
  app.setErrorHandler(validationErrorHandler((p) => BOUNDS[p] ?? textBounds));

  /** Scope check, strict parameters, then the token's reach for the request's tenant/partner. */
  async function begin<T>(req: FastifyRequest, read: (q: QueryReader) => T, tenants: (v: T) => { tenantId?: string | undefined; partnerId?: string | undefined }) {
    requireScope(req.principal, 'audit:admin');
    const q = new QueryReader(req.query as Record<string, unknown>);
    const params = read(q);
    q.done();
    const scope = await adminScope(req.principal, tenants(params), directory);
    return { params, scope, query: new ScopedQuery('audit_events', scope) };
  }
  const record = (req: FastifyRequest, what: string, scope: TenantScope, filters: Record<string, unknown>, rows: number) => {
    const r: ReadRecord = { resource: what, eventType: what, filters: { ...filters, scope: reach(scope) }, rows };
    selfAudit.record(req, r);
  };

  const list = async (req: FastifyRequest) => {
    const { params, scope, query } = await begin(
      req,
      (q) => ({ page: q.int('page', 1, PAGE_MAX) ?? 1, per_page: q.int('per_page', 1, PER_PAGE_MAX) ?? PER_PAGE_DEFAULT, ...readAdminFilters(q) }),
      (p) => ({ tenantId: p.tenant_id, partnerId: p.partner_id }),
    );
    applyAdminFilters(query, params);
    const page = query.select(ENTRY_COLUMNS, `${NEWEST_FIRST} LIMIT {per_page:UInt32} OFFSET {offset:UInt64}`, {
      per_page: params.per_page,
      offset: (params.page - 1) * params.per_page,
    });
    const count = query.select('count() AS total');
    // Two statements with the same WHERE; over HTTP they run side by side (chDB queues them).
    const [rows, counted] = await Promise.all([store.query<EntryRow>(page.sql, page.params), store.query<{ total: number }>(count.sql, count.params)]);
    const total = Number(counted[0]?.total ?? 0);
    record(req, 'admin.audit.list', scope, params, rows.length);
    return { items: rows.map(toAdminEntry), total, page: params.page, per_page: params.per_page, pages: Math.ceil(total / params.per_page) };
  };
  const listSchema = { summary: 'List Audit Logs', tags: TAGS, querystring: LIST_QUERY_SCHEMA, response: responses({
    type: 'object', required: ['items', 'total', 'page', 'per_page', 'pages'],
    properties: { items: { type: 'array', items: ENTRY_SCHEMA }, total: { type: 'integer' }, page: { type: 'integer' }, per_page: { type: 'integer' }, pages: { type: 'integer' } },
  }) };
  app.get(`${BASE}/`, { schema: listSchema }, list);
  // FastAPI would redirect the slash-less path; it is answered directly (and not listed twice).
  app.get(BASE, { schema: { ...listSchema, hide: true } }, list);

  /** The distinct non-empty values of one column in the token's reach, sorted. */
  const vocabulary = (column: 'action' | 'resource_type', key: string, what: string) => async (req: FastifyRequest) => {
    const { scope, query } = await begin(req, () => ({}), () => ({}));
    const { sql, params } = query.ne(column, 'String', '').select(`DISTINCT ${column} AS value`, 'ORDER BY value');
    const values = (await store.query<{ value: string }>(sql, params)).map((r) => r.value);
    record(req, what, scope, {}, values.length);
    return { [key]: values };
  };
  const vocabularySchema = (summary: string, key: string) => ({
    summary, tags: TAGS, querystring: NO_QUERY_SCHEMA,
    response: responses({ type: 'object', required: [key], properties: { [key]: { type: 'array', items: { type: 'string' } } } }),
  });
  app.get(`${BASE}/actions`, { schema: vocabularySchema('List Audit Actions', 'actions') }, vocabulary('action', 'actions', 'admin.audit.actions'));
  app.get(`${BASE}/resource-types`, { schema: vocabularySchema('List Resource Types', 'resource_types') }, vocabulary('resource_type', 'resource_types', 'admin.audit.resource_types'));

  app.get(`${BASE}/stats`, { schema: { summary: 'Get Audit Stats', tags: TAGS, querystring: STATS_QUERY_SCHEMA, response: responses(STATS_SCHEMA) } }, async (req) => {
    const { params, scope, query } = await begin(
      req,
      (q) => ({ tenant_id: q.string('tenant_id', textBounds.max_length), start_time: q.time('start_time'), end_time: q.time('end_time') }),
      (p) => ({ tenantId: p.tenant_id }),
    );
    const stats = await auditStats(store, query.timeRange('event_time', params.start_time, params.end_time));
    record(req, 'admin.audit.stats', scope, params, stats.total);
    return { ...stats, tenant_id: params.tenant_id ?? null, start_time: params.start_time ?? null, end_time: params.end_time ?? null };
  });

  app.get<{ Params: { log_id: string } }>(`${BASE}/:log_id`, {
    schema: {
      summary: 'Get Audit Log', tags: TAGS, querystring: NO_QUERY_SCHEMA,
      params: { type: 'object', required: ['log_id'], properties: { log_id: { type: 'string' } } },
      response: responses(ENTRY_SCHEMA, true),
    },
  }, async (req) => {
    const { scope, query } = await begin(req, () => ({}), () => ({}));
    const logId = req.params.log_id;
    // An id is unique within a tenant; across a multi-tenant reach the newest match is returned.
    const { sql, params } = query.eq('id', 'String', logId).select(ENTRY_COLUMNS, `${NEWEST_FIRST} LIMIT 1`);
    const [row] = await store.query<EntryRow>(sql, params);
    // Absent and out of reach are the same answer: another tenant's id is never confirmed.
    if (row === undefined) throw new AuditflowError('NOT_FOUND', `audit log ${logId} not found`);
    record(req, 'admin.audit.get', scope, { log_id: logId }, 1);
    return toAdminEntry(row);
  });
}
