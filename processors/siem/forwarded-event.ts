// What a SIEM receives for one audit event: the canonical event with `details` parsed. Built from
// the log form (the forwarder's path) or from a stored audit_events row (replays read the store).
// Both build the same object with the same key order, so a replayed event is byte-identical to
// the one forwarded live.
import type { AuditEvent } from '../../schemas/event-model.ts';
import { parseDetailsObject } from '../../schemas/details.ts';
import type { ForwardedEvent } from './siem-types.ts';

export { parseDetailsObject };

const str = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : str(v));
const numOrNull = (v: unknown): number | null => {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
};
/** A stored DateTime64(3) (`2026-04-23 10:15:02.000`) or an ISO instant → ISO 8601 UTC with ms. */
function isoTime(v: unknown): string {
  const s = str(v);
  if (s === '') return s;
  const iso = s.includes('T') ? s : `${s.replace(' ', 'T')}Z`;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : s;
}

/**
 * The one place the forwarded shape is built: every canonical field, in the model's order; fields
 * the input has beyond them (a stored row's seq, log position) are left out.
 */
function build(o: Record<string, unknown>): ForwardedEvent {
  return {
    id: str(o['id']),
    tenant_id: str(o['tenant_id']),
    partner_id: str(o['partner_id']),
    event_time: isoTime(o['event_time']),
    event_type: str(o['event_type']),
    action: str(o['action']),
    category: str(o['category']),
    severity: str(o['severity']),
    outcome: str(o['outcome']),
    success: o['success'] === true || o['success'] === 1 || o['success'] === 'true',
    actor_id: str(o['actor_id']),
    actor_type: str(o['actor_type']),
    actor_email: str(o['actor_email']),
    service_account: strOrNull(o['service_account']),
    resource_type: str(o['resource_type']),
    resource_id: str(o['resource_id']),
    resource_name: str(o['resource_name']),
    resource_path: str(o['resource_path']),
    share_id: str(o['share_id']),
    source_ip: str(o['source_ip']),
    user_agent: str(o['user_agent']),
    request_id: str(o['request_id']),
    duration_ms: numOrNull(o['duration_ms']),
    action_source: str(o['action_source']),
    details: parseDetailsObject(o['details']),
    // NOTE: kept as it is, `internal` (the API's own reads, api/self-audit.ts) included.
    source_format: str(o['source_format']) as AuditEvent['source_format'],
  };
}

/** From a canonical event (the log form, already parsed). */
export function forwardedFromEvent(ev: AuditEvent): ForwardedEvent {
  return build(ev as unknown as Record<string, unknown>);
}

/**
 * From the log form's JSON bytes (our own records: `af-format: log-v1`). Throws on bytes that are
 * not a JSON object: the caller routes other records through normalisation first.
 */
export function forwardedFromLog(bytes: Uint8Array | string): ForwardedEvent {
  const v: unknown = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError('a log-form audit event must be a JSON object');
  return build(v as Record<string, unknown>);
}

/** From a stored audit_events row as the store returns it (JSONEachRow: times without `T`/`Z`, UInt as strings). */
export function forwardedFromRow(row: Record<string, unknown>): ForwardedEvent {
  return build(row);
}
