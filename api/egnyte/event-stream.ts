// A tenant's Egnyte event stream: the ChangeLog read by seq, inside Egnyte's window (the latest
// 500,000 events, up to 30 days), answered from memory for the common poll.
//
//  - A poll at the head (id ≥ the tenant's high-water mark, ../query/high-water.ts) is answered
//    "nothing new" without touching the store.
//  - Each tenant has a tail: its newest mapped events (default 1,000), every row with
//    from < seq ≤ upTo. When the high-water mark moves, ONE store read (single flight) extends
//    it, so any number of pollers cost one store call per new batch. Filters apply in memory.
//  - A cursor older than the tail reads the store (ScopedQuery, the same filters compiled to SQL).
//
// NOTE: the tail relies on the ChangeLog being readable in seq order: a tenant is one partition's,
// its single writer inserts in seq order, one insert in flight, each insert atomic. So the rows
// past upTo that a read finds are exactly the next ones, and the tail never has a hole.
//
// Memory: at most `perTenant` events per tenant, and all tails together at most `maxSize`
// (characters of event text plus paths and ids, ~64 bytes per event added); past that the least
// recently polled tenants' tails are dropped (they reload on their next poll). A mapped event is
// ~250-400 characters, so the defaults hold ~1,000 events for each of ~150-250 tenants in ~64 MB.
import type { Store } from '../../infra/store/store.ts';
import type { HighWater } from '../query/high-water.ts';
import { ScopedQuery } from '../query/scoped-query.ts';
import { applyEventFilter, matches, matchesNothing, ROW_COLUMNS, toEgnyteEvent, type ChangeRow, type EventFilter, type MappedEvent } from './egnyte-event.ts';

export interface EventWindow {
  /** The latest this many ids. */
  events: number;
  /** Received at most this long ago. */
  ms: number;
}

/** egnyte-events-api.txt: "the latest 500,000 events, up to a maximum of 30 days". */
export const EGNYTE_WINDOW: EventWindow = { events: 500_000, ms: 30 * 24 * 3600 * 1000 };

export interface EventStreamOptions {
  window: EventWindow;
  perTenant: number;
  maxSize: number;
  now: () => number;
}

const DEFAULTS: EventStreamOptions = { window: EGNYTE_WINDOW, perTenant: 1000, maxSize: 64 * 1024 * 1024, now: Date.now };

export interface CursorInfo {
  timestamp: string;
  latest_event_id: number;
  oldest_event_id: number;
}

export interface ListRequest {
  /** The request's `id`. Forward: events after it; reverse: events up to and including it. */
  id: number;
  count: number;
  reverse: boolean;
  filter: EventFilter;
}

interface Tail {
  tenantId: string;
  /** The tail holds every row with from < seq ≤ upTo, ascending. */
  from: number;
  upTo: number;
  events: MappedEvent[];
  size: number;
  loading: Promise<void> | null;
}

/** What an empty tail counts for, so that tenants polled with no events are bounded too. */
const TAIL_SIZE = 256;
const sizeOf = (e: MappedEvent) => 64 + e.json.length + (e.newPath?.length ?? 0) + (e.oldPath?.length ?? 0) + e.changedBy.length + e.serviceAccount.length;

export class EgnyteEventStream {
  private readonly tails = new Map<string, Tail>();
  private size = 0;
  private readonly o: EventStreamOptions;
  /** Store reads made (tail extensions, older cursors, oldest ids): for tests and metrics. */
  readonly stats = { tailLoads: 0, storeReads: 0 };

  constructor(private readonly store: Store, private readonly highWater: HighWater, options: Partial<EventStreamOptions> = {}) {
    this.o = { ...DEFAULTS, ...options };
  }

  async cursor(tenantId: string): Promise<CursorInfo> {
    const now = this.o.now();
    const latest = await this.highWater.latest('change_log', tenantId);
    const t = this.tail(tenantId);
    if (latest > 0) await this.extend(t, latest);
    const newest = t.events[t.events.length - 1];
    if (newest === undefined) return { timestamp: new Date(now).toISOString(), latest_event_id: latest, oldest_event_id: latest };
    const latestId = Math.max(latest, newest.seq);
    const lo = Math.max(0, latestId - this.o.window.events);
    const cutoff = now - this.o.window.ms;
    let oldest = 0;
    if (t.from <= lo) {
      oldest = t.events.find((e) => e.seq > lo && e.receivedAt >= cutoff)?.seq ?? 0;
    } else {
      const { sql, params } = this.windowQuery(tenantId, lo, cutoff).select('min(seq) AS s');
      this.stats.storeReads++;
      oldest = Number((await this.store.query<{ s: number | string }>(sql, params))[0]?.s ?? 0);
    }
    // An empty window (every event older than 30 days): nothing before the latest id is served.
    return { timestamp: newest.timestamp, latest_event_id: latestId, oldest_event_id: oldest > 0 ? oldest : latestId };
  }

  /** The events a request returns, in response order; none: 204. */
  async list(tenantId: string, r: ListRequest): Promise<MappedEvent[]> {
    if (matchesNothing(r.filter)) return [];
    const latest = await this.highWater.latest('change_log', tenantId);
    // The head: nothing follows the cursor, and no store call is made.
    if (latest === 0 || (!r.reverse && r.id >= latest)) return [];
    const lo = Math.max(0, latest - this.o.window.events);
    const cutoff = this.o.now() - this.o.window.ms;
    const t = this.tail(tenantId);
    await this.extend(t, latest);
    return r.reverse ? this.backward(t, r, lo, cutoff) : this.forward(t, r, lo, cutoff);
  }

  private async forward(t: Tail, r: ListRequest, lo: number, cutoff: number): Promise<MappedEvent[]> {
    const after = Math.max(r.id, lo);
    const out: MappedEvent[] = [];
    if (after >= t.from) {
      for (let i = firstAfter(t.events, after); i < t.events.length && out.length < r.count; i++) {
        const e = t.events[i]!;
        if (e.receivedAt >= cutoff && matches(e, r.filter)) out.push(e);
      }
      return out;
    }
    return this.read(t.tenantId, r.filter, cutoff, after, undefined, 'asc', r.count);
  }

  private async backward(t: Tail, r: ListRequest, lo: number, cutoff: number): Promise<MappedEvent[]> {
    if (r.id <= lo) return [];
    const out: MappedEvent[] = [];
    for (let i = firstAfter(t.events, r.id) - 1; i >= 0 && out.length < r.count; i--) {
      const e = t.events[i]!;
      if (e.seq <= lo) return out;
      if (e.receivedAt >= cutoff && matches(e, r.filter)) out.push(e);
    }
    if (out.length === r.count || t.from <= lo) return out;
    // The rest is older than the tail.
    const rest = await this.read(t.tenantId, r.filter, cutoff, lo, Math.min(r.id, t.from), 'desc', r.count - out.length);
    return out.concat(rest);
  }

  /** Rows with after < seq ≤ upTo (when given), in the window and matching, from the store. */
  private async read(tenantId: string, f: EventFilter, cutoff: number, after: number, upTo: number | undefined, dir: 'asc' | 'desc', limit: number): Promise<MappedEvent[]> {
    const q = applyEventFilter(this.windowQuery(tenantId, after, cutoff), f);
    if (upTo !== undefined) q.where({ column: 'seq', op: '<=', type: 'UInt64', value: upTo });
    const { sql, params } = q.select(ROW_COLUMNS, `ORDER BY seq ${dir === 'asc' ? 'ASC' : 'DESC'} LIMIT {egnyte_limit:UInt32}`, { egnyte_limit: limit });
    this.stats.storeReads++;
    return (await this.store.query<ChangeRow>(sql, params)).map(toEgnyteEvent);
  }

  /** The tenant's change_log rows past `after` received since `cutoff`. */
  private windowQuery(tenantId: string, after: number, cutoff: number): ScopedQuery {
    return new ScopedQuery('change_log', { kind: 'tenant', tenantId })
      .seqAfter(after, 'asc')
      .timeRange('received_at', new Date(cutoff).toISOString(), undefined);
  }

  /** The tenant's tail, marked most recently used. */
  private tail(tenantId: string): Tail {
    let t = this.tails.get(tenantId);
    if (t !== undefined) {
      this.tails.delete(tenantId);
      this.tails.set(tenantId, t);
      return t;
    }
    t = { tenantId, from: 0, upTo: 0, events: [], size: TAIL_SIZE, loading: null };
    this.tails.set(tenantId, t);
    this.size += TAIL_SIZE;
    this.evict(t);
    return t;
  }

  /** Extends the tail to `latest`: one store read at a time per tenant, shared by every waiter. */
  private async extend(t: Tail, latest: number): Promise<void> {
    while (t.upTo < latest) {
      const before = t.upTo;
      t.loading ??= this.load(t, latest).finally(() => {
        t.loading = null;
      });
      await t.loading;
      if (t.upTo === before) return; // the store has nothing past upTo yet: serve what is there
    }
  }

  private async load(t: Tail, latest: number): Promise<void> {
    const cap = this.o.perTenant;
    // Far behind (a new tail, or a burst larger than the tail): only the newest `cap` rows.
    const reset = latest - t.upTo > cap;
    const after = reset ? latest - cap : t.upTo;
    const { sql, params } = new ScopedQuery('change_log', { kind: 'tenant', tenantId: t.tenantId })
      .seqAfter(after, 'asc')
      .select(ROW_COLUMNS, 'ORDER BY seq ASC LIMIT {tail_limit:UInt32}', { tail_limit: cap });
    this.stats.tailLoads++;
    const rows = (await this.store.query<ChangeRow>(sql, params)).map(toEgnyteEvent);
    const sizeBefore = t.size;
    if (reset) {
      t.events = rows;
      t.from = after;
      t.upTo = after;
      t.size = TAIL_SIZE;
    } else {
      for (const e of rows) t.events.push(e);
    }
    for (const e of rows) t.size += sizeOf(e);
    const last = rows[rows.length - 1];
    if (last !== undefined) t.upTo = last.seq;
    const over = t.events.length - cap;
    if (over > 0) {
      for (let i = 0; i < over; i++) t.size -= sizeOf(t.events[i]!);
      t.from = t.events[over - 1]!.seq;
      t.events.splice(0, over);
    }
    // A tail dropped while it loaded is no longer counted (its waiters still get the rows).
    if (this.tails.get(t.tenantId) === t) {
      this.size += t.size - sizeBefore;
      this.evict(t);
    }
  }

  /** Drops the least recently polled tails (never `keep`) until all fit in maxSize. */
  private evict(keep: Tail): void {
    for (const [tenantId, t] of this.tails) {
      if (this.size <= this.o.maxSize) return;
      if (t === keep) continue;
      this.tails.delete(tenantId);
      this.size -= t.size;
    }
  }
}

/** Index of the first event with seq > `seq` (events ascending). */
function firstAfter(events: readonly MappedEvent[], seq: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
