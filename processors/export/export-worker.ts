// The export workers of one process: take queued jobs from the store (./export-jobs.ts), at most
// EXPORT_CONCURRENCY at a time, run each (./export-runner.ts), and record how it ended. Also the
// scheduler's tick (./export-scheduler.ts). Runs where the store sink runs (embedded `all`,
// distributed `processor`): exports read the store, not the log.
//
// A job's worker renews its lease with each progress write; a worker that dies leaves its lease
// to expire and the job is taken again (restarted from its first part, ./export-runner.ts). A
// schedule's runs go in window order, one at a time, since each manifest names the one before.
import { randomBytes } from 'node:crypto';
import { isAuditflowError } from '../../infra/errors.ts';
import type { ExportSigningKey } from '../../infra/export-keys.ts';
import type { ObjectStore } from '../../infra/objectstore/object-store.ts';
import type { Store } from '../../infra/store/store.ts';
import { ExportJobs, type ExportJob } from './export-jobs.ts';
import { runExport } from './export-runner.ts';

export interface ExportWorkerDeps {
  store: Store;
  openDestination(job: ExportJob): Promise<ObjectStore>;
  signingKey(): Promise<ExportSigningKey>;
  config: { concurrency: number; pageRows: number; pollMs: number; parts: { rows: number; bytes: number } };
  /** Run before each poll (the scheduler queues due windows). */
  beforePoll?: (() => Promise<void>) | undefined;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
  /** Lease and settle times (tests shorten them). */
  leaseMs?: number;
  settleMs?: number;
}

const LEASE_MS = 60_000;
/** Progress (and the lease) is written at most this often. */
const PROGRESS_EVERY_MS = 2_000;

export class ExportWorker {
  readonly id = `w_${randomBytes(6).toString('hex')}`;
  private readonly jobs: ExportJobs;
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void>; scheduleId: string | null }>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private stopped = false;
  readonly stats = { completed: 0, failed: 0, cancelled: 0 };

  constructor(private readonly deps: ExportWorkerDeps) {
    this.jobs = new ExportJobs(deps.store);
  }

  start(): void {
    this.schedulePoll(0);
  }

  /** A job was queued in this process: look now rather than at the next poll. */
  nudge(): void {
    if (!this.stopped) this.schedulePoll(0);
  }

  private schedulePoll(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.polling ??= this.poll().catch((e: unknown) => this.deps.log.warn({ err: (e as Error).message }, 'export poll failed')).finally(() => {
        this.polling = null;
        this.schedulePoll(this.deps.config.pollMs);
      });
    }, ms);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    await this.deps.beforePoll?.();
    const free = this.deps.config.concurrency - this.running.size;
    if (free <= 0) return;
    const candidates = await this.jobs.claimable(50);
    // A schedule's runs one at a time, oldest window first (candidates come oldest first).
    const busySchedules = new Set([...this.running.values()].map((r) => r.scheduleId).filter((s): s is string => s !== null));
    let started = 0;
    for (const job of candidates) {
      if (started >= free || this.stopped) break;
      if (this.running.has(job.exportId)) continue;
      if (job.scheduleId !== null) {
        if (busySchedules.has(job.scheduleId)) continue;
        busySchedules.add(job.scheduleId);
      }
      const owned = await this.claim(job);
      if (!owned) continue;
      started++;
      const abort = new AbortController();
      const done = this.run(owned, abort).finally(() => this.running.delete(job.exportId));
      this.running.set(job.exportId, { abort, done, scheduleId: job.scheduleId });
    }
  }

  /** Claims by writing a version naming this worker, then reading back who won. */
  private async claim(job: ExportJob): Promise<ExportJob | null> {
    if (job.cancelRequested) {
      await this.jobs.save({ ...job, status: 'cancelled', completedAt: new Date().toISOString() });
      return null;
    }
    const mine = await this.jobs.save({ ...job, status: 'running', worker: this.id, attempt: job.attempt + 1, leaseUntil: new Date(Date.now() + (this.deps.leaseMs ?? LEASE_MS)).toISOString() });
    await new Promise((r) => setTimeout(r, this.deps.settleMs ?? 300));
    const now = await this.jobs.get(job.tenantId, job.exportId);
    return now && now.worker === this.id && now.version === mine.version ? mine : null;
  }

  private async run(start: ExportJob, abort: AbortController): Promise<void> {
    let job = start;
    let lastWrite = Date.now();
    let writing: Promise<void> | null = null;
    const log = this.deps.log;
    try {
      const destination = await this.deps.openDestination(job);
      try {
        const previous = await this.previousManifest(job);
        const result = await runExport(job, {
          store: this.deps.store, destination, key: await this.deps.signingKey(), parts: this.deps.config.parts,
          pageRows: this.deps.config.pageRows, previousManifest: previous, signal: abort.signal,
          onProgress: (records) => {
            if (writing || Date.now() - lastWrite < PROGRESS_EVERY_MS) return;
            lastWrite = Date.now();
            writing = this.renew(job, records, abort).then((j) => { if (j) job = j; }).finally(() => { writing = null; });
          },
        });
        await writing;
        job = await this.jobs.save({
          ...job, status: 'completed', recordCount: result.recordCount, completedAt: new Date().toISOString(), error: '',
          progress: { records_written: result.recordCount, parts: result.parts, last_seq: job.spec.snapshot_seq, manifest_sha256: result.manifestSha256 },
        });
        this.stats.completed++;
        log.info({ export_id: job.exportId, tenant: job.tenantId, records: result.recordCount, parts: result.parts.length }, 'export completed');
      } finally {
        await destination.close().catch(() => undefined);
      }
    } catch (e) {
      await writing;
      const latest = (await this.jobs.get(job.tenantId, job.exportId).catch(() => null)) ?? job;
      if (latest.worker !== this.id) return; // another worker took it over: its outcome, not ours
      if (abort.signal.aborted && (latest.cancelRequested || this.stopped)) {
        if (this.stopped && !latest.cancelRequested) return; // shutting down: the lease expires and it runs again
        await this.jobs.save({ ...latest, status: 'cancelled', completedAt: new Date().toISOString() });
        this.stats.cancelled++;
        return;
      }
      const reason = isAuditflowError(e) ? `${e.code}: ${e.message}` : `INTERNAL: ${(e as Error).message}`;
      await this.jobs.save({ ...latest, status: 'failed', error: reason, completedAt: null });
      this.stats.failed++;
      log.warn({ export_id: job.exportId, tenant: job.tenantId, err: reason }, 'export failed');
    }
  }

  /** Progress and a longer lease; a cancel request (or a lost lease) stops the job. */
  private async renew(job: ExportJob, records: number, abort: AbortController): Promise<ExportJob | null> {
    const latest = await this.jobs.get(job.tenantId, job.exportId);
    if (!latest || latest.worker !== this.id) {
      abort.abort(new Error('lease lost'));
      return null;
    }
    if (latest.cancelRequested) {
      abort.abort(new Error('cancelled'));
      return null;
    }
    return this.jobs.save({ ...latest, progress: { ...latest.progress, records_written: records }, leaseUntil: new Date(Date.now() + (this.deps.leaseMs ?? LEASE_MS)).toISOString() });
  }

  /** The chain: the manifest hash of the schedule's newest completed export before this one. */
  private async previousManifest(job: ExportJob): Promise<string | null> {
    if (job.scheduleId === null) return null;
    const runs = await this.jobs.list(job.tenantId, { limit: 1000, scheduleId: job.scheduleId });
    // By window end: a schedule's windows may overlap (a daily window every six hours).
    const before = runs.filter((r) => r.status === 'completed' && Date.parse(r.spec.to) < Date.parse(job.spec.to)).sort((a, b) => Date.parse(b.spec.to) - Date.parse(a.spec.to));
    return before[0]?.progress.manifest_sha256 ?? null;
  }

  /** Stops taking jobs; running ones are aborted and left to their leases (they run again). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
    for (const r of this.running.values()) r.abort.abort(new Error('shutting down'));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  get active(): number {
    return this.running.size;
  }
}
