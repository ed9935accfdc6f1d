// GET /v1/audit/logs (ScaiVault "Audit Logs"): the tenant's audit events, newest first, with
// every documented filter, `limit` (default 100, max 1000) and an opaque cursor + has_more.
import type { FastifyInstance } from 'fastify';
import { requireScope, type Authenticator } from '../infra/auth/jwt.ts';
import type { Store } from '../infra/store/store.ts';
import { IDENTITY_TYPES } from '../schemas/event-model.ts';
import { authenticate } from './auth-plugin.ts';
import { decodeCursor, encodeCursor, scopeHash } from './cursor.ts';
import { chTime, QueryReader } from './query-params.ts';

export interface AuditLogFilters {
  from?: string | undefined;
  to?: string | undefined;
  actions?: string[] | undefined;
  identityId?: string | undefined;
  identityType?: string | undefined;
  pathPrefix?: string | undefined;
  success?: boolean | undefined;
  sourceIp?: string | undefined;
  requestId?: string | undefined;
}

/** Filters → WHERE clauses with bound parameters. Always scoped to the tenant. */
export function compileAuditFilters(tenantId: string, f: AuditLogFilters): { where: string[]; params: Record<string, unknown> } {
  const where = ['tenant_id = {tenant:String}'];
  const params: Record<string, unknown> = { tenant: tenantId };
  if (f.from !== undefined) { where.push("event_time >= {from:DateTime64(3, 'UTC')}"); params['from'] = chTime(f.from); }
  if (f.to !== undefined) { where.push("event_time < {to:DateTime64(3, 'UTC')}"); params['to'] = chTime(f.to); }
  if (f.actions !== undefined) { where.push('action IN {actions:Array(String)}'); params['actions'] = f.actions; }
  if (f.identityId !== undefined) { where.push('actor_id = {identity_id:String}'); params['identity_id'] = f.identityId; }
  if (f.identityType !== undefined) { where.push('actor_type = {identity_type:String}'); params['identity_type'] = f.identityType; }
  if (f.pathPrefix !== undefined) { where.push('startsWith(resource_path, {path_prefix:String})'); params['path_prefix'] = f.pathPrefix; }
  if (f.success !== undefined) { where.push('success = {success:Bool}'); params['success'] = f.success; }
  if (f.sourceIp !== undefined) { where.push('source_ip = {source_ip:String}'); params['source_ip'] = f.sourceIp; }
  if (f.requestId !== undefined) { where.push('request_id = {request_id:String}'); params['request_id'] = f.requestId; }
  return { where, params };
}

interface LogRow {
  seq: number | string;
  id: string;
  event_time: string;
  action: string;
  actor_type: string;
  actor_id: string;
  resource_path: string;
  source_ip: string;
  user_agent: string;
  success: boolean | number;
  duration_ms: number | null;
  request_id: string;
  details: string;
}

const orNull = (s: string): string | null => (s === '' ? null : s);

/** A stored event as a ScaiVault `logs[]` entry. */
export function toScaiVaultLog(r: LogRow): Record<string, unknown> {
  let extra: unknown = {};
  try {
    extra = JSON.parse(r.details);
  } catch {
    extra = {};
  }
  return {
    id: r.id,
    timestamp: `${r.event_time.replace(' ', 'T')}Z`,
    action: r.action,
    identity_type: orNull(r.actor_type),
    identity_id: orNull(r.actor_id),
    secret_path: orNull(r.resource_path),
    source_ip: orNull(r.source_ip),
    user_agent: orNull(r.user_agent),
    success: r.success === true || r.success === 1,
    duration_ms: r.duration_ms,
    request_id: orNull(r.request_id),
    extra_data: extra,
  };
}

export async function auditLogRoutes(app: FastifyInstance, deps: { auth: Authenticator; store: Store }): Promise<void> {
  app.addHook('onRequest', authenticate(deps.auth));
  app.get('/v1/audit/logs', async (req) => {
    requireScope(req.principal, 'audit:read');
    const q = new QueryReader(req.query as Record<string, unknown>);
    const filters: AuditLogFilters = {
      from: q.time('from'),
      to: q.time('to'),
      actions: q.list('action'),
      identityId: q.string('identity_id', 256),
      identityType: q.oneOf('identity_type', IDENTITY_TYPES),
      pathPrefix: q.string('path_prefix', 4096),
      success: q.bool('success'),
      sourceIp: q.string('source_ip', 64),
      requestId: q.string('request_id', 256),
    };
    const limit = q.int('limit', 1, 1000) ?? 100;
    const cursorText = q.string('cursor', 512);
    q.done();
    const tenant = req.principal.tenantId;
    const scope = scopeHash([tenant, filters]);
    const { where, params } = compileAuditFilters(tenant, filters);
    if (cursorText !== undefined) {
      where.push('seq < {before:UInt64}');
      params['before'] = decodeCursor(cursorText, scope).seq;
    }
    params['limit'] = limit + 1;
    const rows = await deps.store.query<LogRow>(
      `SELECT seq, id, event_time, action, actor_type, actor_id, resource_path, source_ip, user_agent, success, duration_ms, request_id, details
       FROM audit_events WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT {limit:UInt32}`,
      params,
    );
    const hasMore = rows.length > limit;
    const page = hasMore ? rows.slice(0, limit) : rows;
    const last = page[page.length - 1];
    return {
      logs: page.map(toScaiVaultLog),
      cursor: hasMore && last ? encodeCursor({ seq: Number(last.seq) }, scope) : null,
      has_more: hasMore,
    };
  });
}
