// GET /v1/audit/summary (ScaiVault "Audit Logs"): totals, the actions breakdown and the top
// identities and resources over a window, plus the aggregates the per-secret and per-identity
// trails carry. Both are built on the /v1/audit/logs filters (./scaivault-log.ts), so a summary
// counts exactly the events /v1/audit/logs lists for the same window.
//
// chDB answers one call at a time per process, so each aggregate is at most ONE store call, with
// exact counts (no topK approximation). The tenant summary's counts are kept and brought up to
// date by difference (./summary-counts.ts): a poll of "the last 30 days" reads what changed, not
// the month. A trail's summary is one aggregate over the subject's rows (the skip indexes on
// actor_id and resource_path keep it short).
import type { FastifyInstance } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import type { Store } from '../../infra/store/store.ts';
import type { HighWater } from '../query/high-water.ts';
import { QueryReader } from '../query/query-params.ts';
import { isoFromStore, type ScopedQuery } from '../query/scoped-query.ts';
import type { SelfAudit } from '../self-audit.ts';
import { errorResponses } from '../service/openapi.ts';
import { breakdown, SummaryCounts } from './summary-counts.ts';

/** How many top identities / resources a summary lists. */
export const TOP_COUNT = 10;
/** The window a summary covers when `from` is absent, and the trails' summary window. */
export const SUMMARY_WINDOW_MS = 30 * 86_400_000;

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
    actions_breakdown: breakdown(new Map(Object.entries(r?.actions ?? {}).map(([key, c]) => [key, Number(c)]))),
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

export async function auditSummaryRoutes(app: FastifyInstance, deps: { store: Store; selfAudit: SelfAudit; highWater: HighWater }): Promise<void> {
  const counts = new SummaryCounts(deps.store);
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
          required: ['total_events', 'successful_events', 'failed_events', 'actions_breakdown', 'top_identities', 'top_resources'],
          additionalProperties: false,
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
    // Bounded by a seq already readable, so every part of the query reads the same events.
    const highWater = await deps.highWater.latest('audit_events', req.principal.tenantId);
    const summary = await counts.summary(req.principal.tenantId, window.from, window.to, highWater, TOP_COUNT);
    const groups = Object.keys(summary.actions_breakdown).length + summary.top_identities.length + summary.top_resources.length;
    deps.selfAudit.record(req, { resource: 'scaivault.summary', filters: window, rows: groups });
    return summary;
  });
}
