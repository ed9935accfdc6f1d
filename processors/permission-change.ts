// Permission changes enter the ChangeLog too. They arrive as audit events (ScaiDrive's
// `share.permission_change`, category `sharing`), but a permission change is a mutation of a share,
// and every mutation writes exactly one ChangeLog row (scaidrive-events-and-realtime.txt). So an
// accepted permission-change audit event is ALSO written to the changes topic as a derived change,
// and the Egnyte Events API (api/egnyte/) — a projection of the ChangeLog — reports it as a
// `permission_change` event with its `eventTypeSpecificAttributes`.
//
// One pure derivation, called by both ways in: HTTP ingest (ingest/ingest-batch.ts) and audit
// events produced straight to Kafka (processors/event-processor.ts, sent by the store sink before
// the audit batch's offset is committed). The derived id is a function of the audit id, so a
// re-send or a replay writes the same row, which the sink dedupes by (tenant, id).
import { createHash } from 'node:crypto';
import { RESOURCE_TYPES, type AuditEvent, type ChangeEntry } from '../schemas/event-model.ts';

/** The metadata key that marks a ChangeLog row as a derived permission change. */
export const PERMISSION_CHANGE_KEY = 'permission_change';

/** Id prefix of derived rows (the rest: 128 bits of sha256 of the audit id). */
export const PERMISSION_CHANGE_ID_PREFIX = 'chg_pc_';

/** Egnyte's `eventTypeSpecificAttributes` of a permission_change event (egnyte-events-api.txt, v2 sample). */
export interface PermissionChangeAttributes {
  changeGroupEvents: unknown[];
  changePermissionEvent: { changedPermissions: { entry: { priv: string; subject: string }; action: string }[] };
}

/**
 * Is this audit event a permission change? Category first: for every other event the check is
 * one string comparison (the ingest hot path pays nothing else).
 */
export function isPermissionChange(e: Pick<AuditEvent, 'category' | 'action' | 'event_type'>): boolean {
  return e.category === 'sharing' && (e.action === 'permission_change' || e.event_type === 'share.permission_change');
}

export function permissionChangeId(auditId: string): string {
  return PERMISSION_CHANGE_ID_PREFIX + createHash('sha256').update(auditId).digest('hex').slice(0, 32);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const rec = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/**
 * The audit event's details → Egnyte's attributes. Accepted, in this order:
 * `changedPermissions`, `changed_permissions`, `changePermissionEvent.changedPermissions`; each
 * item flat `{subject, priv, action}` or already Egnyte's `{entry: {priv, subject}, action}`
 * (values kept as given; a non-string becomes ""). `changeGroupEvents` / `change_group_events`
 * pass through when they are arrays. Anything else: empty lists.
 */
export function permissionChangeAttributes(details: unknown): PermissionChangeAttributes {
  const d = rec(details) ?? {};
  const list = d['changedPermissions'] ?? d['changed_permissions'] ?? rec(d['changePermissionEvent'])?.['changedPermissions'];
  const changedPermissions: PermissionChangeAttributes['changePermissionEvent']['changedPermissions'] = [];
  if (Array.isArray(list)) {
    for (const item of list) {
      const o = rec(item);
      if (o === undefined) continue;
      const entry = rec(o['entry']) ?? o;
      changedPermissions.push({ entry: { priv: str(entry['priv']), subject: str(entry['subject']) }, action: str(o['action']) });
    }
  }
  const groups = d['changeGroupEvents'] ?? d['change_group_events'];
  return { changeGroupEvents: Array.isArray(groups) ? groups : [], changePermissionEvent: { changedPermissions } };
}

function parseObject(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

/**
 * The ChangeLog row a permission-change audit event writes (log form, ready for the changes topic).
 * resource_type: the event's when it is file|folder|share, else `share` (what a permission change
 * mutates); resource_id falls back to the share id; new_path is the event's resource path.
 */
export function permissionChangeEntry(e: AuditEvent): ChangeEntry {
  const resourceType = (RESOURCE_TYPES as readonly string[]).includes(e.resource_type) ? e.resource_type : 'share';
  const metadata = {
    [PERMISSION_CHANGE_KEY]: permissionChangeAttributes(parseObject(e.details)),
    source_event_id: e.id,
    action_source: e.action_source,
    service_account: e.service_account,
  };
  return {
    id: permissionChangeId(e.id),
    tenant_id: e.tenant_id,
    resource_type: resourceType,
    resource_id: e.resource_id || e.share_id,
    change_type: 'updated',
    changed_by: e.actor_id,
    changed_at: e.event_time,
    metadata: JSON.stringify(metadata),
    old_path: null,
    new_path: e.resource_path === '' ? null : e.resource_path,
    version_id: null,
    share_id: e.share_id,
  };
}
