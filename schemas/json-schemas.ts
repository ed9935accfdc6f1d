// JSON Schemas for everything ingest accepts: the canonical model and the native shapes of the
// seed documents (ScaiDrive audit event, ScaiVault log entry, ScaiDrive ChangeLog row), each
// accepted exactly as its document's example stands. Unknown top-level fields are rejected:
// for a compliance record a misspelt field silently dropped is worse than a 400.
import { CATEGORIES, CHANGE_TYPES, IDENTITY_TYPES, RESOURCE_TYPES, SEVERITIES } from './event-model.ts';

const str = (maxLength = 1024) => ({ type: 'string', maxLength }) as const;
const nullableStr = (maxLength = 1024) => ({ type: ['string', 'null'], maxLength }) as const;
const id = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:\\-]+$' } as const;
const time = { type: 'string', format: 'date-time', maxLength: 64 } as const;
const obj = { type: 'object' } as const;
const ms = { type: ['integer', 'null'], minimum: 0, maximum: 4294967295 } as const;

/** Fields the ScaiDrive event, the canonical model and the log form share, with one definition. */
const commonAuditFields = {
  id,
  tenant_id: id,
  event_time: time,
  event_type: str(128),
  action: str(128),
  category: { enum: CATEGORIES },
  severity: { enum: SEVERITIES },
  outcome: str(64),
  share_id: str(256),
  user_agent: str(1024),
  request_id: str(256),
  duration_ms: ms,
  action_source: str(64),
} as const;

/** ScaiDrive audit event, as in "Audit events" of scaidrive-events-and-realtime.txt. */
export const scaidriveAuditSchema = {
  $id: 'scaidrive-audit-event',
  type: 'object',
  additionalProperties: false,
  required: ['event_type', 'category', 'action', 'event_time'],
  properties: {
    ...commonAuditFields,
    partner_id: id,
    user_id: str(256),
    user_email: str(320),
    identity_type: { enum: IDENTITY_TYPES },
    service_account: nullableStr(256),
    resource_type: str(64),
    resource_id: str(256),
    resource_name: str(1024),
    resource_path: str(4096),
    ip_address: str(64),
    details: obj,
  },
} as const;

/** ScaiVault audit log entry, as in the `logs[]` example of scaivault-audit-logs-api.txt. */
export const scaivaultLogSchema = {
  $id: 'scaivault-log',
  type: 'object',
  additionalProperties: false,
  required: ['timestamp', 'action', 'success'],
  properties: {
    id,
    tenant_id: id,
    partner_id: id,
    timestamp: time,
    action: str(128),
    identity_type: { enum: IDENTITY_TYPES },
    identity_id: str(256),
    secret_path: str(4096),
    source_ip: str(64),
    user_agent: str(1024),
    success: { type: 'boolean' },
    duration_ms: ms,
    request_id: str(256),
    extra_data: obj,
  },
} as const;

/** The canonical model as a producer writes it: actor and resource as nested objects. */
export const canonicalAuditSchema = {
  $id: 'canonical-audit-event',
  type: 'object',
  additionalProperties: false,
  required: ['event_type', 'category', 'action', 'event_time'],
  properties: {
    ...commonAuditFields,
    partner_id: id,
    success: { type: 'boolean' },
    actor: {
      type: 'object',
      additionalProperties: false,
      properties: {
        id: str(256),
        type: { enum: IDENTITY_TYPES },
        email: str(320),
        service_account: nullableStr(256),
      },
    },
    resource: {
      type: 'object',
      additionalProperties: false,
      properties: { type: str(64), id: str(256), name: str(1024), path: str(4096) },
    },
    source_ip: str(64),
    details: obj,
  },
} as const;

/**
 * The flat log form (schemas/event-model.ts AuditEvent): what our ingest writes to the log and
 * what a service producing straight to Kafka may write too.
 */
export const logAuditSchema = {
  $id: 'log-audit-event',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'tenant_id', 'event_time', 'event_type', 'action', 'category', 'source_format'],
  properties: {
    ...commonAuditFields,
    partner_id: { type: 'string', maxLength: 128 },
    success: { type: 'boolean' },
    actor_id: str(256),
    actor_type: { enum: [...IDENTITY_TYPES, ''] },
    actor_email: str(320),
    service_account: nullableStr(256),
    resource_type: str(64),
    resource_id: str(256),
    resource_name: str(1024),
    resource_path: str(4096),
    source_ip: str(64),
    details: { type: 'string', maxLength: 1048576 },
    source_format: { enum: ['canonical', 'scaidrive', 'scaivault'] },
  },
} as const;

/** ScaiDrive ChangeLog row, as in "The change log" example (plus optional tenant_id/share_id). */
export const changeSchema = {
  $id: 'scaidrive-change',
  type: 'object',
  additionalProperties: false,
  required: ['resource_type', 'resource_id', 'change_type', 'changed_by', 'changed_at'],
  properties: {
    id,
    tenant_id: id,
    resource_type: { enum: RESOURCE_TYPES },
    resource_id: str(256),
    change_type: { enum: CHANGE_TYPES },
    changed_by: str(256),
    changed_at: time,
    metadata: { type: ['object', 'string'] },
    old_path: nullableStr(4096),
    new_path: nullableStr(4096),
    version_id: nullableStr(256),
    share_id: str(256),
  },
} as const;
