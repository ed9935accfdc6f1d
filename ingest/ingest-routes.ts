// POST /v1/ingest/audit-events and /v1/ingest/changes. 202 only once every event is durable in
// the log; any invalid event → 400 with per-index details and nothing accepted.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireScope, type Authenticator } from '../infra/auth/jwt.ts';
import type { Config } from '../infra/config.ts';
import { AuditflowError, type ErrorDetail } from '../infra/errors.ts';
import type { LogProducer, LogRecord } from '../infra/log/log.ts';
import type { AuditEvent, ChangeEntry, EventKind } from '../schemas/event-model.ts';
import { normalizeAudit, normalizeChange } from '../schemas/normalize.ts';
import { logHeaders } from '../processors/store-sink.ts';
import { authenticate } from '../api/auth-plugin.ts';
import type { MessageCodec } from '../schemas/message-codec.ts';
import { decodeBody, parseJsonBody, parseNdjsonBody } from './request-body.ts';

export interface IngestDeps {
  config: Config;
  auth: Authenticator;
  producer: LogProducer;
  /** JSON, or Avro in the Confluent wire format when a schema registry is configured. */
  codec: MessageCodec;
}

const MAX_DETAILS = 100;

export async function ingestRoutes(app: FastifyInstance, deps: IngestDeps): Promise<void> {
  const { config, producer, codec } = deps;
  // Bodies arrive as raw bytes: gzip and NDJSON are handled here, not by Fastify's JSON parser.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.ingest.maxBodyBytes }, (_req, body, done) => done(null, body));

  const handle = (kind: EventKind) => async (req: FastifyRequest) => {
    requireScope(req.principal, 'audit:write');
    const raw = req.body;
    if (!Buffer.isBuffer(raw) || raw.length === 0) throw new AuditflowError('BODY_MALFORMED', 'request body is empty');
    const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
    const body = await decodeBody(raw, req.headers['content-encoding'], config.ingest.maxBodyBytes);
    let items: unknown[];
    if (type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonl') items = parseNdjsonBody(body);
    else if (type === 'application/json') items = parseJsonBody(body);
    else throw new AuditflowError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${type} is not accepted (use application/json or application/x-ndjson)`);
    if (items.length === 0) throw new AuditflowError('BODY_MALFORMED', 'no events in the body');
    if (items.length > config.ingest.maxEvents) throw new AuditflowError('BODY_TOO_LARGE', `at most ${config.ingest.maxEvents} events per request, got ${items.length}`);

    const principal = { tenantId: req.principal.tenantId, partnerId: req.principal.partnerId };
    const errors: ErrorDetail[] = [];
    let invalid = 0;
    const events: (AuditEvent | ChangeEntry)[] = [];
    for (let i = 0; i < items.length; i++) {
      const n = kind === 'audit' ? normalizeAudit(items[i], principal, i) : normalizeChange(items[i], principal, i);
      if (!n.ok) {
        invalid++;
        errors.push(...n.errors.slice(0, MAX_DETAILS - errors.length));
        continue;
      }
      if (invalid > 0) continue;
      events.push(n.value);
    }
    if (invalid > 0) {
      if (errors.some((e) => e.path === '/tenant_id' || e.path === '/partner_id')) {
        throw new AuditflowError('TENANT_MISMATCH', "an event names a tenant or partner other than the token's; nothing was accepted", { details: errors });
      }
      throw new AuditflowError('VALIDATION_FAILED', `${invalid} of ${items.length} events are invalid; nothing was accepted`, { details: errors });
    }
    const records: LogRecord[] = [];
    const encodeSync = codec.encodeSync;
    for (const e of events) {
      const value = encodeSync ? encodeSync(kind, e) : await codec.encode(kind, e);
      records.push({ key: principal.tenantId, value, headers: logHeaders({ tenantId: principal.tenantId, id: e.id }) });
    }
    await producer.send(kind === 'audit' ? config.kafka.topics.auditEvents : config.kafka.topics.changes, records);
    return { accepted: records.length, ids: events.map((e) => e.id) };
  };

  // onRequest: an unauthenticated caller is refused before its body is read.
  app.addHook('onRequest', authenticate(deps.auth));
  app.post('/v1/ingest/audit-events', async (req, reply) => reply.code(202).send(await handle('audit')(req)));
  app.post('/v1/ingest/changes', async (req, reply) => reply.code(202).send(await handle('change')(req)));
}
