// POST /v1/ingest/audit-events and /v1/ingest/changes. 202 only once every event is durable in
// the log; any invalid event → 400 with per-index details and nothing accepted.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireScope, type Authenticator } from '../infra/auth/jwt.ts';
import { AuditflowError } from '../infra/errors.ts';
import type { EventKind } from '../schemas/event-model.ts';
import { authenticate } from '../api/auth-plugin.ts';
import { docSchema, errorResponses } from '../api/service/openapi.ts';
import { canonicalAuditSchema, changeSchema, logAuditSchema, scaidriveAuditSchema, scaivaultLogSchema } from '../schemas/json-schemas.ts';
import { ingestBatch, type IngestBatchDeps, type IngestResult } from './ingest-batch.ts';

export interface IngestDeps extends IngestBatchDeps {
  auth: Authenticator;
  /** Told how many events of a kind each request made durable (metrics). */
  onAccepted?: ((kind: EventKind, n: number) => void) | undefined;
}

/**
 * The route schemas, for the OpenAPI document only: the body is read as raw bytes (JSON array or
 * NDJSON, maybe gzip) and validated by ingest itself, event by event, with per-index details.
 */
function ingestSchema(kind: EventKind): Record<string, unknown> {
  const shapes = kind === 'audit'
    ? [scaidriveAuditSchema, scaivaultLogSchema, canonicalAuditSchema, logAuditSchema].map(docSchema)
    : [docSchema(changeSchema)];
  return {
    summary: kind === 'audit' ? 'Ingest audit events' : 'Ingest ScaiDrive changes',
    description: 'A JSON array, or NDJSON (one event per line) with `Content-Type: application/x-ndjson`; '
      + '`Content-Encoding: gzip` accepted. Scope `audit:write`; the tenant is the token\'s `tid`. '
      + '202 only once every event is durable in the log; any invalid event: 400 with per-index `details` and nothing accepted. '
      + 'An event re-sent with the same `id` is stored once.',
    tags: ['ingest'],
    consumes: ['application/json', 'application/x-ndjson'],
    body: { type: 'array', minItems: 1, items: shapes.length === 1 ? shapes[0] : { oneOf: shapes } },
    response: {
      202: {
        description: 'Every event is durable',
        type: 'object', required: ['accepted', 'ids'],
        properties: { accepted: { type: 'integer' }, ids: { type: 'array', items: { type: 'string' } } },
      },
      ...errorResponses(400, 401, 403, 413, 415, 503),
    },
  };
}

export async function ingestRoutes(app: FastifyInstance, deps: IngestDeps): Promise<void> {
  const { config } = deps;
  // Bodies arrive as raw bytes: gzip and NDJSON are handled here, not by Fastify's JSON parser.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.ingest.maxBodyBytes }, (_req, body, done) => done(null, body));

  const handle = (kind: EventKind) => async (req: FastifyRequest): Promise<IngestResult> => {
    requireScope(req.principal, 'audit:write');
    const raw = req.body;
    if (!Buffer.isBuffer(raw)) throw new AuditflowError('BODY_MALFORMED', 'request body is empty');
    const result = await ingestBatch(deps, {
      kind,
      principal: { tenantId: req.principal.tenantId, partnerId: req.principal.partnerId },
      contentType: req.headers['content-type'],
      contentEncoding: req.headers['content-encoding'],
      raw,
    });
    deps.onAccepted?.(kind, result.accepted);
    return result;
  };

  // onRequest: an unauthenticated caller is refused before its body is read.
  app.addHook('onRequest', authenticate(deps.auth));
  app.post('/v1/ingest/audit-events', { schema: ingestSchema('audit') }, async (req, reply) => reply.code(202).send(await handle('audit')(req)));
  app.post('/v1/ingest/changes', { schema: ingestSchema('change') }, async (req, reply) => reply.code(202).send(await handle('change')(req)));
}
