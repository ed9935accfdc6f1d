// The scheduler's tick: for every schedule, the scheduled times since its last queued window (or
// its creation) up to now − EXPORT_SCHEDULE_DELAY_MS, each queued as one ordinary export of the
// window that ended then (./export-schedules.ts has why each window is exported exactly once).
import type { ExportApiDeps } from '../../api/exports/export-routes.ts';
import { createExport, recordExportCreated } from '../../api/exports/export-routes.ts';
import { readAuditLogFilters } from '../../api/scaivault/scaivault-log.ts';
import { QueryReader } from '../../api/query/query-params.ts';
import { ExportJobs } from './export-jobs.ts';
import { dueTimes, ExportSchedules, parseCron, WINDOWS, windowExportId } from './export-schedules.ts';

/** Windows one schedule may queue per tick (a minute schedule down for a day catches up over a few ticks). */
const MAX_CATCH_UP_PER_TICK = 500;

export class ExportScheduler {
  private readonly schedules: ExportSchedules;
  private readonly jobs: ExportJobs;
  private lastTick = 0;

  constructor(
    private readonly deps: ExportApiDeps,
    private readonly opts: { delayMs: number; everyMs: number; log: { warn(o: object, m: string): void } },
    private readonly now: () => number = Date.now,
  ) {
    this.schedules = new ExportSchedules(deps.store, now);
    this.jobs = new ExportJobs(deps.store, now);
  }

  /** Queues what is due; at most every `everyMs`. Returns the exports queued. */
  async tick(force = false): Promise<string[]> {
    if (!force && this.now() - this.lastTick < this.opts.everyMs) return [];
    this.lastTick = this.now();
    const queued: string[] = [];
    for (const s of await this.schedules.all()) {
      try {
        const cron = parseCron(s.cron);
        const after = Date.parse(s.lastWindowEnd ?? s.createdAt);
        const size = WINDOWS[s.window];
        let last: number | null = null;
        for (const end of dueTimes(cron, after, this.now() - this.opts.delayMs, MAX_CATCH_UP_PER_TICK)) {
          const exportId = windowExportId(s.scheduleId, end);
          if (!(await this.jobs.get(s.tenantId, exportId))) {
            const parsedFilters = readAuditLogFilters(new QueryReader(s.output.filters), ['from', 'to']);
            const job = await createExport(this.deps, this.jobs, s.tenantId, {
              ...s.output, parsedFilters, from: new Date(end - size).toISOString(), to: new Date(end).toISOString(),
            }, s.scheduleId, exportId);
            await recordExportCreated(this.deps, null, job);
            queued.push(exportId);
          }
          last = end;
        }
        if (last !== null) await this.schedules.save({ ...s, lastWindowEnd: new Date(last).toISOString() });
      } catch (e) {
        // One schedule's trouble (its credentials went away) does not hold back the others.
        this.opts.log.warn({ schedule_id: s.scheduleId, tenant: s.tenantId, err: (e as Error).message }, 'scheduled export not queued');
      }
    }
    return queued;
  }
}
