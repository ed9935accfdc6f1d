// Replays (schemas/migrations/0006_siem.sql): re-deliver a tenant's stored events of [from, to) to
// one destination, up to the seq that was readable when the replay was requested (later events
// reach the destination live). A durable job like an export (processors/export/export-jobs.ts):
// every change is a version row; a worker claims one by writing a version naming itself with a
// lease and reading back who won; progress renews the lease and records the last seq sent, so a
// crashed worker's replay is taken again when its lease ends and resumes after that seq.
import type { Store } from '../../infra/store/store.ts';
import { chTime, isoFromStore } from '../../api/query/scoped-query.ts';
import { EPOCH, insertRows, VersionClock } from './siem-rows.ts';

export type ReplayStatus = 'queued' | 'running' | 'completed' | 'failed';

export interface Replay {
  tenantId: string;
  destinationId: string;
  replayId: string;
  version: number;
  status: ReplayStatus;
  from: string;
  to: string;
  /** The tenant's highest readable seq at the request: the replay reads up to it. */
  snapshotSeq: number;
  createdAt: string;
  updatedAt: string;
  /** The seq of the last event sent (the next run resumes after it). */
  lastSeq: number;
  eventsSent: number;
  error: string;
  attempt: number;
  worker: string;
  leaseUntil: string;
  completedAt: string | null;
}

interface ReplayRow {
  tenant_id: string; destination_id: string; replay_id: string; version: number | string; status: ReplayStatus;
  from_time: string; to_time: string; snapshot_seq: number | string; created_at: string; updated_at: string;
  last_seq: number | string; events_sent: number | string; error: string; attempt: number | string; worker: string;
  lease_until: string; completed_at: string | null;
}

const COLUMNS = 'tenant_id, destination_id, replay_id, version, status, from_time, to_time, snapshot_seq, created_at, updated_at, last_seq, events_sent, error, attempt, worker, lease_until, completed_at';

function fromRow(r: ReplayRow): Replay {
  return {
    tenantId: r.tenant_id, destinationId: r.destination_id, replayId: r.replay_id, version: Number(r.version), status: r.status,
    from: isoFromStore(r.from_time), to: isoFromStore(r.to_time), snapshotSeq: Number(r.snapshot_seq),
    createdAt: isoFromStore(r.created_at), updatedAt: isoFromStore(r.updated_at), lastSeq: Number(r.last_seq),
    eventsSent: Number(r.events_sent), error: r.error, attempt: Number(r.attempt), worker: r.worker,
    leaseUntil: isoFromStore(r.lease_until), completedAt: r.completed_at === null ? null : isoFromStore(r.completed_at),
  };
}

/** The replay as the API returns it. */
export function replayView(r: Replay): Record<string, unknown> {
  return {
    replay_id: r.replayId, destination_id: r.destinationId, status: r.status, from: r.from, to: r.to,
    events_sent: r.eventsSent, created_at: r.createdAt, updated_at: r.updatedAt, completed_at: r.completedAt,
    ...(r.status === 'failed' ? { error: r.error } : {}),
  };
}

export class Replays {
  private readonly clock: VersionClock;

  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {
    this.clock = new VersionClock(now);
  }

  private async save(r: Omit<Replay, 'updatedAt'>): Promise<Replay> {
    const saved: Replay = { ...r, version: this.clock.next(r.version), updatedAt: this.clock.iso() };
    await insertRows(this.store, 'siem_replays', [{
      tenant_id: saved.tenantId, destination_id: saved.destinationId, replay_id: saved.replayId, version: saved.version,
      status: saved.status, from_time: chTime(saved.from), to_time: chTime(saved.to), snapshot_seq: saved.snapshotSeq,
      created_at: chTime(saved.createdAt), updated_at: chTime(saved.updatedAt), last_seq: saved.lastSeq,
      events_sent: saved.eventsSent, error: saved.error, attempt: saved.attempt, worker: saved.worker,
      lease_until: chTime(saved.leaseUntil), completed_at: saved.completedAt === null ? null : chTime(saved.completedAt),
    }]);
    return saved;
  }

  /** A queued replay of [from, to) up to `snapshotSeq`. */
  request(tenantId: string, destinationId: string, from: string, to: string, snapshotSeq: number): Promise<Replay> {
    return this.save({
      tenantId, destinationId, replayId: this.clock.id('rpl'), version: 0, status: 'queued', from, to, snapshotSeq,
      createdAt: this.clock.iso(), lastSeq: 0, eventsSent: 0, error: '', attempt: 0, worker: '', leaseUntil: EPOCH, completedAt: null,
    });
  }

  async get(tenantId: string, destinationId: string, replayId: string): Promise<Replay | null> {
    const rows = await this.store.query<ReplayRow>(
      `SELECT ${COLUMNS} FROM siem_replays FINAL WHERE tenant_id = {tenant:String} AND destination_id = {dest:String} AND replay_id = {id:String}`,
      { tenant: tenantId, dest: destinationId, id: replayId },
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /** A destination's replays, newest first, before the id `before` (keyset paging). */
  async list(tenantId: string, destinationId: string, opts: { limit: number; before?: string | undefined }): Promise<Replay[]> {
    const params: Record<string, unknown> = { tenant: tenantId, dest: destinationId, limit: opts.limit };
    let where = 'tenant_id = {tenant:String} AND destination_id = {dest:String}';
    if (opts.before !== undefined) {
      where += ' AND replay_id < {before:String}';
      params['before'] = opts.before;
    }
    const rows = await this.store.query<ReplayRow>(`SELECT ${COLUMNS} FROM siem_replays FINAL WHERE ${where} ORDER BY replay_id DESC LIMIT {limit:UInt32}`, params);
    return rows.map(fromRow);
  }

  /** Replays a worker may take, oldest first: queued, or running with an expired lease (its worker died). Across tenants: workers serve every tenant. */
  async claimable(limit: number): Promise<Replay[]> {
    const rows = await this.store.query<ReplayRow>(
      `SELECT ${COLUMNS} FROM siem_replays FINAL
       WHERE status = 'queued' OR (status = 'running' AND lease_until < {now:DateTime64(3, 'UTC')})
       ORDER BY created_at, replay_id LIMIT {limit:UInt32}`,
      { now: chTime(new Date(this.now()).toISOString()), limit },
    );
    return rows.map(fromRow);
  }

  /**
   * Takes `r` for `worker` until now + leaseMs: writes a running version naming the worker, waits
   * `settleMs` for a competing claim to land, and owns the replay only if the newest version is
   * its own. Null: someone else won (or it is no longer claimable).
   */
  async claim(r: Replay, worker: string, opts: { leaseMs: number; settleMs?: number }): Promise<Replay | null> {
    const current = await this.get(r.tenantId, r.destinationId, r.replayId);
    if (!current || !(current.status === 'queued' || (current.status === 'running' && Date.parse(current.leaseUntil) < this.now()))) return null;
    const mine = await this.save({ ...current, status: 'running', worker, attempt: current.attempt + 1, leaseUntil: this.leaseEnd(opts.leaseMs) });
    await new Promise((res) => setTimeout(res, opts.settleMs ?? 300));
    return (await this.owned(mine)) ? mine : null;
  }

  /** Whether `r` (a version this worker wrote) is still the newest: no one took the replay over. */
  async owned(r: Replay): Promise<boolean> {
    const now = await this.get(r.tenantId, r.destinationId, r.replayId);
    return now !== null && now.worker === r.worker && now.version === r.version;
  }

  /** Records what was sent and renews the lease; null when another worker took the replay over (stop). */
  async progress(r: Replay, p: { lastSeq: number; eventsSent: number }, leaseMs: number): Promise<Replay | null> {
    if (!(await this.owned(r))) return null;
    return this.save({ ...r, lastSeq: p.lastSeq, eventsSent: p.eventsSent, leaseUntil: this.leaseEnd(leaseMs) });
  }

  complete(r: Replay, p?: { lastSeq: number; eventsSent: number }): Promise<Replay> {
    return this.save({ ...r, ...(p ?? {}), status: 'completed', leaseUntil: EPOCH, completedAt: this.clock.iso() });
  }

  fail(r: Replay, error: string): Promise<Replay> {
    return this.save({ ...r, status: 'failed', error: error.slice(0, 2048), leaseUntil: EPOCH, completedAt: this.clock.iso() });
  }

  private leaseEnd(leaseMs: number): string {
    return new Date(this.now() + leaseMs).toISOString();
  }
}
