// What happened to a destination's deliveries: GET …/{id}/dead-letters, POST …/dead-letters/redrive,
// POST …/{id}/replay, GET …/{id}/replays[/{replay_id}], GET …/{id}/health.
//
// Decided: a redrive is synchronous. It sends the pending dead letters (oldest first, at most
// `limit`) through a sender of its own and answers what each came to, so the operator who fixed
// the receiver sees at once whether it takes them now. Each dead letter is marked before the
// next is sent: `redriven` once delivered; refused again, it stays pending with its attempt and
// error and the redrive goes on; a retriable failure (receiver down) stops the redrive there.
// Nothing is removed. Replays are the opposite — any size — so they are queued for a worker.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import { AuditflowError } from '../../infra/errors.ts';
import { scrubSecrets, type Destination } from '../../processors/siem/destinations.ts';
import type { DeadLetter } from '../../processors/siem/dead-letters.ts';
import { replayView } from '../../processors/siem/replays.ts';
import { QueryReader } from '../query/query-params.ts';
import { BodyReader, objectBody } from '../exports/export-request.ts';
import { deliveryAnswer, sendOnce, type DeliveryAnswer } from './delivery-answer.ts';
import { DEFAULT_SEND_TIMEOUT_MS, loadDestination } from './destination-routes.ts';
import { destinationAuditEvent } from './siem-audit.ts';
import type { SiemApiDeps, SiemRecords } from './siem-api.ts';
import { pageOf, readPage } from './siem-paging.ts';
import { SIEM_SCHEMAS } from './siem-schemas.ts';

const REDRIVE_DEFAULT = 50;
const REDRIVE_MAX = 500;

function deadLetterView(d: Destination, l: DeadLetter): Record<string, unknown> {
  return {
    dead_letter_id: l.deadLetterId, created_at: l.createdAt, state: l.state, status: l.status,
    receiver_body: scrubSecrets(d, l.body), reason: scrubSecrets(d, l.reason), event_count: l.eventIds.length, event_ids: l.eventIds,
    redrive_attempts: l.redriveAttempts, last_redrive_error: l.lastRedriveError === '' ? null : scrubSecrets(d, l.lastRedriveError),
    redriven_at: l.redrivenAt, ...(l.events !== undefined ? { events: l.events } : {}),
  };
}

/** The redrive body: optional, `{dead_letter_ids?, limit?}`. */
function readRedrive(body: unknown): { ids: string[] | undefined; limit: number } {
  if (body === undefined || body === null || body === '') return { ids: undefined, limit: REDRIVE_DEFAULT };
  const r = new BodyReader(objectBody(body));
  const rawIds = r.body['dead_letter_ids'];
  let ids: string[] | undefined;
  if (rawIds !== undefined) {
    if (!Array.isArray(rawIds) || rawIds.length === 0 || rawIds.length > REDRIVE_MAX || !rawIds.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 64)) {
      r.fail('/dead_letter_ids', `must be a list of 1 to ${REDRIVE_MAX} dead letter ids`);
    } else ids = [...new Set(rawIds as string[])];
  }
  const rawLimit = r.body['limit'];
  const limitOk = rawLimit === undefined || (typeof rawLimit === 'number' && Number.isInteger(rawLimit) && rawLimit >= 1 && rawLimit <= REDRIVE_MAX);
  if (!limitOk) r.fail('/limit', `must be an integer from 1 to ${REDRIVE_MAX}`);
  r.onlyKnown(['dead_letter_ids', 'limit']);
  r.done();
  return { ids, limit: (rawLimit as number | undefined) ?? ids?.length ?? REDRIVE_DEFAULT };
}

export async function deliveryRoutes(app: FastifyInstance, deps: SiemApiDeps, records: SiemRecords): Promise<void> {
  const { deadLetters, replays, health } = records;
  /** Destinations with a redrive running in this process: a second one would send the same batches twice. */
  const redriving = new Set<string>();

  app.get<{ Params: { id: string } }>('/v1/siem/destinations/:id/dead-letters', { schema: SIEM_SCHEMAS.deadLetters }, async (req) => {
    const d = await loadDestination(records, req);
    const q = new QueryReader(req.query as Record<string, unknown>);
    const state = q.oneOf('state', ['pending', 'redriven'] as const);
    const withEvents = q.bool('include_events') ?? false;
    const page = readPage(q, ['siem.dead_letters', d.tenantId, d.destinationId, state ?? ''], 20, 100);
    q.done();
    const [rows, counts] = await Promise.all([
      deadLetters.list(d.tenantId, d.destinationId, { limit: page.limit + 1, after: page.after, state, withEvents }),
      deadLetters.counts(d.tenantId, d.destinationId),
    ]);
    const { shown, cursor, has_more } = pageOf(rows, page, (l) => l.deadLetterId);
    // Dead letters hold audit events: listing them is a read of audit data.
    deps.selfAudit.record(req, { resource: 'siem.dead_letters', filters: { destination_id: d.destinationId, state, include_events: withEvents }, rows: shown.length });
    return {
      dead_letters: shown.map((l) => deadLetterView(d, l)), cursor, has_more,
      counts: { pending: counts.pending, redriven: counts.redriven, pending_events: counts.pendingEvents },
    };
  });

  app.post<{ Params: { id: string } }>('/v1/siem/destinations/:id/dead-letters/redrive', { schema: SIEM_SCHEMAS.redrive }, async (req) => {
    const d = await loadDestination(records, req);
    const { ids, limit } = readRedrive(req.body);
    if (d.status === 'paused') throw new AuditflowError('SIEM_DESTINATION_PAUSED', `destination ${d.destinationId} is paused: resume it before redriving`);
    if (redriving.has(d.destinationId)) throw new AuditflowError('SIEM_REDRIVE_RUNNING', `a redrive of destination ${d.destinationId} is running`);
    redriving.add(d.destinationId);
    try {
      const pending = await deadLetters.pending(d.tenantId, d.destinationId, { limit, ids });
      const results: (DeliveryAnswer & { dead_letter_id: string; event_count: number })[] = [];
      let events = 0;
      const sender = deps.senderFor(d, { timeoutMs: deps.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS });
      try {
        for (const l of pending) {
          const batch = l.events ?? [];
          const result = await sendOnce(sender, batch);
          const answer = deliveryAnswer(d, result);
          results.push({ dead_letter_id: l.deadLetterId, event_count: batch.length, ...answer });
          if (result.kind === 'delivered') {
            await deadLetters.markRedriven({ ...l, events: batch });
            events += batch.length;
            continue;
          }
          await deadLetters.markRedriveFailed({ ...l, events: batch }, answer.receiver_body !== undefined ? `HTTP ${answer.status}: ${answer.receiver_body}` : answer.error ?? 'failed');
          // The receiver is down or throttling: the rest would fail the same way; they stay pending.
          if (result.kind === 'retry') break;
        }
      } finally {
        await sender.close().catch(() => undefined);
      }
      deps.selfAudit.record(req, {
        resource: 'siem.dead_letters.redrive', filters: { destination_id: d.destinationId, dead_letter_ids: ids, limit }, rows: events,
        eventType: 'audit.siem_redrive', action: 'siem_redrive',
      });
      const counts = await deadLetters.counts(d.tenantId, d.destinationId);
      return {
        attempted: results.length, redriven: results.filter((r) => r.delivered).length,
        failed: results.filter((r) => !r.delivered).length, not_attempted: pending.length - results.length,
        pending: counts.pending, results,
      };
    } finally {
      redriving.delete(d.destinationId);
    }
  });

  app.post<{ Params: { id: string } }>('/v1/siem/destinations/:id/replay', { schema: SIEM_SCHEMAS.replay }, async (req, reply) => {
    const d = await loadDestination(records, req);
    const r = new BodyReader(objectBody(req.body));
    const from = r.instant('from');
    const to = r.instant('to');
    if (from !== undefined && to !== undefined && Date.parse(to) <= Date.parse(from)) r.fail('/to', 'must be after from');
    r.onlyKnown(['from', 'to']);
    r.done();
    const snapshot = await deps.highWater.latest('audit_events', d.tenantId);
    const replay = await replays.request(d.tenantId, d.destinationId, from!, to!, snapshot);
    await deps.appendAudit(destinationAuditEvent(req, 'siem_replay_requested', d, { replay_id: replay.replayId, from: replay.from, to: replay.to }));
    deps.onChanged?.('replays');
    return reply.code(202).header('location', `/v1/siem/destinations/${d.destinationId}/replays/${replay.replayId}`).send({ replay_id: replay.replayId, status: replay.status });
  });

  app.get<{ Params: { id: string } }>('/v1/siem/destinations/:id/replays', { schema: SIEM_SCHEMAS.replays }, async (req) => {
    const d = await loadDestination(records, req);
    const q = new QueryReader(req.query as Record<string, unknown>);
    const page = readPage(q, ['siem.replays', d.tenantId, d.destinationId]);
    q.done();
    const rows = await replays.list(d.tenantId, d.destinationId, { limit: page.limit + 1, before: page.after });
    const { shown, cursor, has_more } = pageOf(rows, page, (x) => x.replayId);
    return { replays: shown.map(replayView), cursor, has_more };
  });

  app.get<{ Params: { id: string; replay_id: string } }>('/v1/siem/destinations/:id/replays/:replay_id', { schema: SIEM_SCHEMAS.replayGet }, async (req) => {
    const d = await loadDestination(records, req as FastifyRequest<{ Params: { id: string } }>);
    const replay = await replays.get(d.tenantId, d.destinationId, req.params.replay_id);
    if (!replay) throw new AuditflowError('NOT_FOUND', `no replay ${req.params.replay_id} of destination ${d.destinationId}`);
    return replayView(replay);
  });

  app.get<{ Params: { id: string } }>('/v1/siem/destinations/:id/health', { schema: SIEM_SCHEMAS.health }, async (req) => {
    const d = await loadDestination(records, req);
    return health.read(d.tenantId, d.destinationId);
  });
}
