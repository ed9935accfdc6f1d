// The realtime edge's one source: the rows the store sink made readable, parsed once per API
// process and handed to every stream (SSE, the two WebSockets) in order. It follows the
// process's WriteSignal — fed in-process by the sink (embedded) or from the readable topic
// (distributed, ../../processors/readable-topic.ts) — and never polls the store.
//
// Per tenant and table the rows arrive in seq order and seq is contiguous, so the feed can tell
// a missing batch (a record the readable topic lost) from a quiet tenant: a row whose seq skips
// ahead first has the skipped rows fetched from the store and delivered, and a row at or below
// what was delivered (a record produced twice) is dropped. Listeners get each row exactly once.
import type { Store } from '../../infra/store/store.ts';
import type { WriteSignal, WrittenBatch } from '../../processors/write-signal.ts';
import { isoFromStore, type Table } from '../query/scoped-query.ts';

/** A stored row as the sink inserted it (every column of its table). */
export interface LiveRow {
  tenant_id: string;
  seq: number;
  log_partition: number;
  log_offset: number;
  [column: string]: unknown;
}

/**
 * `before`: audit_events positions (./stream-position.ts) as they stood before these rows —
 * together with a row's own partition and offset, the position right after that row.
 */
export type RowListener = (rows: readonly LiveRow[], before: ReadonlyMap<number, number>) => void;

interface FeedLogger {
  warn(o: object, m: string): void;
}

/** How many tenants' last seq the feed keeps (beyond: forgotten, and re-learnt from their next row). */
const MAX_TENANTS = 1_000_000;

export class ReadableFeed {
  private readonly listeners: Record<Table, Set<RowListener>> = { audit_events: new Set(), change_log: new Set() };
  /** Last seq delivered per table and tenant. */
  private readonly lastSeq = new Map<string, number>();
  /** audit_events: the highest log offset delivered (or stored at start-up) per log partition. */
  private readonly positions = new Map<number, number>();
  private chain: Promise<void> = Promise.resolve();
  private readonly unsubscribe: () => void;
  readonly stats = { rows: 0, healed: 0, duplicates: 0 };

  constructor(
    signal: WriteSignal,
    private readonly store: Store,
    private readonly log: FeedLogger,
  ) {
    // Subscribed before start() reads the positions, so nothing written meanwhile is missed.
    this.unsubscribe = signal.subscribe((b) => {
      if (this.listeners[b.table].size === 0 && b.table !== 'audit_events') return;
      this.chain = this.chain.then(() => this.deliver(b)).catch((e: unknown) => {
        this.log.warn({ err: (e as Error).message, table: b.table }, 'realtime feed could not deliver a batch');
      });
    });
  }

  /** Reads where each audit log partition stands in the store: what a new stream starts after. */
  async start(): Promise<void> {
    const rows = await this.store.query<{ p: number | string; o: number | string }>(
      'SELECT log_partition AS p, max(log_offset) AS o FROM audit_events GROUP BY log_partition',
    );
    for (const r of rows) {
      const p = Number(r.p);
      const o = Number(r.o);
      if (o > (this.positions.get(p) ?? -1)) this.positions.set(p, o);
    }
  }

  /** Rows of `table` as they become readable. */
  on(table: Table, fn: RowListener): () => void {
    this.listeners[table].add(fn);
    return () => this.listeners[table].delete(fn);
  }

  /** audit_events: the highest log offset delivered per partition (a copy). */
  position(): Map<number, number> {
    return new Map(this.positions);
  }

  /** Resolves once every batch signalled so far has been delivered. */
  settled(): Promise<void> {
    return this.chain;
  }

  close(): void {
    this.unsubscribe();
  }

  private async deliver(b: WrittenBatch): Promise<void> {
    const rows = parseRows(b.rows);
    if (rows.length === 0) return;
    const out: LiveRow[] = [];
    for (const row of rows) {
      const k = `${b.table}\u0000${row.tenant_id}`;
      const last = this.lastSeq.get(k);
      if (last !== undefined && row.seq <= last) {
        this.stats.duplicates++;
        continue;
      }
      if (last !== undefined && row.seq > last + 1) {
        const missing = await this.fetch(b.table, row.tenant_id, last, row.seq);
        this.stats.healed += missing.length;
        out.push(...missing);
      }
      if (this.lastSeq.size >= MAX_TENANTS && last === undefined) this.lastSeq.clear();
      this.lastSeq.set(k, row.seq);
      out.push(row);
    }
    if (out.length === 0) return;
    this.stats.rows += out.length;
    // Positions move in the same turn as the listeners run: a stream that reads position() and
    // subscribes in one turn has every later row from the listener and every earlier from the store.
    const before = b.table === 'audit_events' ? new Map(this.positions) : this.positions;
    if (b.table === 'audit_events') {
      for (const r of out) if (r.log_offset > (this.positions.get(r.log_partition) ?? -1)) this.positions.set(r.log_partition, r.log_offset);
    }
    for (const fn of this.listeners[b.table]) {
      try {
        fn(out, before);
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'realtime listener failed');
      }
    }
  }

  /** Rows with seq strictly between `after` and `before`, from the store. */
  private async fetch(table: Table, tenantId: string, after: number, before: number): Promise<LiveRow[]> {
    // NOTE: the tenant clause first, values bound; a heal is rare (a lost readable record).
    const rows = await this.store.query<Record<string, unknown>>(
      `SELECT * FROM {table:Identifier} WHERE tenant_id = {tenant:String} AND seq > {after:UInt64} AND seq < {before:UInt64} ORDER BY seq`,
      { table, tenant: tenantId, after, before },
    );
    return rows.map(normaliseStored);
  }
}

/** JSONEachRow bytes (blank lines skipped) → rows. */
export function parseRows(buf: Buffer): LiveRow[] {
  const out: LiveRow[] = [];
  let start = 0;
  while (start < buf.length) {
    let end = buf.indexOf(0x0a, start);
    if (end < 0) end = buf.length;
    // A dropped duplicate is a line of spaces; a row begins with `{`.
    let i = start;
    while (i < end && buf[i] === 0x20) i++;
    if (i < end) out.push(normaliseStored(JSON.parse(buf.toString('utf8', i, end)) as Record<string, unknown>));
    start = end + 1;
  }
  return out;
}

const TIME_COLUMNS = ['event_time', 'received_at', 'changed_at'] as const;

/**
 * One form for listeners whether a row came from the sink or the store: the store returns UInt64
 * as text and times as `2026-04-23 10:15:02.000`; the sink writes numbers and ISO 8601.
 */
export function normaliseStored(r: Record<string, unknown>): LiveRow {
  r['seq'] = Number(r['seq']);
  r['log_partition'] = Number(r['log_partition']);
  r['log_offset'] = Number(r['log_offset']);
  for (const c of TIME_COLUMNS) {
    const t = r[c];
    if (typeof t === 'string' && t.charCodeAt(10) === 0x20) r[c] = isoFromStore(t);
  }
  return r as LiveRow;
}
