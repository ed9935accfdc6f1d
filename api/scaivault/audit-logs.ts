// GET /v1/audit/logs (ScaiVault "Audit Logs"): the tenant's audit events, newest first, with
// every documented filter, `limit` (default 100, max 1000) and an opaque cursor + has_more.
import type { FastifyInstance } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import { IDENTITY_TYPES } from '../../schemas/event-model.ts';
import type { Store } from '../../infra/store/store.ts';
import { scopeHash } from '../query/cursor.ts';
import { QueryReader } from '../query/query-params.ts';
import { ScopedQuery } from '../query/scoped-query.ts';
import { seqPage } from '../query/seq-page.ts';
import { ownTenant } from '../query/tenant-scope.ts';
import type { SelfAudit } from '../self-audit.ts';
import { errorResponses } from '../service/openapi.ts';
import { applyAuditLogFilters, LOG_COLUMNS, LOG_FILTER_PARAMS, readAuditLogFilters, toScaiVaultLog, type LogRow } from './scaivault-log.ts';

const nullable = (type: string, description?: string) => ({ type: [type, 'null'], ...(description ? { description } : {}) });

/** A `logs[]` entry as toScaiVaultLog builds it (the seed's example). */
export const scaiVaultLogEntrySchema = {
  type: 'object',
  required: ['id', 'timestamp', 'action', 'identity_type', 'identity_id', 'secret_path', 'source_ip', 'user_agent', 'success', 'duration_ms', 'request_id', 'extra_data'],
  properties: {
    id: { type: 'string' },
    timestamp: { type: 'string', format: 'date-time' },
    action: { type: 'string' },
    identity_type: { type: ['string', 'null'], enum: [...IDENTITY_TYPES, null] },
    identity_id: nullable('string'),
    secret_path: nullable('string'),
    source_ip: nullable('string'),
    user_agent: nullable('string'),
    success: { type: 'boolean' },
    duration_ms: nullable('integer'),
    request_id: nullable('string'),
    extra_data: { type: 'object', additionalProperties: true },
  },
} as const;

const auditLogsSchema = {
  summary: 'Query the audit log (ScaiVault)',
  description: 'Newest first. Scope `audit:read`. Unknown parameters are refused (400 QUERY_INVALID). '
    + 'The cursor is opaque and bound to the tenant and the filters.',
  tags: ['scaivault'],
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...LOG_FILTER_PARAMS,
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
      cursor: { type: 'string', maxLength: 512, description: 'The `cursor` of the previous page' },
    },
  },
  response: {
    200: {
      description: 'A page of log entries',
      type: 'object',
      required: ['logs', 'cursor', 'has_more'],
      properties: {
        logs: { type: 'array', items: scaiVaultLogEntrySchema },
        cursor: nullable('string', 'Pass as `cursor` for the next page; null when there is none'),
        has_more: { type: 'boolean' },
      },
    },
    ...errorResponses(400, 401, 403, 503),
  },
};

export async function auditLogRoutes(app: FastifyInstance, deps: { store: Store; selfAudit: SelfAudit }): Promise<void> {
  app.get('/v1/audit/logs', { schema: auditLogsSchema }, async (req) => {
    requireScope(req.principal, 'audit:read');
    const q = new QueryReader(req.query as Record<string, unknown>);
    const filters = readAuditLogFilters(q);
    const limit = q.int('limit', 1, 1000) ?? 100;
    const cursor = q.string('cursor', 512);
    q.done();
    const tenant = req.principal.tenantId;
    const query = applyAuditLogFilters(new ScopedQuery('audit_events', ownTenant(req.principal)), filters);
    const page = await seqPage<LogRow>(deps.store, query, { columns: LOG_COLUMNS, direction: 'desc', limit, cursor, cursorScope: scopeHash([tenant, filters]) });
    deps.selfAudit.record(req, { resource: 'scaivault.logs', filters: { ...filters, limit, cursor: cursor !== undefined }, rows: page.rows.length });
    return { logs: page.rows.map(toScaiVaultLog), cursor: page.cursor, has_more: page.hasMore };
  });
}
