// POST /v1/ingest/audit-events and /v1/ingest/changes. 202 only once every event is durable in
// the log; any invalid event → 400 with per-index details and nothing accepted.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireScope, type Authenticator } from '../infra/auth/jwt.ts';
import { AuditflowError } from '../infra/errors.ts';
import type { EventKind } from '../schemas/event-model.ts';
import { authenticate } from '../api/auth-plugin.ts';
import { ingestBatch, type IngestBatchDeps, type IngestResult } from './ingest-batch.ts';

export interface IngestDeps extends IngestBatchDeps {
  auth: Authenticator;
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
    return ingestBatch(deps, {
      kind,
      principal: { tenantId: req.principal.tenantId, partnerId: req.principal.partnerId },
      contentType: req.headers['content-type'],
      contentEncoding: req.headers['content-encoding'],
      raw,
    });
  };

  // onRequest: an unauthenticated caller is refused before its body is read.
  app.addHook('onRequest', authenticate(deps.auth));
  app.post('/v1/ingest/audit-events', async (req, reply) => reply.code(202).send(await handle('audit')(req)));
  app.post('/v1/ingest/changes', async (req, reply) => reply.code(202).send(await handle('change')(req)));
}
