// Destinations: POST/GET /v1/siem/destinations, GET/PATCH/DELETE /v1/siem/destinations/{id},
// POST …/{id}/test, …/{id}/pause, …/{id}/resume. Every answer shows a destination through
// publicView (no secret ever); every change is an audit event before the answer (./siem-audit.ts).
import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import { AuditflowError } from '../../infra/errors.ts';
import { newAuditId } from '../../schemas/ids.ts';
import { publicView, type Destination, type DestinationStatus } from '../../processors/siem/destinations.ts';
import type { ForwardedEvent } from '../../processors/siem/siem-types.ts';
import { QueryReader } from '../query/query-params.ts';
import { deliveryAnswer, sendOnce } from './delivery-answer.ts';
import { readDestinationPatch, readNewDestination, readSeek } from './destination-request.ts';
import { destinationAuditEvent } from './siem-audit.ts';
import type { SiemApiDeps, SiemRecords } from './siem-api.ts';
import { pageOf, readPage } from './siem-paging.ts';
import { SIEM_SCHEMAS } from './siem-schemas.ts';

/** SIEM_MAX_DESTINATIONS_PER_TENANT's default. */
const DEFAULT_MAX_DESTINATIONS = 20;

export const DEFAULT_SEND_TIMEOUT_MS = 10_000;

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

/** The caller's destination named in the path, or 404 (unknown, deleted, or another tenant's: the same answer). */
export async function loadDestination(records: SiemRecords, req: IdRequest): Promise<Destination> {
  requireScope(req.principal, 'audit:admin');
  const d = await records.destinations.get(req.principal.tenantId, req.params.id);
  if (!d) throw new AuditflowError('NOT_FOUND', `no SIEM destination ${req.params.id}`);
  return d;
}

/** The one event POST …/test sends: marked as a test, about the destination itself; it is not stored. */
function testEvent(req: FastifyRequest, d: Destination): ForwardedEvent {
  const p = req.principal;
  return {
    id: newAuditId(), tenant_id: d.tenantId, partner_id: p.partnerId ?? '', event_time: new Date().toISOString(),
    event_type: 'siem.destination_test', action: 'siem_destination_test', category: 'admin', severity: 'info',
    outcome: 'success', success: true, actor_id: p.subject, actor_type: p.serviceAccount !== null ? 'service_account' : 'user',
    actor_email: p.email ?? '', service_account: p.serviceAccount, resource_type: 'siem_destination', resource_id: d.destinationId,
    resource_name: d.name, resource_path: '', share_id: '', source_ip: req.ip, user_agent: String(req.headers['user-agent'] ?? '').slice(0, 1024),
    request_id: String(req.id), duration_ms: null, action_source: 'PublicAPI',
    details: { test: true, message: 'auditflow SIEM destination test event' }, source_format: 'canonical',
  };
}

export async function destinationRoutes(app: FastifyInstance, deps: SiemApiDeps, records: SiemRecords): Promise<void> {
  const { destinations } = records;
  const changed = () => deps.onChanged?.('destinations');

  app.post('/v1/siem/destinations', { schema: SIEM_SCHEMAS.create }, async (req, reply) => {
    requireScope(req.principal, 'audit:admin');
    const input = readNewDestination(req.body);
    const max = deps.maxDestinations ?? DEFAULT_MAX_DESTINATIONS;
    if ((await destinations.list(req.principal.tenantId, { limit: max })).length >= max) {
      throw new AuditflowError('SIEM_DESTINATION_LIMIT', `the tenant has ${max} destinations, the most allowed (SIEM_MAX_DESTINATIONS_PER_TENANT); delete one first`);
    }
    const d = await destinations.create(req.principal.tenantId, input);
    await deps.appendAudit(destinationAuditEvent(req, 'siem_destination_created', d));
    changed();
    return reply.code(201).header('location', `/v1/siem/destinations/${d.destinationId}`).send(publicView(d));
  });

  app.get('/v1/siem/destinations', { schema: SIEM_SCHEMAS.list }, async (req) => {
    requireScope(req.principal, 'audit:admin');
    const q = new QueryReader(req.query as Record<string, unknown>);
    const page = readPage(q, ['siem.destinations', req.principal.tenantId]);
    q.done();
    const rows = await destinations.list(req.principal.tenantId, { limit: page.limit + 1, after: page.after });
    const { shown, cursor, has_more } = pageOf(rows, page, (d) => d.destinationId);
    return { destinations: shown.map(publicView), cursor, has_more };
  });

  app.get<{ Params: { id: string } }>('/v1/siem/destinations/:id', { schema: SIEM_SCHEMAS.get }, async (req) => publicView(await loadDestination(records, req)));

  app.patch<{ Params: { id: string } }>('/v1/siem/destinations/:id', { schema: SIEM_SCHEMAS.update }, async (req) => {
    const d = await loadDestination(records, req);
    const next = readDestinationPatch(d, req.body);
    const fields = (['name', 'config', 'filter'] as const).filter((k) => JSON.stringify(next[k]) !== JSON.stringify(d[k]));
    if (fields.length === 0) return publicView(d);
    const saved = await destinations.update(d, next);
    // Which fields changed, not their values: the details already show the new public config.
    await deps.appendAudit(destinationAuditEvent(req, 'siem_destination_updated', saved, { changed: fields }));
    changed();
    return publicView(saved);
  });

  app.delete<{ Params: { id: string } }>('/v1/siem/destinations/:id', { schema: SIEM_SCHEMAS.remove }, async (req, reply) => {
    const d = await loadDestination(records, req);
    const gone = await destinations.delete(d);
    await deps.appendAudit(destinationAuditEvent(req, 'siem_destination_deleted', gone));
    changed();
    return reply.code(204).send();
  });

  const setStatus = (status: DestinationStatus) => async (req: IdRequest) => {
    const d = await loadDestination(records, req);
    if (d.status === status) return publicView(d);
    const saved = await destinations.setStatus(d, status);
    await deps.appendAudit(destinationAuditEvent(req, 'siem_destination_updated', saved, { changed: ['status'] }));
    changed();
    return publicView(saved);
  };
  app.post<{ Params: { id: string } }>('/v1/siem/destinations/:id/pause', { schema: SIEM_SCHEMAS.pause }, setStatus('paused'));
  app.post<{ Params: { id: string } }>('/v1/siem/destinations/:id/resume', { schema: SIEM_SCHEMAS.resume }, setStatus('active'));

  // A new position: the forwarder starts a new consumer group from `start` and deletes the old one.
  // The way on for a destination whose position fell out of the log's retention.
  app.post<{ Params: { id: string } }>('/v1/siem/destinations/:id/seek', { schema: SIEM_SCHEMAS.seek }, async (req) => {
    const d = await loadDestination(records, req);
    const start = readSeek(req.body);
    const saved = await destinations.seek(d, start);
    await deps.appendAudit(destinationAuditEvent(req, 'siem_destination_updated', saved, { changed: ['start'], generation: saved.generation }));
    changed();
    return publicView(saved);
  });

  // One test event through a sender of its own (not the forwarder's): paused or not, filter or not.
  app.post<{ Params: { id: string } }>('/v1/siem/destinations/:id/test', { schema: SIEM_SCHEMAS.test }, async (req) => {
    const d = await loadDestination(records, req);
    const event = testEvent(req, d);
    const started = performance.now();
    let answer;
    try {
      const sender = deps.senderFor(d, { timeoutMs: deps.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS });
      try {
        answer = deliveryAnswer(d, await sendOnce(sender, [event]));
      } finally {
        await sender.close().catch(() => undefined);
      }
    } catch (e) {
      answer = deliveryAnswer(d, { kind: 'retry', reason: e instanceof Error ? e.message : String(e) });
    }
    return { ...answer, latency_ms: Math.round(performance.now() - started), event_id: event.id };
  });
}
