// The pure processor: one log message (already decoded) → an Outcome. No I/O.
//
// Messages written by our own ingest carry headers saying they are already validated and
// normalised (`af-format: log-v1`, `af-tenant`, `af-id`): their bytes pass through untouched —
// the JSON round trip would cost more than the insert. Anything else (a service producing
// straight to Kafka, JSON or Avro, in any accepted shape) is validated and normalised exactly
// as HTTP ingest does.
import type { LogMessage } from '../infra/log/log.ts';
import type { EventKind } from '../schemas/event-model.ts';
import { normalizeAudit, normalizeChange } from '../schemas/normalize.ts';
import { ID_HEADER, LOG_FORMAT, LOG_FORMAT_HEADER, TENANT_HEADER } from '../schemas/log-headers.ts';
import { dlq, ok, type Outcome } from './outcome.ts';


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
  return ok({ tenantId, id: n.value.id, body: Buffer.from(JSON.stringify(n.value)) });
}
