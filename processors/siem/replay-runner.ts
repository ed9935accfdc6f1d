// Runs one replay (./replays.ts): the tenant's stored events of [from, to), in seq order, up to
// the seq that was readable when it was requested, through the destination's filter, delivered
// like live batches (./delivery.ts) — retried for as long as it takes, refused ones dead-lettered.
// Replays read the store, not the log: a range older than the log's retention can be replayed.
// Progress (the last seq sent) is written after each page, so a replay taken over after a crash
// resumes there (at least once: a page in flight is sent again).
import { chTime } from '../../api/query/scoped-query.ts';
import type { Store } from '../../infra/store/store.ts';
import { backoffDelay, sleep, type BackoffPolicy } from '../consumer/backoff.ts';
import { deliverBatch, type DeliveryCounters, type DeliveryTarget } from './delivery.ts';
import type { Destination } from './destinations.ts';
import { forwardedFromRow } from './forwarded-event.ts';
import type { Replay, Replays } from './replays.ts';
import { compileFilter } from './siem-filter.ts';

export interface ReplayRunDeps {
  store: Store;
  replays: Replays;
  retry: BackoffPolicy;
  pageRows: number;
  leaseMs: number;
  /** Aborted on shutdown (the replay stays running; its lease expires and it is taken again). */
  signal: AbortSignal;
}

const EVENT_COLUMNS = `seq, id, tenant_id, partner_id, event_time, event_type, action, category, severity, outcome, success,
  actor_id, actor_type, actor_email, service_account, resource_type, resource_id, resource_name, resource_path, share_id,
  source_ip, user_agent, request_id, duration_ms, action_source, details, source_format`;

/** Runs the replay to its end; returns how it ended (`stopped`: shutdown or taken over). */
export async function runReplay(replay: Replay, dest: Destination, target: DeliveryTarget, counters: DeliveryCounters, deps: ReplayRunDeps): Promise<'completed' | 'stopped'> {
  const wants = compileFilter(dest.filter);
  let r = replay;
  let lastSeq = r.lastSeq;
  let sent = r.eventsSent;
  for (;;) {
    if (deps.signal.aborted) return 'stopped';
    const rows = await deps.store.query<Record<string, unknown> & { seq: string | number }>(
      `SELECT ${EVENT_COLUMNS} FROM audit_events
       WHERE tenant_id = {tenant:String} AND seq > {after:UInt64} AND seq <= {snapshot:UInt64}
         AND event_time >= {from:DateTime64(3, 'UTC')} AND event_time < {to:DateTime64(3, 'UTC')}
       ORDER BY seq LIMIT {limit:UInt32}`,
      { tenant: r.tenantId, after: lastSeq, snapshot: r.snapshotSeq, from: chTime(r.from), to: chTime(r.to), limit: deps.pageRows },
    );
    if (rows.length === 0) break;
    const events = rows.map(forwardedFromRow).filter(wants);
    const batch = { events, next: 0 };
    for (let attempt = 1; ; attempt++) {
      const result = await deliverBatch(target, batch, counters);
      if (result.kind === 'done') break;
      if (deps.signal.aborted) return 'stopped';
      await sleep(result.afterMs ?? backoffDelay(deps.retry, attempt), deps.signal);
    }
    lastSeq = Number(rows[rows.length - 1]!.seq);
    sent += events.length;
    const renewed = await deps.replays.progress(r, { lastSeq, eventsSent: sent }, deps.leaseMs);
    if (!renewed) return 'stopped'; // another worker took it over
    r = renewed;
    if (rows.length < deps.pageRows) break;
  }
  await deps.replays.complete(r, { lastSeq, eventsSent: sent });
  return 'completed';
}
