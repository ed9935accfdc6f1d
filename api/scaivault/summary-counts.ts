// The counts behind GET /v1/audit/summary, kept per tenant and window length and brought up to
// date by difference, so a dashboard polling "the last 30 days" costs a small query over what
// changed, not a scan of the tenant's month.
//
// An entry holds exact counts (events, successes, per action, per identity, per path) of the
// tenant's events with seq ≤ S and event_time in [from, to), under the /v1/audit/logs filters
// (./scaivault-log.ts: internal events left out). A later request for [from', to') at high-water
// H adds the events with seq in (S, H] inside the new window, and, among seq ≤ S, adds the time
// slices the window gained and subtracts those it lost. Exact because a tenant's seq becomes
// readable in order (one writer per tenant, one write in flight: ARCHITECTURE "Sequence") — the
// same property the seq cursors rely on — and because every part of the query is bounded by
// seq ≤ H, a seq already readable when it starts, so all its parts read the same rows.
//
// One store call per request (parts under UNION ALL), none when nothing moved. A window that
// moved more than half its length, or does not overlap, is counted afresh. Memory is bounded by
// a budget of keys across entries (least recently used dropped first); a tenant with more
// distinct identities or paths than an entry may hold is answered exactly but not kept.
import type { Store } from '../../infra/store/store.ts';
import { ScopedQuery, type CompiledSql } from '../query/scoped-query.ts';
import type { TenantScope } from '../query/tenant-scope.ts';
import { applyAuditLogFilters } from './scaivault-log.ts';

export interface AuditSummary {
  total_events: number;
  successful_events: number;
  failed_events: number;
  actions_breakdown: Record<string, number>;
  top_identities: { identity_id: string; count: number }[];
  top_resources: { path: string; count: number }[];
}

export interface Counts {
  total: number;
  ok: number;
  actions: Map<string, number>;
  identities: Map<string, number>;
  resources: Map<string, number>;
}

interface Entry {
  from: number;
  to: number;
  seq: number;
  counts: Counts;
}

/** One tenant's entries (a few windows: e.g. a rolling month and a fixed range), most recently used last. */
interface TenantCounts {
  entries: Entry[];
  /** A tenant's requests run one after another, each from the state the previous left. */
  busy: Promise<unknown>;
}

/** Signed events of one time slice and seq range. */
interface Part {
  sign: 1 | -1;
  from: number;
  to: number;
  seqAbove: number;
  seqAtMost: number;
}

const KINDS = [
  { kind: 'a', key: 'toString(action)' },
  { kind: 'i', key: 'actor_id' },
  { kind: 'r', key: 'resource_path' },
] as const;

interface GroupRow {
  kind: 'a' | 'i' | 'r';
  key: string;
  c: number | string;
  ok: number | string;
}

export interface SummaryCountsOptions {
  /** Distinct identities or paths one entry may hold (beyond: answered, not kept). */
  maxKeysPerEntry?: number;
  /** Keys held across all entries. */
  maxKeys?: number;
  /** Windows kept per tenant. */
  entriesPerTenant?: number;
}

export class SummaryCounts {
  /** Least recently used tenant first. */
  private readonly tenants = new Map<string, TenantCounts>();
  private readonly maxKeysPerEntry: number;
  private readonly maxKeys: number;
  private readonly entriesPerTenant: number;
  readonly stats = { fresh: 0, delta: 0, unchanged: 0 };

  constructor(private readonly store: Store, opts: SummaryCountsOptions = {}) {
    this.maxKeysPerEntry = opts.maxKeysPerEntry ?? 50_000;
    this.maxKeys = opts.maxKeys ?? 200_000;
    this.entriesPerTenant = opts.entriesPerTenant ?? 3;
  }

  /** The summary of one tenant's events in [from, to) with seq ≤ highWater (a seq already readable), `tops` of each. */
  async summary(tenantId: string, from: string, to: string, highWater: number, tops: number): Promise<AuditSummary> {
    const f = Date.parse(from);
    const t = Date.parse(to);
    if (!(f < t)) return toSummary(emptyCounts(), tops);
    let tc = this.tenants.get(tenantId);
    if (tc === undefined) {
      tc = { entries: [], busy: Promise.resolve() };
      this.tenants.set(tenantId, tc);
    }
    const owner = tc;
    // The summary is built inside the step, before the tenant's next request may change the counts.
    const run = owner.busy.then(() => this.step(tenantId, owner, f, t, highWater, tops));
    owner.busy = run.catch(() => undefined);
    return run;
  }

  private async step(tenantId: string, tc: TenantCounts, f: number, t: number, highWater: number, tops: number): Promise<AuditSummary> {
    const scope: TenantScope = { kind: 'tenant', tenantId };
    // The kept window closest to the one asked for, if it is close enough to be worth a difference.
    let e: Entry | undefined;
    let least = (t - f) / 2;
    for (const x of tc.entries) {
      const moved = Math.abs(f - x.from) + Math.abs(t - x.to);
      if (Math.min(x.to, t) > Math.max(x.from, f) && moved <= least && highWater >= x.seq) {
        e = x;
        least = moved;
      }
    }
    if (e === undefined) {
      this.stats.fresh++;
      const counts = emptyCounts();
      const complete = await this.apply(counts, scope, [{ sign: 1, from: f, to: t, seqAbove: -1, seqAtMost: highWater }], this.maxKeysPerEntry + 1);
      if (complete) this.keep(tenantId, tc, { from: f, to: t, seq: highWater, counts });
      else if (tc.entries.length === 0) this.tenants.delete(tenantId);
      return toSummary(counts, tops);
    }
    const parts: Part[] = [];
    if (highWater > e.seq) parts.push({ sign: 1, from: f, to: t, seqAbove: e.seq, seqAtMost: highWater });
    // Among the events counted before (seq ≤ S): the slices the window gained (+) and lost (−).
    const slice = (a: number, b: number, sign: 1 | -1) => { if (a < b) parts.push({ sign, from: a, to: b, seqAbove: -1, seqAtMost: e.seq }); };
    slice(f, e.from, 1);
    slice(e.from, f, -1);
    slice(e.to, t, 1);
    slice(t, e.to, -1);
    if (parts.length === 0) {
      this.stats.unchanged++;
    } else {
      this.stats.delta++;
      // Applied in place only once the query answered: a failed call leaves the entry as it was.
      await this.apply(e.counts, scope, parts);
      Object.assign(e, { from: f, to: t, seq: highWater });
    }
    tc.entries.splice(tc.entries.indexOf(e), 1);
    const summary = toSummary(e.counts, tops);
    if (e.counts.identities.size <= this.maxKeysPerEntry && e.counts.resources.size <= this.maxKeysPerEntry) this.keep(tenantId, tc, e);
    return summary;
  }

  /**
   * Adds the parts' signed counts into `into`, in one store call. With `cap`, each of the identity
   * and path groups is cut at `cap` keys, most counted first; returns false when a cut happened
   * (the counts then hold exact totals and actions, and exact tops, but not every key).
   */
  private async apply(into: Counts, scope: TenantScope, parts: Part[], cap?: number): Promise<boolean> {
    const compiled = parts.map((p, i) => prefixed(partSql(scope, p), `p${i}_`));
    const union = compiled.map((c) => c.sql).join(' UNION ALL ');
    const params = Object.assign({ cap: cap ?? 0 }, ...compiled.map((c) => c.params)) as Record<string, unknown>;
    // A group whose events cancel out can still move the successes (one success in, one failure out).
    const sums = 'sum(s) AS c, sumIf(s, success) AS ok';
    const sql = parts.length === 1
      // A count afresh: three GROUP BYs (measured faster than GROUPING SETS over a month of events).
      ? KINDS.map(({ kind, key }) => {
        const cut = cap !== undefined && kind !== 'a' ? ' ORDER BY c DESC, key ASC LIMIT {cap:UInt32}' : '';
        return `SELECT * FROM (SELECT '${kind}' AS kind, ${key} AS key, ${sums} FROM (${union}) GROUP BY key HAVING c != 0 OR ok != 0${cut})`;
      }).join(' UNION ALL ')
      // A difference: small slices, where reading them once matters more than how they are grouped.
      : "SELECT if(grouping(action) = 0, 'a', if(grouping(actor_id) = 0, 'i', 'r')) AS kind, " +
        `if(kind = 'a', toString(action), if(kind = 'i', actor_id, resource_path)) AS key, ${sums} ` +
        `FROM (${union}) GROUP BY GROUPING SETS ((action), (actor_id), (resource_path)) HAVING c != 0 OR ok != 0`;
    const rows = await this.store.query<GroupRow>(sql, params);
    const seen = { i: 0, r: 0 };
    for (const r of rows) {
      const c = Number(r.c);
      if (r.kind === 'a') {
        into.total += c;
        into.ok += Number(r.ok);
        add(into.actions, r.key, c);
      } else {
        seen[r.kind]++;
        if (r.key !== '') add(r.kind === 'i' ? into.identities : into.resources, r.key, c);
      }
    }
    return cap === undefined || (seen.i < cap && seen.r < cap);
  }

  /** Keeps `e` as the tenant's most recent entry, then drops least recently used entries over the budgets. */
  private keep(tenantId: string, tc: TenantCounts, e: Entry): void {
    tc.entries.push(e);
    if (tc.entries.length > this.entriesPerTenant) tc.entries.shift();
    this.tenants.delete(tenantId);
    this.tenants.set(tenantId, tc);
    let held = 0;
    for (const x of this.tenants.values()) for (const y of x.entries) held += size(y.counts);
    for (const [id, x] of this.tenants) {
      while (held > this.maxKeys && x.entries.length > 0) held -= size(x.entries.shift()!.counts);
      if (x.entries.length === 0) this.tenants.delete(id);
      if (held <= this.maxKeys) break;
    }
  }
}

function partSql(scope: TenantScope, p: Part): CompiledSql {
  const q = applyAuditLogFilters(new ScopedQuery('audit_events', scope), { from: new Date(p.from).toISOString(), to: new Date(p.to).toISOString() });
  if (p.seqAbove >= 0) q.seqAfter(p.seqAbove, 'asc');
  q.where({ column: 'seq', op: '<=', type: 'UInt64', value: p.seqAtMost });
  // `p.sign` is 1 or -1, from code.
  return q.select(`toInt64(${p.sign}) AS s, success, action, actor_id, resource_path`);
}

/** The same statement with its parameters renamed `<prefix><name>`, so several can share one query. */
function prefixed(c: CompiledSql, prefix: string): CompiledSql {
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.params)) params[`${prefix}${k}`] = v;
  return { sql: c.sql.replace(/\{(\w+):/g, `{${prefix}$1:`), params };
}

function add(m: Map<string, number>, k: string, c: number): void {
  const n = (m.get(k) ?? 0) + c;
  if (n === 0) m.delete(k);
  else m.set(k, n);
}

const emptyCounts = (): Counts => ({ total: 0, ok: 0, actions: new Map(), identities: new Map(), resources: new Map() });
const size = (c: Counts) => c.identities.size + c.resources.size + c.actions.size;

/** The `n` keys counted most, ties by key ascending (one pass, no sort of the whole map). */
export function topOf(m: Map<string, number>, n: number): { key: string; c: number }[] {
  const top: { key: string; c: number }[] = [];
  const before = (a: { key: string; c: number }, b: { key: string; c: number }) => a.c > b.c || (a.c === b.c && a.key < b.key);
  for (const [key, c] of m) {
    if (c <= 0) continue;
    const x = { key, c };
    if (top.length === n && !before(x, top[n - 1]!)) continue;
    let i = top.length === n ? n - 1 : top.length;
    while (i > 0 && before(x, top[i - 1]!)) {
      top[i] = top[i - 1]!;
      i--;
    }
    top[i] = x;
  }
  return top;
}

/** Action counts as an object, most first, ties by name (own properties only: an action named `__proto__` stays data). */
export function breakdown(m: Map<string, number>): Record<string, number> {
  return Object.fromEntries(topOf(m, m.size).map((g) => [g.key, g.c]));
}

function toSummary(c: Counts, tops: number): AuditSummary {
  return {
    total_events: c.total,
    successful_events: c.ok,
    failed_events: c.total - c.ok,
    actions_breakdown: breakdown(c.actions),
    top_identities: topOf(c.identities, tops).map((g) => ({ identity_id: g.key, count: g.c })),
    top_resources: topOf(c.resources, tops).map((g) => ({ path: g.key, count: g.c })),
  };
}
