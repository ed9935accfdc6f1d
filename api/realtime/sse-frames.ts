// Stored audit rows → the SSE document's two event types, with exactly its `data` fields.
// Decided where the document is silent (README "SSE"):
//  - events our own APIs recorded (self-audit, source_format "internal") are
//    `internal_audit_log_created`; every other stored event is `audit_log_created`;
//  - the ids (auditLogId, internalAuditLogId) are the event's id (`aud_…`), the id the admin
//    API's GET /api/v1/admin/audit/{log_id} takes — not a number as in the document's example,
//    since ours are strings;
//  - decision: "permit" when the event succeeded, "deny" otherwise;
//  - provider / model: the event's details.provider / details.model, null when absent;
//  - action: the event_type (e.g. `audit.read`), dashboardUserId the actor, outcomeStatus the
//    outcome, outcomeCode details.code (null when absent).
import type { LiveRow } from './readable-feed.ts';
import { parseDetailsObject } from '../../schemas/details.ts';

export const INTERNAL = 'internal';

export interface SseFrame {
  type: 'audit_log_created' | 'internal_audit_log_created';
  data: Record<string, unknown>;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const succeeded = (row: LiveRow): boolean => row['success'] === true || row['success'] === 1 || row['success'] === 'true';

export function sseFrame(row: LiveRow): SseFrame {
  const details = parseDetailsObject(row['details']);
  const decision = succeeded(row) ? 'permit' : 'deny';
  if (row['source_format'] === INTERNAL) {
    return {
      type: 'internal_audit_log_created',
      data: {
        internalAuditLogId: row['id'],
        requestId: text(row['request_id']),
        dashboardUserId: text(row['actor_id']),
        action: row['event_type'],
        resourceType: text(row['resource_type']),
        resourceId: text(row['resource_id']),
        outcomeStatus: row['outcome'],
        outcomeCode: text(details['code']),
        decision,
      },
    };
  }
  return {
    type: 'audit_log_created',
    data: {
      auditLogId: row['id'],
      requestId: text(row['request_id']),
      timestamp: row['event_time'],
      decision,
      provider: text(details['provider']),
      model: text(details['model']),
    },
  };
}
