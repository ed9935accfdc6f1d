// The pure processor: one log message (already decoded) → an Outcome. No I/O.
//
// Messages written by our own ingest carry headers saying they are already validated and
// normalised (`af-format: log-v1`, `af-tenant`, `af-id`): their bytes pass through untouched —
// the JSON round trip would cost more than the insert. Anything else (a service producing
// straight to Kafka, JSON or Avro, in any accepted shape) is validated and normalised exactly
// as HTTP ingest does.
import type { LogMessage } from '../infra/log/log.ts';
import type { AuditEvent, EventKind } from '../schemas/event-model.ts';
import { normalizeAudit, normalizeChange } from '../schemas/normalize.ts';
import { ID_HEADER, LOG_FORMAT, LOG_FORMAT_HEADER, TENANT_HEADER } from '../schemas/log-headers.ts';
import { dlq, ok, okWithChange, type Outcome } from './outcome.ts';
import { isPermissionChange, permissionChangeEntry } from './permission-change.ts';


/** Written by our ingest as JSON: the bytes can go to the store as they are. (Avro is decoded.) */
export function isTrusted(msg: LogMessage): boolean {
  return msg.headers[LOG_FORMAT_HEADER] === LOG_FORMAT && !!msg.headers[TENANT_HEADER] && !!msg.headers[ID_HEADER]
    && msg.value !== null && msg.value[0] === 0x7b; // '{'
}

export function processTrusted(msg: LogMessage): Outcome {
  return ok({ tenantId: msg.headers[TENANT_HEADER]!, id: msg.headers[ID_HEADER]!, body: msg.value! });
}

/** Validates and normalises a decoded message of unknown provenance. */
export function processDecoded(kind: EventKind, msg: LogMessage, decoded: unknown): Outcome {
  if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) return dlq('VALIDATION_FAILED', 'message is not a JSON object');
  const bodyTenant = (decoded as Record<string, unknown>)['tenant_id'];
  const tenantId = typeof bodyTenant === 'string' && bodyTenant !== '' ? bodyTenant : msg.key;
  if (!tenantId) return dlq('VALIDATION_FAILED', 'no tenant: neither a tenant_id field nor a message key');
  const n = kind === 'audit' ? normalizeAudit(decoded, { tenantId }) : normalizeChange(decoded, { tenantId });
  if (!n.ok) return dlq('VALIDATION_FAILED', n.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
  const event = { tenantId, id: n.value.id, body: Buffer.from(JSON.stringify(n.value)) };
  if (kind === 'audit' && isPermissionChange(n.value as AuditEvent)) {
    // Produced straight to Kafka, so our ingest did not derive its ChangeLog row: the sink sends it.
    const c = permissionChangeEntry(n.value as AuditEvent);
    return okWithChange(event, { tenantId, id: c.id, body: Buffer.from(JSON.stringify(c)) });
  }
  return ok(event);
}
