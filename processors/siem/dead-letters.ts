// A destination's dead letters (schemas/migrations/0006_siem.sql): batches its receiver refused for
// good, with the receiver's status and (truncated) answer and the events exactly as sent. Nothing
// here is ever removed: a redrive writes a version — `redriven` once the receiver took the
// events, or still `pending` with one more attempt and its error — so what was refused stays
// listable whatever happens to it.
import type { Store } from '../../infra/store/store.ts';
import { chTime, isoFromStore } from '../../api/query/scoped-query.ts';
import type { ForwardedEvent } from './siem-types.ts';
import { insertRows, VersionClock } from './siem-rows.ts';

export type DeadLetterState = 'pending' | 'redriven';

/** The receiver's answer is kept up to this many characters. */
export const DEAD_LETTER_BODY_MAX = 4096;

export interface DeadLetterInput {
  tenantId: string;
  destinationId: string;
  /** The receiver's HTTP status (0 when there is none, e.g. syslog). */
  status: number;
  /** The receiver's answer (truncated to DEAD_LETTER_BODY_MAX). */
  body: string;
  reason: string;
  events: readonly ForwardedEvent[];
}

export interface DeadLetter {
  tenantId: string;
  destinationId: string;
  deadLetterId: string;
  version: number;
  createdAt: string;
  status: number;
  body: string;
  reason: string;
  eventIds: string[];
  /** The events as sent; absent when a listing left them out. */
  events?: ForwardedEvent[];
  state: DeadLetterState;
  redriveAttempts: number;
  lastRedriveError: string;
  redrivenAt: string | null;
}

export interface DeadLetterCounts {
  pending: number;
  redriven: number;
  /** Events in pending dead letters. */
  pendingEvents: number;
}

interface DeadLetterRow {
  tenant_id: string; destination_id: string; dead_letter_id: string; version: number | string; created_at: string;
  http_status: number | string; body: string; reason: string; event_ids: string[]; events?: string; state: DeadLetterState;
  redrive_attempts: number | string; last_redrive_error: string; redriven_at: string | null;
}

const BASE = 'tenant_id, destination_id, dead_letter_id, version, created_at, http_status, body, reason, event_ids, state, redrive_attempts, last_redrive_error, redriven_at';

function fromRow(r: DeadLetterRow): DeadLetter {
  return {
    tenantId: r.tenant_id, destinationId: r.destination_id, deadLetterId: r.dead_letter_id, version: Number(r.version),
    createdAt: isoFromStore(r.created_at), status: Number(r.http_status), body: r.body, reason: r.reason, eventIds: r.event_ids,
    ...(r.events !== undefined ? { events: JSON.parse(r.events) as ForwardedEvent[] } : {}),
    state: r.state, redriveAttempts: Number(r.redrive_attempts), lastRedriveError: r.last_redrive_error,
    redrivenAt: r.redriven_at === null ? null : isoFromStore(r.redriven_at),
  };
}

export const truncateBody = (s: string, max = DEAD_LETTER_BODY_MAX): string => (s.length <= max ? s : `${s.slice(0, max)}…`);

export class DeadLetters {
  private readonly clock: VersionClock;

  constructor(private readonly store: Store, now: () => number = Date.now) {
    this.clock = new VersionClock(now);
  }

  private async save(d: DeadLetter & { events: ForwardedEvent[] }): Promise<DeadLetter> {
    const saved = { ...d, version: this.clock.next(d.version) };
    await insertRows(this.store, 'siem_dead_letters', [{
      tenant_id: saved.tenantId, destination_id: saved.destinationId, dead_letter_id: saved.deadLetterId, version: saved.version,
      created_at: chTime(saved.createdAt), http_status: saved.status, body: saved.body, reason: saved.reason, event_ids: saved.eventIds,
      events: JSON.stringify(saved.events), state: saved.state, redrive_attempts: saved.redriveAttempts,
      last_redrive_error: saved.lastRedriveError, redriven_at: saved.redrivenAt === null ? null : chTime(saved.redrivenAt),
    }]);
    return saved;
  }

  /** Records a refused batch (the forwarder's; durable when it resolves, before the batch's offsets are committed). */
  add(input: DeadLetterInput): Promise<DeadLetter> {
    const events = [...input.events];
    return this.save({
      tenantId: input.tenantId, destinationId: input.destinationId, deadLetterId: this.clock.id('dlq'), version: 0,
      createdAt: this.clock.iso(), status: input.status, body: truncateBody(input.body), reason: truncateBody(input.reason, 1024),
      eventIds: events.map((e) => e.id), events, state: 'pending', redriveAttempts: 0, lastRedriveError: '', redrivenAt: null,
    });
  }

  async get(tenantId: string, destinationId: string, deadLetterId: string): Promise<DeadLetter | null> {
    const rows = await this.store.query<DeadLetterRow>(
      `SELECT ${BASE}, events FROM siem_dead_letters FINAL WHERE tenant_id = {tenant:String} AND destination_id = {dest:String} AND dead_letter_id = {id:String}`,
      { tenant: tenantId, dest: destinationId, id: deadLetterId },
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /** A destination's dead letters, oldest first, after the id `after`; `events` only when asked (they can be large). */
  async list(
    tenantId: string, destinationId: string,
    opts: { limit: number; after?: string | undefined; state?: DeadLetterState | undefined; ids?: readonly string[] | undefined; withEvents?: boolean },
  ): Promise<DeadLetter[]> {
    const params: Record<string, unknown> = { tenant: tenantId, dest: destinationId, limit: opts.limit };
    let where = 'tenant_id = {tenant:String} AND destination_id = {dest:String}';
    if (opts.after !== undefined) {
      where += ' AND dead_letter_id > {after:String}';
      params['after'] = opts.after;
    }
    if (opts.state !== undefined) {
      where += ' AND state = {state:String}';
      params['state'] = opts.state;
    }
    if (opts.ids !== undefined) {
      where += ' AND dead_letter_id IN {ids:Array(String)}';
      params['ids'] = opts.ids;
    }
    const rows = await this.store.query<DeadLetterRow>(
      `SELECT ${BASE}${opts.withEvents ? ', events' : ''} FROM siem_dead_letters FINAL WHERE ${where} ORDER BY dead_letter_id LIMIT {limit:UInt32}`,
      params,
    );
    return rows.map(fromRow);
  }

  /** Pending dead letters with their events, oldest first: what a redrive sends. */
  pending(tenantId: string, destinationId: string, opts: { limit: number; ids?: readonly string[] | undefined }): Promise<DeadLetter[]> {
    return this.list(tenantId, destinationId, { ...opts, state: 'pending', withEvents: true });
  }

  /** The receiver took a redriven dead letter. */
  markRedriven(d: DeadLetter & { events: ForwardedEvent[] }): Promise<DeadLetter> {
    return this.save({ ...d, state: 'redriven', redriveAttempts: d.redriveAttempts + 1, lastRedriveError: '', redrivenAt: this.clock.iso() });
  }

  /** A redrive that did not get through: still pending, one more attempt, and why. */
  markRedriveFailed(d: DeadLetter & { events: ForwardedEvent[] }, error: string): Promise<DeadLetter> {
    return this.save({ ...d, redriveAttempts: d.redriveAttempts + 1, lastRedriveError: truncateBody(error) });
  }

  async counts(tenantId: string, destinationId: string): Promise<DeadLetterCounts> {
    const rows = await this.store.query<{ pending: number | string; redriven: number | string; pending_events: number | string }>(
      `SELECT countIf(state = 'pending') AS pending, countIf(state = 'redriven') AS redriven,
              sumIf(length(event_ids), state = 'pending') AS pending_events
       FROM siem_dead_letters FINAL WHERE tenant_id = {tenant:String} AND destination_id = {dest:String}`,
      { tenant: tenantId, dest: destinationId },
    );
    const r = rows[0];
    return { pending: Number(r?.pending ?? 0), redriven: Number(r?.redriven ?? 0), pendingEvents: Number(r?.pending_events ?? 0) };
  }
}
