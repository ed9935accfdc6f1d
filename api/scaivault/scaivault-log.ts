// The ScaiVault projection of audit_events: its filters (shared by the logs listing, the trails
// and the summary, so their totals agree) and the `logs[]` entry a stored row becomes.
import { IDENTITY_TYPES } from '../../schemas/event-model.ts';
import type { QueryReader } from '../query/query-params.ts';
import { isoFromStore, type ScopedQuery } from '../query/scoped-query.ts';

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

export type AuditLogFilterParam = 'from' | 'to' | 'action' | 'identity_id' | 'identity_type' | 'path_prefix' | 'success' | 'source_ip' | 'request_id';

/**
 * The `/v1/audit/logs` filter parameters, read strictly. `omit` leaves parameters unread, so they
 * are refused as unknown (a trail's own subject is not also a filter).
 */
export function readAuditLogFilters(q: QueryReader, omit: readonly AuditLogFilterParam[] = []): AuditLogFilters {
  const read = <T>(name: AuditLogFilterParam, parse: (name: string) => T): T | undefined => (omit.includes(name) ? undefined : parse(name));
  return {
    from: read('from', (n) => q.time(n)),
    to: read('to', (n) => q.time(n)),
    actions: read('action', (n) => q.list(n)),
    identityId: read('identity_id', (n) => q.string(n, 256)),
    identityType: read('identity_type', (n) => q.oneOf(n, IDENTITY_TYPES)),
    pathPrefix: read('path_prefix', (n) => q.string(n, 4096)),
    success: read('success', (n) => q.bool(n)),
    sourceIp: read('source_ip', (n) => q.string(n, 64)),
    requestId: read('request_id', (n) => q.string(n, 256)),
  };
}

/** Internal audit events (the API's own reads: ../self-audit.ts) are the admin family's, not ScaiVault's. */
export const INTERNAL_SOURCE = 'internal';

/** The ScaiVault filters onto a query over audit_events. */
export function applyAuditLogFilters(q: ScopedQuery, f: AuditLogFilters): ScopedQuery {
  return q
    .ne('source_format', 'String', INTERNAL_SOURCE)
    .timeRange('event_time', f.from, f.to)
    .in('action', f.actions)
    .eq('actor_id', 'String', f.identityId)
    .eq('actor_type', 'String', f.identityType)
    .startsWith('resource_path', f.pathPrefix)
    .eq('success', 'Bool', f.success)
    .eq('source_ip', 'String', f.sourceIp)
    .eq('request_id', 'String', f.requestId);
}

export const LOG_COLUMNS = 'seq, id, event_time, action, actor_type, actor_id, resource_path, source_ip, user_agent, success, duration_ms, request_id, details';

export interface LogRow {
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

export const orNull = (s: string): string | null => (s === '' ? null : s);

export function parseDetails(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

/** A stored event as a ScaiVault `logs[]` entry. */
export function toScaiVaultLog(r: LogRow): Record<string, unknown> {
  return {
    id: r.id,
    timestamp: isoFromStore(r.event_time),
    action: r.action,
    identity_type: orNull(r.actor_type),
    identity_id: orNull(r.actor_id),
    secret_path: orNull(r.resource_path),
    source_ip: orNull(r.source_ip),
    user_agent: orNull(r.user_agent),
    success: r.success === true || r.success === 1,
    duration_ms: r.duration_ms,
    request_id: orNull(r.request_id),
    extra_data: parseDetails(r.details),
  };
}

/** The filter parameters as JSON Schema properties (OpenAPI documentation of readAuditLogFilters). */
export const LOG_FILTER_PARAMS: Record<AuditLogFilterParam, { type: string; maxLength?: number; format?: string; enum?: readonly string[]; description?: string }> = {
  from: { type: 'string', format: 'date-time', description: 'Start time (ISO 8601), inclusive' },
  to: { type: 'string', format: 'date-time', description: 'End time (ISO 8601), exclusive' },
  action: { type: 'string', maxLength: 8192, description: 'One action, or several comma-separated' },
  identity_id: { type: 'string', maxLength: 256, description: 'Exact match' },
  identity_type: { type: 'string', enum: IDENTITY_TYPES },
  path_prefix: { type: 'string', maxLength: 4096, description: 'Secret path prefix' },
  success: { type: 'boolean' },
  source_ip: { type: 'string', maxLength: 64, description: 'Exact match' },
  request_id: { type: 'string', maxLength: 256, description: 'Exact match' },
};
