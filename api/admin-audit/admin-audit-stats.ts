// GET /api/v1/admin/audit/stats: counts over the caller's reach (optionally one tenant and a time
// window), in ONE store call — chDB answers one call at a time per process, so a dashboard's stats
// must not queue seven queries behind each other. One scan computes the totals and every breakdown
// (sumMap over a one-entry map per row counts each value); a second subquery in the same statement
// ranks the top actors. Both subqueries share the same WHERE and so the same bound parameters.
import { AuditflowError } from '../../infra/errors.ts';
import type { Store } from '../../infra/store/store.ts';
import { isoFromStore, type ScopedQuery } from '../query/scoped-query.ts';
import { INTERNAL_SOURCE_FORMAT } from '../self-audit.ts';

/** How many actors `top_actors` lists. */
export const TOP_ACTORS = 10;

const BREAKDOWNS = { by_result: 'outcome', by_action: 'action', by_category: 'category', by_severity: 'severity', by_resource_type: 'resource_type' } as const;
type Breakdown = keyof typeof BREAKDOWNS;

type StatsRow = {
  total: number; tenants: number; unique_actors: number; internal_events: number;
  first_event_time: string | null; last_event_time: string | null;
  top: [string, string, string, number][];
} & Record<Breakdown, Record<string, number>>;

export interface AuditStats {
  total: number;
  /** How many tenants the counted events belong to (1 for a tenant scope with events). */
  tenants: number;
  /** Distinct (tenant, actor) pairs among events with an actor. */
  unique_actors: number;
  /** The API's own self-audit events among them. */
  internal_events: number;
  first_event_time: string | null;
  last_event_time: string | null;
  by_result: Record<string, number>;
  by_action: Record<string, number>;
  by_category: Record<string, number>;
  by_severity: Record<string, number>;
  by_resource_type: Record<string, number>;
  top_actors: { tenant_id: string; actor_id: string; actor_email: string | null; count: number }[];
}

export async function auditStats(store: Store, q: ScopedQuery): Promise<AuditStats> {
  const breakdowns = Object.entries(BREAKDOWNS).map(([name, col]) => `sumMap(map(${col}, toUInt64(1))) AS ${name}`).join(', ');
  const totals = q.select(
    'count() AS total, uniqExact(tenant_id) AS tenants, ' +
    "uniqExactIf((tenant_id, actor_id), actor_id != '') AS unique_actors, countIf(source_format = {internal:String}) AS internal_events, " +
    `minOrNull(event_time) AS first_event_time, maxOrNull(event_time) AS last_event_time, ${breakdowns}`,
    '',
    { internal: INTERNAL_SOURCE_FORMAT },
  );
  const actors = q.select(
    'tenant_id, actor_id, argMax(actor_email, event_time) AS actor_email, count() AS n',
    "GROUP BY tenant_id, actor_id HAVING actor_id != '' ORDER BY n DESC, tenant_id, actor_id LIMIT {top_actors:UInt32}",
    { top_actors: TOP_ACTORS },
  );
  const sql = `SELECT s.*, a.top AS top FROM (${totals.sql}) AS s CROSS JOIN (SELECT groupArray((tenant_id, actor_id, actor_email, n)) AS top FROM (${actors.sql})) AS a`;
  const [r] = await store.query<StatsRow>(sql, { ...totals.params, ...actors.params });
  if (r === undefined) throw new AuditflowError('INTERNAL', 'stats query returned no row');
  const counts = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number(v)]));
  return {
    total: Number(r.total),
    tenants: Number(r.tenants),
    unique_actors: Number(r.unique_actors),
    internal_events: Number(r.internal_events),
    first_event_time: r.first_event_time === null ? null : isoFromStore(r.first_event_time),
    last_event_time: r.last_event_time === null ? null : isoFromStore(r.last_event_time),
    by_result: counts(r.by_result),
    by_action: counts(r.by_action),
    by_category: counts(r.by_category),
    by_severity: counts(r.by_severity),
    by_resource_type: counts(r.by_resource_type),
    top_actors: r.top.map(([tenant_id, actor_id, email, n]) => ({ tenant_id, actor_id, actor_email: email === '' ? null : email, count: Number(n) })),
  };
}
