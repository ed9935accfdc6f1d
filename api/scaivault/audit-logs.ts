// GET /v1/audit/logs (ScaiVault "Audit Logs"): the tenant's audit events, newest first, with
// every documented filter, `limit` (default 100, max 1000) and an opaque cursor + has_more.
import type { FastifyInstance } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import type { Store } from '../../infra/store/store.ts';
import { scopeHash } from '../query/cursor.ts';
import { QueryReader } from '../query/query-params.ts';
import { ScopedQuery } from '../query/scoped-query.ts';
import { seqPage } from '../query/seq-page.ts';
import { ownTenant } from '../query/tenant-scope.ts';
import type { SelfAudit } from '../self-audit.ts';
import { applyAuditLogFilters, LOG_COLUMNS, readAuditLogFilters, toScaiVaultLog, type LogRow } from './scaivault-log.ts';

export async function auditLogRoutes(app: FastifyInstance, deps: { store: Store; selfAudit: SelfAudit }): Promise<void> {
  app.get('/v1/audit/logs', async (req) => {
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
