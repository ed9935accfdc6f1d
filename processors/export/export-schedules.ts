// Scheduled exports: a 5-field cron in UTC and a window (the minute, hour or day that ended at
// the run's scheduled time). The scheduler walks every schedule's scheduled times from where it
// last stood to now and queues one ordinary export per time — so runs missed while the service
// was down are caught up. Each window's export id is derived from the schedule and the time, and
// a window whose export exists is not queued again: each window is exported exactly once, also
// when two schedulers run or one crashes between queuing and recording.
import { Cron } from 'croner';
import { AuditflowError } from '../../infra/errors.ts';
import type { Store } from '../../infra/store/store.ts';
import { chTime, isoFromStore } from '../../api/query/scoped-query.ts';
import type { ExportSpec } from './export-jobs.ts';

export const WINDOWS = { previous_minute: 60_000, previous_hour: 3_600_000, previous_day: 86_400_000 } as const;
export type WindowKind = keyof typeof WINDOWS;

/** A schedule's output: an export's spec without the window and the snapshot. */
export type ScheduleOutput = Omit<ExportSpec, 'from' | 'to' | 'snapshot_seq'>;

export interface ExportSchedule {
  tenantId: string;
  scheduleId: string;
  version: number;
  cron: string;
  window: WindowKind;
  output: ScheduleOutput;
  createdAt: string;
  /** The newest scheduled time an export was queued for (null: none yet). */
  lastWindowEnd: string | null;
  deleted: boolean;
}

interface ScheduleRow {
  tenant_id: string; schedule_id: string; version: number | string; cron: string; window_kind: WindowKind; spec: string;
  created_at: string; last_window_end: string | null; deleted: boolean;
}

/** Parses a 5-field UTC cron; 400 with the reason otherwise. */
export function parseCron(expr: string): Cron {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) throw new AuditflowError('VALIDATION_FAILED', 'invalid request body', { details: [{ path: '/cron', message: `must have 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}` }] });
  try {
    return new Cron(fields.join(' '), { timezone: 'UTC', paused: true });
  } catch (e) {
    throw new AuditflowError('VALIDATION_FAILED', 'invalid request body', { details: [{ path: '/cron', message: (e as Error).message }] });
  }
}

/** The scheduled times after `after` up to `upTo` (inclusive), at most `max`. */
export function dueTimes(cron: Cron, after: number, upTo: number, max: number): number[] {
  const out: number[] = [];
  let cursor = new Date(after);
  while (out.length < max) {
    const next = cron.nextRun(cursor);
    if (!next || next.getTime() > upTo) break;
    out.push(next.getTime());
    cursor = next;
  }
  return out;
}

/** A window's export id: the same for the same schedule and scheduled time, wherever it is queued. */
export function windowExportId(scheduleId: string, windowEndMs: number): string {
  // Fixed width, so the ids of a schedule's runs sort as their windows do.
  return `exp_${scheduleId.replace(/^sch_/, '')}_${windowEndMs.toString(36).padStart(9, '0')}`;
}

function fromRow(r: ScheduleRow): ExportSchedule {
  return {
    tenantId: r.tenant_id, scheduleId: r.schedule_id, version: Number(r.version), cron: r.cron, window: r.window_kind,
    output: JSON.parse(r.spec) as ScheduleOutput, createdAt: isoFromStore(r.created_at),
    lastWindowEnd: r.last_window_end === null ? null : isoFromStore(r.last_window_end), deleted: r.deleted === true || String(r.deleted) === 'true',
  };
}

const COLUMNS = 'tenant_id, schedule_id, version, cron, window_kind, spec, created_at, last_window_end, deleted';

export class ExportSchedules {
  private lastVersion = 0;
  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  async save(s: Omit<ExportSchedule, 'version'> & { version?: number }): Promise<ExportSchedule> {
    const version = Math.max(this.now() * 1000 + Math.floor(Math.random() * 1000), (s.version ?? 0) + 1, this.lastVersion + 1);
    this.lastVersion = version;
    const saved = { ...s, version };
    const row = {
      tenant_id: s.tenantId, schedule_id: s.scheduleId, version, cron: s.cron, window_kind: s.window, spec: JSON.stringify(s.output),
      created_at: chTime(s.createdAt), last_window_end: s.lastWindowEnd === null ? null : chTime(s.lastWindowEnd), deleted: s.deleted,
    };
    await this.store.insertJsonEachRow('export_schedules', Buffer.from(`${JSON.stringify(row)}\n`));
    return saved;
  }

  async get(tenantId: string, scheduleId: string): Promise<ExportSchedule | null> {
    const rows = await this.store.query<ScheduleRow>(`SELECT ${COLUMNS} FROM export_schedules FINAL WHERE tenant_id = {tenant:String} AND schedule_id = {id:String}`, { tenant: tenantId, id: scheduleId });
    const s = rows[0] ? fromRow(rows[0]) : null;
    return s && !s.deleted ? s : null;
  }

  async list(tenantId: string): Promise<ExportSchedule[]> {
    const rows = await this.store.query<ScheduleRow>(`SELECT ${COLUMNS} FROM export_schedules FINAL WHERE tenant_id = {tenant:String} AND NOT deleted ORDER BY created_at, schedule_id`, { tenant: tenantId });
    return rows.map(fromRow);
  }

  /** Every live schedule of every tenant (the scheduler's). */
  async all(): Promise<ExportSchedule[]> {
    const rows = await this.store.query<ScheduleRow>(`SELECT ${COLUMNS} FROM export_schedules FINAL WHERE NOT deleted ORDER BY tenant_id, schedule_id`);
    return rows.map(fromRow);
  }
}
