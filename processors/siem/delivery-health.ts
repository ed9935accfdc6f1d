// Delivery health (schemas/migrations/0006_siem.sql): the forwarder reports one row per
// (destination, topic, partition) it holds; the newest report per partition stands. Counters are
// cumulative per partition: the next holder of a partition (after a restart or a rebalance)
// reads last() and continues them, so their sum over partitions is the destination's total.
import type { Store } from '../../infra/store/store.ts';
import { chTime, isoFromStore } from '../../api/query/scoped-query.ts';
import { insertRows, VersionClock } from './siem-rows.ts';

export interface HealthReport {
  tenantId: string;
  destinationId: string;
  topic: string;
  partition: number;
  /** The next offset to deliver. */
  position: number;
  endOffset: number;
  lagEvents: number;
  lagSeconds: number;
  lastSuccessAt: string | null;
  /** The error since the last success (null once a batch got through). */
  lastError: string | null;
  /** Cumulative events delivered from this partition. */
  delivered: number;
  /** Cumulative events dead-lettered from this partition. */
  deadLettered: number;
  reportedAt: string;
}

/** GET /v1/siem/destinations/{id}/health. */
export interface DestinationHealth {
  lag_events: number;
  lag_seconds: number;
  last_success_at: string | null;
  last_error: string | null;
  delivered: number;
  dead_lettered: number;
}

interface HealthRow {
  tenant_id: string; destination_id: string; topic: string; partition: number | string; position: number | string;
  end_offset: number | string; lag_events: number | string; lag_seconds: number | string; last_success_at: string | null;
  last_error: string | null; delivered: number | string; dead_lettered: number | string; reported_at: string;
}

const COLUMNS = 'tenant_id, destination_id, topic, partition, position, end_offset, lag_events, lag_seconds, last_success_at, last_error, delivered, dead_lettered, reported_at';

function fromRow(r: HealthRow): HealthReport {
  return {
    tenantId: r.tenant_id, destinationId: r.destination_id, topic: r.topic, partition: Number(r.partition), position: Number(r.position),
    endOffset: Number(r.end_offset), lagEvents: Number(r.lag_events), lagSeconds: Number(r.lag_seconds),
    lastSuccessAt: r.last_success_at === null ? null : isoFromStore(r.last_success_at), lastError: r.last_error,
    delivered: Number(r.delivered), deadLettered: Number(r.dead_lettered), reportedAt: isoFromStore(r.reported_at),
  };
}

/** Before any report: nothing delivered, no lag known (zeros), no success or error yet (nulls). */
export const NO_HEALTH: Readonly<DestinationHealth> = Object.freeze({ lag_events: 0, lag_seconds: 0, last_success_at: null, last_error: null, delivered: 0, dead_lettered: 0 });

/** The destination's health over its partitions' newest reports: lag summed and maxed, counters summed. */
export function aggregateHealth(reports: readonly HealthReport[]): DestinationHealth {
  if (reports.length === 0) return { ...NO_HEALTH };
  const newestFirst = [...reports].sort((a, b) => Date.parse(b.reportedAt) - Date.parse(a.reportedAt));
  let lastSuccess: string | null = null;
  for (const r of reports) if (r.lastSuccessAt !== null && (lastSuccess === null || Date.parse(r.lastSuccessAt) > Date.parse(lastSuccess))) lastSuccess = r.lastSuccessAt;
  return {
    lag_events: reports.reduce((s, r) => s + r.lagEvents, 0),
    lag_seconds: Math.max(...reports.map((r) => r.lagSeconds)),
    last_success_at: lastSuccess,
    // A partition still failing is the news: the newest report that carries an error.
    last_error: newestFirst.find((r) => r.lastError !== null)?.lastError ?? null,
    delivered: reports.reduce((s, r) => s + r.delivered, 0),
    dead_lettered: reports.reduce((s, r) => s + r.deadLettered, 0),
  };
}

export class DeliveryHealth {
  private readonly clock: VersionClock;

  constructor(private readonly store: Store, now: () => number = Date.now) {
    this.clock = new VersionClock(now);
  }

  /** Records reports (one insert for all: a forwarder reports its partitions together). */
  async report(reports: readonly HealthReport[]): Promise<void> {
    await insertRows(this.store, 'siem_delivery_health', reports.map((r) => ({
      tenant_id: r.tenantId, destination_id: r.destinationId, topic: r.topic, partition: r.partition,
      // The later insert wins, also across processes (a rebalance's old and new holder): versions follow the clock.
      version: this.clock.next(),
      position: r.position, end_offset: r.endOffset, lag_events: r.lagEvents, lag_seconds: r.lagSeconds,
      last_success_at: r.lastSuccessAt === null ? null : chTime(r.lastSuccessAt), last_error: r.lastError,
      delivered: r.delivered, dead_lettered: r.deadLettered, reported_at: chTime(r.reportedAt),
    })));
  }

  /** The newest report of one partition (the forwarder continues its counters), or null. */
  async last(tenantId: string, destinationId: string, topic: string, partition: number): Promise<HealthReport | null> {
    const rows = await this.store.query<HealthRow>(
      `SELECT ${COLUMNS} FROM siem_delivery_health FINAL
       WHERE tenant_id = {tenant:String} AND destination_id = {dest:String} AND topic = {topic:String} AND partition = {partition:UInt32}`,
      { tenant: tenantId, dest: destinationId, topic, partition },
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /** Every partition's newest report for a destination. */
  async partitions(tenantId: string, destinationId: string): Promise<HealthReport[]> {
    const rows = await this.store.query<HealthRow>(
      `SELECT ${COLUMNS} FROM siem_delivery_health FINAL WHERE tenant_id = {tenant:String} AND destination_id = {dest:String} ORDER BY topic, partition`,
      { tenant: tenantId, dest: destinationId },
    );
    return rows.map(fromRow);
  }

  async read(tenantId: string, destinationId: string): Promise<DestinationHealth> {
    return aggregateHealth(await this.partitions(tenantId, destinationId));
  }
}
