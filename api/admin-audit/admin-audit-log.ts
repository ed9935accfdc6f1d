// The admin projection of audit_events: the list's parameters and filters, its bounds (which the
// 422 messages quote: ./validation-error.ts), and the full entry a stored row becomes. Unlike the
// ScaiVault family, the admin family lists the API's own internal self-audit events, marked.
import type { QueryReader } from '../query/query-params.ts';
import { isoFromStore, type ScopedQuery } from '../query/scoped-query.ts';
import { orNull, parseDetails } from '../scaivault/scaivault-log.ts';
import { INTERNAL_SOURCE_FORMAT } from '../self-audit.ts';
import type { Bounds } from './validation-error.ts';

/** Longest accepted text parameter (ids, emails, actions). */
export const MAX_TEXT = 1024;
/** `per_page` ≤ 500; `page` ≤ 10,000: an offset page costs the store a sort of every row before it. */
export const PER_PAGE_MAX = 500;
export const PAGE_MAX = 10_000;
export const PER_PAGE_DEFAULT = 50;

/** Each parameter's limits, as the 422 messages state them. */
export const BOUNDS: Record<string, Bounds> = {
  page: { ge: 1, le: PAGE_MAX },
  per_page: { ge: 1, le: PER_PAGE_MAX },
};
export const textBounds: Bounds = { min_length: 1, max_length: MAX_TEXT };

/** The list's filters, keyed by their parameter names (as the self-audit records them). */
export interface AdminAuditFilters {
  tenant_id?: string | undefined;
  partner_id?: string | undefined;
  actor_id?: string | undefined;
  actor_email?: string | undefined;
  action?: string | undefined;
  resource_type?: string | undefined;
  resource_id?: string | undefined;
  result?: string | undefined;
  start_time?: string | undefined;
  end_time?: string | undefined;
  ip_address?: string | undefined;
}

/** The list's filter parameters, in the document's order (422 details follow it). */
export function readAdminFilters(q: QueryReader): AdminAuditFilters {
  return {
    tenant_id: q.string('tenant_id', MAX_TEXT),
    partner_id: q.string('partner_id', MAX_TEXT),
    actor_id: q.string('actor_id', MAX_TEXT),
    actor_email: q.string('actor_email', MAX_TEXT),
    action: q.string('action', MAX_TEXT),
    resource_type: q.string('resource_type', MAX_TEXT),
    resource_id: q.string('resource_id', MAX_TEXT),
    result: q.string('result', MAX_TEXT),
    start_time: q.time('start_time'),
    end_time: q.time('end_time'),
    ip_address: q.string('ip_address', MAX_TEXT),
  };
}

/** Every filter but the tenant ones (those make the query's TenantScope): exact matches, time [start, end). */
export function applyAdminFilters(q: ScopedQuery, f: AdminAuditFilters): ScopedQuery {
  return q
    .eq('actor_id', 'String', f.actor_id)
    .eq('actor_email', 'String', f.actor_email)
    .eq('action', 'String', f.action)
    .eq('resource_type', 'String', f.resource_type)
    .eq('resource_id', 'String', f.resource_id)
    .eq('outcome', 'String', f.result)
    .timeRange('event_time', f.start_time, f.end_time)
    .eq('source_ip', 'String', f.ip_address);
}

/** Newest first; tenant and seq make the order total, so offset pages neither skip nor repeat. */
export const NEWEST_FIRST = 'ORDER BY event_time DESC, tenant_id, seq DESC';

export const ENTRY_COLUMNS =
  'tenant_id, seq, id, partner_id, event_time, received_at, event_type, action, category, severity, outcome, success, ' +
  'actor_id, actor_type, actor_email, service_account, resource_type, resource_id, resource_name, resource_path, share_id, ' +
  'source_ip, user_agent, request_id, duration_ms, action_source, details, source_format';

export interface EntryRow {
  tenant_id: string; seq: number; id: string; partner_id: string; event_time: string; received_at: string;
  event_type: string; action: string; category: string; severity: string; outcome: string; success: boolean | number;
  actor_id: string; actor_type: string; actor_email: string; service_account: string | null; resource_type: string;
  resource_id: string; resource_name: string; resource_path: string; share_id: string; source_ip: string;
  user_agent: string; request_id: string; duration_ms: number | null; action_source: string; details: string;
  source_format: string;
}

/** A stored event as an admin audit entry (the list's items and `/{log_id}` are the same shape). */
export function toAdminEntry(r: EntryRow): Record<string, unknown> {
  return {
    id: r.id,
    tenant_id: r.tenant_id,
    partner_id: orNull(r.partner_id),
    timestamp: isoFromStore(r.event_time),
    received_at: isoFromStore(r.received_at),
    event_type: r.event_type,
    action: r.action,
    category: r.category,
    severity: r.severity,
    result: r.outcome,
    success: r.success === true || r.success === 1,
    actor_id: orNull(r.actor_id),
    actor_email: orNull(r.actor_email),
    actor_type: orNull(r.actor_type),
    service_account: r.service_account,
    resource_type: orNull(r.resource_type),
    resource_id: orNull(r.resource_id),
    resource_name: orNull(r.resource_name),
    resource_path: orNull(r.resource_path),
    share_id: orNull(r.share_id),
    ip_address: orNull(r.source_ip),
    user_agent: orNull(r.user_agent),
    request_id: orNull(r.request_id),
    duration_ms: r.duration_ms,
    action_source: orNull(r.action_source),
    details: parseDetails(r.details),
    is_internal: r.source_format === INTERNAL_SOURCE_FORMAT,
  };
}
