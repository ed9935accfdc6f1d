// GET /v1/audit/secrets/{path} and GET /v1/audit/identities/{identity_id} (ScaiVault "Audit
// Logs"): one secret's or one identity's audit trail, newest first and paged exactly like
// /v1/audit/logs (same filters, limit, opaque cursor + has_more), with a summary of the subject's
// last 30 days. The two differ only in the column their subject matches, so one handler serves both.
import type { FastifyInstance } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import type { Store } from '../../infra/store/store.ts';
import { scopeHash } from '../query/cursor.ts';
import { QueryReader } from '../query/query-params.ts';
import { ScopedQuery } from '../query/scoped-query.ts';
import { seqPage } from '../query/seq-page.ts';
import { ownTenant } from '../query/tenant-scope.ts';
import type { SelfAudit } from '../self-audit.ts';
import { errorResponses } from '../service/openapi.ts';
import { scaiVaultLogEntrySchema } from './audit-logs.ts';
import {
  applyAuditLogFilters, LOG_COLUMNS, LOG_FILTER_PARAMS, readAuditLogFilters, toScaiVaultLog, type AuditLogFilterParam, type LogRow,
} from './scaivault-log.ts';
import { lastDays, SUMMARY_COUNTS_SCHEMA, trailSummary } from './summary.ts';

interface Trail {
  route: string;
  /** The route parameter holding the subject (URL-decoded once by the router: `%2F` is `/`, `%25` is `%`). */
  param: string;
  /** The subject's name in the response and in error details. */
  subject: 'secret_path' | 'identity_id';
  column: 'resource_path' | 'actor_id';
  maxLength: number;
  /** The /logs filter that would restate the subject: not accepted (refused as unknown). */
  omit: AuditLogFilterParam;
  distinct: { column: 'actor_id' | 'resource_path'; as: 'distinct_identities' | 'distinct_resources' };
  resource: string;
  doc: string;
}

const TRAILS: Trail[] = [
  {
    // A secret path contains `/`: a wildcard takes the rest of the URL, sent as is or encoded (%2F).
    route: '/v1/audit/secrets/*', param: '*', subject: 'secret_path', column: 'resource_path', maxLength: 4096,
    omit: 'path_prefix', distinct: { column: 'actor_id', as: 'distinct_identities' }, resource: 'scaivault.secret_trail',
    doc: "Secret-specific audit trail (events whose path equals the secret's) with a 30-day summary",
  },
  {
    // A wildcard too: the router caps named parameters at 100 characters, and a group id may hold `/`.
    route: '/v1/audit/identities/*', param: '*', subject: 'identity_id', column: 'actor_id', maxLength: 256,
    omit: 'identity_id', distinct: { column: 'resource_path', as: 'distinct_resources' }, resource: 'scaivault.identity_trail',
    doc: 'Identity-specific audit trail (events the identity performed) with a 30-day summary',
  },
];

function trailSchema(t: Trail) {
  const { [t.omit]: _omitted, ...filters } = LOG_FILTER_PARAMS;
  return {
    summary: t.doc,
    tags: ['scaivault'],
    params: { type: 'object', properties: { [t.param]: { type: 'string', minLength: 1, maxLength: t.maxLength } } },
    querystring: {
      type: 'object',
      properties: {
        ...filters,
        limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
        cursor: { type: 'string', description: 'opaque; bound to the tenant, the subject and the filters' },
      },
      additionalProperties: false,
    },
    response: {
      200: {
        type: 'object',
        required: [t.subject, 'logs', 'cursor', 'has_more', 'summary'],
        properties: {
          [t.subject]: { type: 'string' },
          logs: { type: 'array', items: scaiVaultLogEntrySchema },
          cursor: { type: ['string', 'null'] },
          has_more: { type: 'boolean' },
          summary: {
            type: 'object',
            description: 'the last 30 days [from, to) of the subject, whatever the filters',
            required: ['from', 'to', 'total_events', 'successful_events', 'failed_events', 'actions_breakdown', t.distinct.as, 'first_seen', 'last_seen'],
            properties: {
              from: { type: 'string', format: 'date-time' },
              to: { type: 'string', format: 'date-time' },
              ...SUMMARY_COUNTS_SCHEMA,
              [t.distinct.as]: { type: 'integer' },
              first_seen: { type: ['string', 'null'], format: 'date-time' },
              last_seen: { type: ['string', 'null'], format: 'date-time' },
            },
          },
        },
      },
      ...errorResponses(400, 401, 403, 503),
    },
  };
}

export async function auditTrailRoutes(app: FastifyInstance, deps: { store: Store; selfAudit: SelfAudit }): Promise<void> {
  for (const t of TRAILS) {
    app.get(t.route, { schema: trailSchema(t) }, async (req) => {
      requireScope(req.principal, 'audit:read');
      const q = new QueryReader(req.query as Record<string, unknown>);
      const subject = (req.params as Record<string, string | undefined>)[t.param] ?? '';
      if (subject.length === 0 || subject.length > t.maxLength) q.fail(t.subject, `must be 1 to ${t.maxLength} characters`);
      const filters = readAuditLogFilters(q, [t.omit]);
      const limit = q.int('limit', 1, 1000) ?? 100;
      const cursor = q.string('cursor', 512);
      q.done();
      const scope = ownTenant(req.principal);
      const listing = applyAuditLogFilters(new ScopedQuery('audit_events', scope), filters).eq(t.column, 'String', subject);
      const page = await seqPage<LogRow>(deps.store, listing, {
        columns: LOG_COLUMNS, direction: 'desc', limit, cursor,
        cursorScope: scopeHash([req.principal.tenantId, t.resource, subject, filters]),
      });
      // The summary is the subject's, not the page's: the filters narrow the listing only.
      const window = lastDays(Date.now());
      const summaryQuery = applyAuditLogFilters(new ScopedQuery('audit_events', scope), window).eq(t.column, 'String', subject);
      const summary = await trailSummary(deps.store, summaryQuery, window, t.distinct);
      deps.selfAudit.record(req, {
        resource: t.resource,
        filters: { [t.subject]: subject, ...filters, limit, cursor: cursor !== undefined },
        rows: page.rows.length,
      });
      return { [t.subject]: subject, logs: page.rows.map(toScaiVaultLog), cursor: page.cursor, has_more: page.hasMore, summary };
    });
  }
}
