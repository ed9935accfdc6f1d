// GET /v1/audit/summary (ScaiVault "Audit Logs"): totals, the actions breakdown and the top
// identities and resources over a window, plus the aggregates the per-secret and per-identity
// trails carry. Both are built on the /v1/audit/logs filters (./scaivault-log.ts), so a summary
// counts exactly the events /v1/audit/logs lists for the same window.
//
// chDB answers one call at a time per process, so each aggregate is ONE store call: the summary
// is a single scan grouped by GROUPING SETS ((action), (actor_id), (resource_path)) — exact
// counts (no topK approximation) — with the tops cut by a window function; totals are the sum of
// the action groups (every event has exactly one action, the empty one included).
import type { FastifyInstance } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import type { Store } from '../../infra/store/store.ts';
import { QueryReader } from '../query/query-params.ts';
import { isoFromStore, ScopedQuery } from '../query/scoped-query.ts';
import { ownTenant } from '../query/tenant-scope.ts';
import type { SelfAudit } from '../self-audit.ts';
import { errorResponses } from '../service/openapi.ts';
import { applyAuditLogFilters } from './scaivault-log.ts';

/** How many top identities / resources a summary lists. */
export const TOP_COUNT = 10;
/** The window a summary covers when `from` is absent, and the trails' summary window. */
export const SUMMARY_WINDOW_MS = 30 * 86_400_000;

export interface AuditSummary {
  total_events: number;
  successful_events: number;
  failed_events: number;
  actions_breakdown: Record<string, number>;
  top_identities: { identity_id: string; count: number }[];
  top_resources: { path: string; count: number }[];
}

interface SummaryRow {
  kind: 'a' | 'i' | 'r';
  key: string;
  c: number | string;
  ok: number | string;
}

/** Most first, ties by key ascending: the order of the breakdown and of the tops. */
const byCount = (a: { key: string; c: number }, b: { key: string; c: number }) => b.c - a.c || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Action counts as an object, most frequent first (own properties only: an action named `__proto__` stays data). */
const breakdown = (groups: { key: string; c: number }[]): Record<string, number> =>
  Object.fromEntries(groups.sort(byCount).map((g) => [g.key, g.c]));

/** Totals, breakdown and tops of the events `q` selects (already scoped and filtered), in one store call. */
export async function auditSummary(store: Store, q: ScopedQuery, tops = TOP_COUNT): Promise<AuditSummary> {
  const inner = q.select(
    "if(grouping(action) = 0, 'a', if(grouping(actor_id) = 0, 'i', 'r')) AS kind, " +
      "if(kind = 'a', toString(action), if(kind = 'i', actor_id, resource_path)) AS key, count() AS c, countIf(success) AS ok",
    'GROUP BY GROUPING SETS ((action), (actor_id), (resource_path))',
    { tops },
  );
  // Events without an identity or a path count in the totals but are no one's top.
  const sql =
    `SELECT kind, key, c, ok FROM (SELECT kind, key, c, ok, row_number() OVER (PARTITION BY kind ORDER BY c DESC, key ASC) AS rn ` +
    `FROM (${inner.sql}) WHERE kind = 'a' OR notEmpty(key)) WHERE kind = 'a' OR rn <= {tops:UInt32}`;
  const rows = await store.query<SummaryRow>(sql, inner.params);
  const groups = { a: [] as { key: string; c: number }[], i: [] as { key: string; c: number }[], r: [] as { key: string; c: number }[] };
  let total = 0;
  let ok = 0;
  for (const r of rows) {
    const c = Number(r.c);
    groups[r.kind].push({ key: r.key, c });
    if (r.kind === 'a') {
      total += c;
      ok += Number(r.ok);
    }
  }
  return {
    total_events: total,
    successful_events: ok,
    failed_events: total - ok,
    actions_breakdown: breakdown(groups.a),
    top_identities: groups.i.sort(byCount).map((g) => ({ identity_id: g.key, count: g.c })),
    top_resources: groups.r.sort(byCount).map((g) => ({ path: g.key, count: g.c })),
  };
}

export interface TrailSummary {
  from: string;
  to: string;
  total_events: number;
  successful_events: number;
  failed_events: number;
  actions_breakdown: Record<string, number>;
  first_seen: string | null;
  last_seen: string | null;
  /** `distinct_identities` on a secret's trail, `distinct_resources` on an identity's. */
  [distinct: string]: unknown;
}

/**
 * A trail's summary over [from, to) of the events `q` selects (one subject, already scoped): totals,
 * breakdown, how many distinct values of `distinct` (empty ones not counted), first and last seen.
 */
export async function trailSummary(
  store: Store,
  q: ScopedQuery,
  window: { from: string; to: string },
  distinct: { column: 'actor_id' | 'resource_path'; as: 'distinct_identities' | 'distinct_resources' },
): Promise<TrailSummary> {
  // `distinct.column` is one of two code constants, never input.
  const { sql, params } = q.select(
    `count() AS total, countIf(success) AS ok, uniqExactIf(${distinct.column}, notEmpty(${distinct.column})) AS d, ` +
      'min(event_time) AS first, max(event_time) AS last, sumMap(map(toString(action), toUInt64(1))) AS actions',
  );
  const [r] = await store.query<{ total: number | string; ok: number | string; d: number | string; first: string; last: string; actions: Record<string, number | string> }>(sql, params);
  const total = Number(r?.total ?? 0);
  const ok = Number(r?.ok ?? 0);
  return {
    from: window.from,
    to: window.to,
    total_events: total,
    successful_events: ok,
    failed_events: total - ok,
    actions_breakdown: breakdown(Object.entries(r?.actions ?? {}).map(([key, c]) => ({ key, c: Number(c) }))),
    [distinct.as]: Number(r?.d ?? 0),
    // min/max of no rows is the epoch: no events, nothing seen.
    first_seen: total > 0 && r ? isoFromStore(r.first) : null,
    last_seen: total > 0 && r ? isoFromStore(r.last) : null,
  };
}

/** The window of the last 30 days ending at `now`, as ISO instants. */
export function lastDays(now: number): { from: string; to: string } {
  return { from: new Date(now - SUMMARY_WINDOW_MS).toISOString(), to: new Date(now).toISOString() };
}

const COUNTED = { type: 'object', additionalProperties: { type: 'integer' }, description: 'action → events, most frequent first' } as const;
export const SUMMARY_COUNTS_SCHEMA = {
  total_events: { type: 'integer' },
  successful_events: { type: 'integer' },
  failed_events: { type: 'integer' },
  actions_breakdown: COUNTED,
} as const;

export async function auditSummaryRoutes(app: FastifyInstance, deps: { store: Store; selfAudit: SelfAudit }): Promise<void> {
  app.get('/v1/audit/summary', {
    schema: {
      summary: 'Aggregate statistics: totals, actions breakdown, top identities and resources',
      tags: ['scaivault'],
      querystring: {
        type: 'object',
        properties: {
          from: { type: 'string', format: 'date-time', description: 'inclusive; default: 30 days before `to`' },
          to: { type: 'string', format: 'date-time', description: 'exclusive; default: now' },
        },
        additionalProperties: false,
      },
      response: {
        200: {
          type: 'object',
          properties: {
            ...SUMMARY_COUNTS_SCHEMA,
            top_identities: { type: 'array', maxItems: TOP_COUNT, items: { type: 'object', properties: { identity_id: { type: 'string' }, count: { type: 'integer' } } } },
            top_resources: { type: 'array', maxItems: TOP_COUNT, items: { type: 'object', properties: { path: { type: 'string' }, count: { type: 'integer' } } } },
          },
        },
        ...errorResponses(400, 401, 403, 503),
      },
    },
  }, async (req) => {
    requireScope(req.principal, 'audit:read');
    const q = new QueryReader(req.query as Record<string, unknown>);
    const from = q.time('from');
    const to = q.time('to');
    q.done();
    const until = to ?? new Date().toISOString();
    const window = { from: from ?? new Date(Date.parse(until) - SUMMARY_WINDOW_MS).toISOString(), to: until };
    const query = applyAuditLogFilters(new ScopedQuery('audit_events', ownTenant(req.principal)), window);
    const summary = await auditSummary(deps.store, query);
    const groups = Object.keys(summary.actions_breakdown).length + summary.top_identities.length + summary.top_resources.length;
    deps.selfAudit.record(req, { resource: 'scaivault.summary', filters: window, rows: groups });
    return summary;
  });
}
