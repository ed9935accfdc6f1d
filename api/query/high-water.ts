// Per-tenant high-water marks: the highest seq readable in a table for a tenant, answered from
// memory so the common poll ("anything new?") costs no store call. With a WriteSignal (the
// embedded deployment) the mark follows every insert; without one (an API process apart from
// the sink) it is re-read at most every `ttlMs` per tenant, one store call however many pollers ask.
import type { Store } from '../../infra/store/store.ts';
import type { WriteSignal } from '../../processors/write-signal.ts';
import type { Table } from './scoped-query.ts';

interface Mark {
  seq: number;
  /** When the mark must be re-read from the store (Infinity: the signal keeps it true). */
  staleAt: number;
  loading: Promise<number> | null;
}

export class HighWater {
  private readonly marks = new Map<string, Mark>();

  constructor(
    private readonly store: Store,
    private readonly signal: WriteSignal | undefined,
    private readonly ttlMs = 250,
    private readonly now: () => number = Date.now,
  ) {
    signal?.subscribe((b) => {
      for (const r of b.ranges) {
        const m = this.marks.get(key(b.table, r.tenantId));
        if (m !== undefined && r.lastSeq > m.seq) m.seq = r.lastSeq;
        // An unknown tenant stays unknown: its first read loads the mark (and misses nothing).
      }
    });
  }

  /** The highest readable seq of the tenant in the table (0 when it has none). */
  async latest(table: Table, tenantId: string): Promise<number> {
    const k = key(table, tenantId);
    let m = this.marks.get(k);
    if (m !== undefined && this.now() < m.staleAt) return m.seq;
    if (m === undefined) {
      m = { seq: 0, staleAt: 0, loading: null };
      if (this.marks.size >= 100_000) this.marks.clear();
      this.marks.set(k, m);
    }
    const mark = m;
    mark.loading ??= this.load(table, tenantId).then((seq) => {
      // The signal may have moved the mark while the query ran: keep the higher.
      if (seq > mark.seq) mark.seq = seq;
      mark.staleAt = this.signal ? Infinity : this.now() + this.ttlMs;
      return mark.seq;
    }).finally(() => {
      mark.loading = null;
    });
    return mark.loading;
  }

  private async load(table: Table, tenantId: string): Promise<number> {
    // NOTE: `{table:Identifier}` is bound like every value; the tenant prefix of the key makes it a short read.
    const rows = await this.store.query<{ s: number | string }>(
      'SELECT max(seq) AS s FROM {table:Identifier} WHERE tenant_id = {tenant:String}',
      { table, tenant: tenantId },
    );
    return Number(rows[0]?.s ?? 0);
  }
}

const key = (table: Table, tenantId: string) => `${table}\u0000${tenantId}`;
