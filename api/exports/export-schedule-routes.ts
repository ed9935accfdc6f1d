// Scheduled exports: POST /v1/audit/export-schedules {cron, window, format, filters, destination,
// compression?}, GET /v1/audit/export-schedules, GET / DELETE /v1/audit/export-schedules/{id}.
// Scope audit:export, the token's tenant. Each run is an ordinary export (listed in
// /v1/audit/exports with the schedule's id), queued by the scheduler (processors/export/).
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import { AuditflowError } from '../../infra/errors.ts';
import { ExportSchedules, parseCron, WINDOWS, type ExportSchedule, type WindowKind } from '../../processors/export/export-schedules.ts';
import { errorResponses } from '../service/openapi.ts';
import { BodyReader, objectBody, readExportOutput } from './export-request.ts';
import type { ExportApiDeps } from './export-routes.ts';
import { OUTPUT_PROPERTIES } from './export-schemas.ts';

const TAGS = ['exports'];
const SCHEDULE = {
  type: 'object',
  properties: {
    schedule_id: { type: 'string' }, cron: { type: 'string' }, window: { type: 'string', enum: Object.keys(WINDOWS) },
    ...OUTPUT_PROPERTIES, created_at: { type: 'string', format: 'date-time' },
    last_window_end: { type: 'string', format: 'date-time', nullable: true }, next_run_at: { type: 'string', format: 'date-time', nullable: true },
  },
} as const;
const ID = { type: 'object', properties: { id: { type: 'string' } } } as const;

export function scheduleView(s: ExportSchedule): Record<string, unknown> {
  const next = parseCron(s.cron).nextRun(new Date());
  return {
    schedule_id: s.scheduleId, cron: s.cron, window: s.window, format: s.output.format, compression: s.output.compression,
    filters: s.output.filters, destination: s.output.destination, created_at: s.createdAt, last_window_end: s.lastWindowEnd,
    next_run_at: next ? next.toISOString() : null,
  };
}

export async function exportScheduleRoutes(app: FastifyInstance, deps: ExportApiDeps): Promise<void> {
  const schedules = new ExportSchedules(deps.store);

  app.post('/v1/audit/export-schedules', {
    schema: {
      summary: 'Create a scheduled export', tags: TAGS,
      body: { type: 'object', required: ['cron', 'window', 'format', 'destination'], properties: { cron: { type: 'string', description: '5 fields, UTC' }, window: { type: 'string', enum: Object.keys(WINDOWS) }, ...OUTPUT_PROPERTIES } },
      response: { 201: SCHEDULE, ...errorResponses(400, 403) },
    },
  }, async (req, reply) => {
    requireScope(req.principal, 'audit:export');
    const r = new BodyReader(objectBody(req.body));
    const cron = r.string('cron', { required: true, max: 256 });
    const window = r.oneOf('window', Object.keys(WINDOWS) as WindowKind[], { required: true });
    const out = readExportOutput(r);
    r.onlyKnown(['cron', 'window', 'format', 'filters', 'destination', 'compression']);
    if (cron !== undefined) {
      try {
        parseCron(cron);
      } catch (e) {
        for (const d of (e as AuditflowError).details ?? []) r.fail(d.path, d.message);
      }
    }
    r.done();
    await deps.checkCredentials(out.destination!);
    const s = await schedules.save({
      tenantId: req.principal.tenantId, scheduleId: `sch_${Date.now().toString(36)}${randomBytes(6).toString('hex')}`,
      cron: cron!, window: window!, output: { format: out.format!, compression: out.compression ?? null, filters: out.filters!, destination: out.destination! },
      // Runs start from now: a new schedule does not back-fill windows before it existed.
      createdAt: new Date().toISOString(), lastWindowEnd: null, deleted: false,
    });
    return reply.code(201).send(scheduleView(s));
  });

  app.get('/v1/audit/export-schedules', {
    schema: { summary: 'List scheduled exports', tags: TAGS, response: { 200: { type: 'object', properties: { schedules: { type: 'array', items: SCHEDULE } } }, ...errorResponses(403) } },
  }, async (req) => {
    requireScope(req.principal, 'audit:export');
    return { schedules: (await schedules.list(req.principal.tenantId)).map(scheduleView) };
  });

  app.get<{ Params: { id: string } }>('/v1/audit/export-schedules/:id', {
    schema: { summary: 'A scheduled export', tags: TAGS, params: ID, response: { 200: SCHEDULE, ...errorResponses(403, 404) } },
  }, async (req) => {
    requireScope(req.principal, 'audit:export');
    const s = await schedules.get(req.principal.tenantId, req.params.id);
    if (!s) throw new AuditflowError('NOT_FOUND', `no export schedule ${req.params.id}`);
    return scheduleView(s);
  });

  app.delete<{ Params: { id: string } }>('/v1/audit/export-schedules/:id', {
    schema: { summary: 'Delete a scheduled export (its exports stay)', tags: TAGS, params: ID, response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses(403, 404) } },
  }, async (req, reply) => {
    requireScope(req.principal, 'audit:export');
    const s = await schedules.get(req.principal.tenantId, req.params.id);
    if (!s) throw new AuditflowError('NOT_FOUND', `no export schedule ${req.params.id}`);
    await schedules.save({ ...s, deleted: true });
    return reply.code(204).send();
  });
}
