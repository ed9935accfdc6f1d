// One ingest request, without HTTP: body bytes → parsed, validated, normalised, encoded events →
// one durable log append. All or nothing: any invalid event rejects the whole body.
import type { Config } from '../infra/config.ts';
import { AuditflowError, type ErrorDetail } from '../infra/errors.ts';
import type { LogProducer, LogRecord } from '../infra/log/log.ts';
import type { AuditEvent, EventKind } from '../schemas/event-model.ts';
import { normalizeAudit, normalizeChange, type Principal } from '../schemas/normalize.ts';
import type { MessageCodec } from '../schemas/message-codec.ts';
import { logHeaders } from '../schemas/log-headers.ts';
import { isPermissionChange, permissionChangeEntry } from '../processors/permission-change.ts';
import { decodeBody, parseJsonBody, parseNdjsonBody } from './request-body.ts';

export interface IngestBatchDeps {
  config: Config;
  producer: LogProducer;
  /** JSON, or Avro in the Confluent wire format when a schema registry is configured. */
  codec: MessageCodec;
}

export interface IngestBody {
  kind: EventKind;
  principal: Principal;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  raw: Buffer;
}

export interface IngestResult {
  accepted: number;
  ids: string[];
}

const MAX_DETAILS = 100;

export async function ingestBatch(deps: IngestBatchDeps, req: IngestBody): Promise<IngestResult> {
  const { config, producer, codec } = deps;
  const { kind, principal, raw } = req;
  if (raw.length === 0) throw new AuditflowError('BODY_MALFORMED', 'request body is empty');
  const type = (req.contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  const body = await decodeBody(raw, req.contentEncoding, config.ingest.maxBodyBytes);
  let items: unknown[];
  if (type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonl') items = parseNdjsonBody(body);
  else if (type === 'application/json') items = parseJsonBody(body);
  else throw new AuditflowError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${type} is not accepted (use application/json or application/x-ndjson)`);
  if (items.length === 0) throw new AuditflowError('BODY_MALFORMED', 'no events in the body');
  if (items.length > config.ingest.maxEvents) throw new AuditflowError('BODY_TOO_LARGE', `at most ${config.ingest.maxEvents} events per request, got ${items.length}`);

  const errors: ErrorDetail[] = [];
  let invalid = 0;
  let records: LogRecord[] = [];
  /** The ChangeLog rows permission changes also write (../processors/permission-change.ts). */
  let changes: LogRecord[] = [];
  const ids: string[] = [];
  const encodeSync = codec.encodeSync;
  for (let i = 0; i < items.length; i++) {
    const n = kind === 'audit' ? normalizeAudit(items[i], principal, i) : normalizeChange(items[i], principal, i);
    items[i] = undefined; // NOTE: parsed objects die young instead of living through the fsync
    if (!n.ok) {
      invalid++;
      errors.push(...n.errors.slice(0, MAX_DETAILS - errors.length));
      continue;
    }
    if (invalid > 0) continue;
    const e = n.value;
    const value = encodeSync ? encodeSync(kind, e) : await codec.encode(kind, e);
    records.push({ key: principal.tenantId, value, headers: logHeaders({ tenantId: principal.tenantId, id: e.id }) });
    ids.push(e.id);
    if (kind === 'audit' && isPermissionChange(e as AuditEvent)) {
      const c = permissionChangeEntry(e as AuditEvent);
      const cv = encodeSync ? encodeSync('change', c) : await codec.encode('change', c);
      changes.push({ key: principal.tenantId, value: cv, headers: logHeaders({ tenantId: principal.tenantId, id: c.id }) });
    }
  }
  if (invalid > 0) {
    if (errors.some((e) => e.path === '/tenant_id' || e.path === '/partner_id')) {
      throw new AuditflowError('TENANT_MISMATCH', "an event names a tenant or partner other than the token's; nothing was accepted", { details: errors });
    }
    throw new AuditflowError('VALIDATION_FAILED', `${invalid} of ${items.length} events are invalid; nothing was accepted`, { details: errors });
  }
  const accepted = records.length;
  const sending = producer.send(kind === 'audit' ? config.kafka.topics.auditEvents : config.kafka.topics.changes, records);
  // Both appends are durable before the 202; if either fails the request fails, and the retry's
  // derived rows have the same ids (derived from the audit ids), so they are stored once.
  const derived = changes.length > 0 ? producer.send(config.kafka.topics.changes, changes) : undefined;
  // NOTE: this frame stops holding the records while the send waits for durability: the
  // embedded log has encoded them already, and ~1 MB of value strings per request in flight
  // would otherwise survive young-generation collections and be copied or promoted. (A producer
  // that still needs them, like kafkajs, keeps its own reference.)
  records = [];
  changes = [];
  await Promise.all([sending, derived]);
  return { accepted, ids };
}
