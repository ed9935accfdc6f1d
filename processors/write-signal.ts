// "Readable now": the store sink announces what it wrote once the insert is acknowledged
// (Snuba's commit_log stage after the write is the model). Readers that answer from memory —
// the per-tenant high-water marks and tail caches of the read APIs, and later the realtime edge —
// follow this signal instead of polling the store, which answers one call at a time.
//
// In the embedded deployment the sink and the API share one process and one WriteSignal. Across
// processes (distributed) the sink's process produces every batch to the readable topic and each
// API process re-publishes what it reads there into its own WriteSignal (./readable-topic.ts).

export interface WrittenRange {
  tenantId: string;
  /** The first and last seq this insert gave the tenant (contiguous). */
  firstSeq: number;
  lastSeq: number;
}

export interface WrittenBatch {
  table: 'audit_events' | 'change_log';
  partition: number;
  ranges: WrittenRange[];
  /**
   * The rows exactly as inserted: JSONEachRow, one stored row per line in log-offset order (a
   * line of spaces where a duplicate was dropped). Parsed only by listeners that need the rows
   * (the realtime edge); the sink does not keep a reference.
   */
  rows: Buffer;
}

export type WriteListener = (batch: WrittenBatch) => void;

export class WriteSignal {
  private readonly listeners = new Set<WriteListener>();

  subscribe(fn: WriteListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called by the sink after an insert; a listener that throws cannot stop the sink. */
  publish(batch: WrittenBatch): void {
    for (const fn of this.listeners) {
      try {
        fn(batch);
      } catch {
        // Listeners are caches; a broken one must not fail a write that already happened.
      }
    }
  }
}
