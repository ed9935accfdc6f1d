// Scheduled exports (processors/export/export-scheduler.ts) on both stores, with a clock the test
// moves: each scheduled time queues one export of the window that ended then; runs missed while
// "down" are caught up; a tick repeated, or one after a crash between queuing and recording, queues
// nothing twice; a bad cron is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HighWater } from '../api/query/high-water.ts';
import { ExportJobs } from '../processors/export/export-jobs.ts';
import { ExportScheduler } from '../processors/export/export-scheduler.ts';
import { ExportSchedules, parseCron, dueTimes, windowExportId } from '../processors/export/export-schedules.ts';
import type { AuditEvent } from '../schemas/event-model.ts';
import { newTenant, startStores, type Stores } from './support/read-api-harness.ts';

let stores: Stores;
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => { await stores?.stop(); });

describe('cron', () => {
  it('takes 5 UTC fields and lists the due times', () => {
    const c = parseCron('0 * * * *');
    expect(dueTimes(c, Date.parse('2026-03-01T00:30:00Z'), Date.parse('2026-03-01T03:00:00Z'), 10).map((t) => new Date(t).toISOString()))
      .toEqual(['2026-03-01T01:00:00.000Z', '2026-03-01T02:00:00.000Z', '2026-03-01T03:00:00.000Z']);
    for (const bad of ['* * * *', '0 0 * * * *', '61 * * * *', 'every hour']) expect(() => parseCron(bad), bad).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });
});

describe.each(['chdb', 'http'] as const)('the scheduler on %s', (name) => {
  it('queues each window once, catches up missed runs, and never twice', async () => {
    const h = stores.list.find((s) => s.name === name)!;
    const t = newTenant();
    let now = Date.parse('2026-03-01T10:00:30Z');
    const clock = () => now;
    const audit: AuditEvent[] = [];
    const deps = { store: h.store, highWater: new HighWater(h.store, undefined, 0), checkCredentials: async () => undefined, appendAudit: async (e: AuditEvent) => { audit.push(e); } };
    const schedules = new ExportSchedules(h.store, clock);
    const s = await schedules.save({
      tenantId: t, scheduleId: `sch_${t}`, cron: '0 * * * *', window: 'previous_hour',
      output: { format: 'jsonl', compression: null, filters: { action: 'read' }, destination: { type: 'local', bucket: 'b', prefix: 'hourly' } },
      createdAt: new Date(now).toISOString(), lastWindowEnd: null, deleted: false,
    });
    const scheduler = new ExportScheduler(deps, { delayMs: 60_000, everyMs: 0, log: { warn: () => undefined } }, clock);
    expect(await scheduler.tick(true)).toEqual([]);
    // Down for three hours and a bit: 11:00, 12:00 and 13:00 are due (13:00 + the 60 s delay has passed).
    now = Date.parse('2026-03-01T13:02:00Z');
    const queued = await scheduler.tick(true);
    expect(queued).toEqual(['11', '12', '13'].map((hh) => windowExportId(s.scheduleId, Date.parse(`2026-03-01T${hh}:00:00Z`))));
    const jobs = new ExportJobs(h.store);
    const listed = await jobs.list(t, { limit: 10, scheduleId: s.scheduleId });
    expect(listed.map((j) => [j.spec.from, j.spec.to]).sort()).toEqual([
      ['2026-03-01T10:00:00.000Z', '2026-03-01T11:00:00.000Z'], ['2026-03-01T11:00:00.000Z', '2026-03-01T12:00:00.000Z'], ['2026-03-01T12:00:00.000Z', '2026-03-01T13:00:00.000Z'],
    ]);
    expect(listed.every((j) => j.status === 'queued' && j.spec.filters['action'] === 'read')).toBe(true);
    expect(audit.map((e) => e.action)).toEqual(['export_created', 'export_created', 'export_created']);
    expect(await scheduler.tick(true)).toEqual([]);
    // A crash after queuing, before recording the schedule's progress: the windows exist, nothing is queued twice.
    await schedules.save({ ...(await schedules.get(t, s.scheduleId))!, lastWindowEnd: '2026-03-01T10:00:00.000Z' });
    expect(await scheduler.tick(true)).toEqual([]);
    expect(await jobs.list(t, { limit: 10, scheduleId: s.scheduleId })).toHaveLength(3);
    // Deleted: no more runs.
    await schedules.save({ ...(await schedules.get(t, s.scheduleId))!, deleted: true });
    now = Date.parse('2026-03-01T16:02:00Z');
    expect(await scheduler.tick(true)).toEqual([]);
  });
});
