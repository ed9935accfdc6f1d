// The readable topic: how "readable now" crosses processes. The store sink's process produces
// every acknowledged insert (../processors/write-signal.ts) to one small topic, and every API
// process reads all of it (a consumer group of its own) and re-publishes it into a local
// WriteSignal — so the realtime edge is built the same way in both deployments and no API node
// ever polls the store to learn what is new. Snuba's commit log, with the rows riding along.
//
// The edge's own notices (force_sync, a deleted user's sockets to close: ../api/realtime/)
// travel on the same topic, since they too must reach every API node.
//
// Delivery is at-least-once and in order per source partition (records are keyed by it). A
// batch that could not be produced is dropped after retries and counted: readers detect the gap
// by the tenant's seq (contiguous) and fetch the missing rows from the store
// (../api/realtime/readable-feed.ts), so a lost record costs latency, never an event.
import type { LogBatch, LogProducer, LogRecord, PartitionHandler } from '../infra/log/log.ts';
import type { WriteSignal, WrittenBatch, WrittenRange } from './write-signal.ts';

export const READABLE_KIND_HEADER = 'af-readable';

/** A notice for every API node (the realtime edge defines and handles them). */
export interface EdgeNotice {
  kind: string;
  tenantId: string;
  [field: string]: unknown;
}

/** Rows per record are capped by bytes, so one burst never makes a record the log would refuse. */
const MAX_RECORD_ROW_BYTES = 512 * 1024;
/** Batches waiting to be produced, beyond which new ones are dropped (and healed by readers). */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
const RETRIES = 5;

interface BatchMeta {
  table: WrittenBatch['table'];
  partition: number;
  ranges: WrittenRange[];
}

/** A written batch as records: the meta line, then up to MAX_RECORD_ROW_BYTES of its rows. */
export function batchRecords(b: WrittenBatch): LogRecord[] {
  const key = `${b.table}/${b.partition}`;
  const chunks: Buffer[] = [];
  let start = 0;
  while (start < b.rows.length) {
    let end = Math.min(b.rows.length, start + MAX_RECORD_ROW_BYTES);
    if (end < b.rows.length) {
      const nl = b.rows.lastIndexOf(0x0a, end - 1);
      end = nl >= start ? nl + 1 : b.rows.indexOf(0x0a, end) + 1 || b.rows.length;
    }
    chunks.push(b.rows.subarray(start, end));
    start = end;
  }
  if (chunks.length === 0) chunks.push(Buffer.alloc(0));
  // The ranges ride on the last record: a reader that follows them (high-water marks) moves only
  // once every row of the batch has been delivered.
  return chunks.map((rows, i) => {
    const meta: BatchMeta = { table: b.table, partition: b.partition, ranges: i === chunks.length - 1 ? b.ranges : [] };
    return { key, value: Buffer.concat([Buffer.from(`${JSON.stringify(meta)}\n`), rows]), headers: { [READABLE_KIND_HEADER]: 'batch' } };
  });
}

export function noticeRecord(n: EdgeNotice): LogRecord {
  return { key: `notice/${n.tenantId}`, value: JSON.stringify(n), headers: { [READABLE_KIND_HEADER]: 'notice' } };
}

export interface ReadablePublisherStats {
  produced: number;
  dropped: number;
}

/** Sink side: follows the process's WriteSignal and produces each batch to the readable topic. */
export class ReadablePublisher {
  readonly stats: ReadablePublisherStats = { produced: 0, dropped: 0 };
  /** One chain per source partition keeps its batches in order. */
  private readonly chains = new Map<string, Promise<void>>();
  private queuedBytes = 0;
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(
    private readonly producer: LogProducer,
    private readonly topic: string,
    signal: WriteSignal,
    private readonly log: { warn(o: object, m: string): void },
  ) {
    this.unsubscribe = signal.subscribe((b) => this.enqueue(b));
  }

  private enqueue(b: WrittenBatch): void {
    if (this.closed) return;
    if (this.queuedBytes + b.rows.length > MAX_QUEUED_BYTES) {
      this.stats.dropped++;
      return;
    }
    this.queuedBytes += b.rows.length;
    const key = `${b.table}/${b.partition}`;
    const next = (this.chains.get(key) ?? Promise.resolve()).then(() => this.produce(b)).finally(() => {
      this.queuedBytes -= b.rows.length;
    });
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  private async produce(b: WrittenBatch): Promise<void> {
    const records = batchRecords(b);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.producer.send(this.topic, records);
        this.stats.produced++;
        return;
      } catch (e) {
        if (attempt >= RETRIES || this.closed) {
          this.stats.dropped++;
          this.log.warn({ table: b.table, partition: b.partition, err: (e as Error).message }, 'readable batch dropped; API nodes fetch it from the store when they see the gap');
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  /** Stops following the signal and waits for what is queued (before the producer closes). */
  async close(): Promise<void> {
    this.unsubscribe();
    await Promise.all([...this.chains.values()]);
    this.closed = true;
  }
}

/**
 * API side: a consumer of the readable topic (every record, from the end at start-up) that
 * re-publishes batches into the process's WriteSignal and hands notices to `onNotice`.
 */
export class ReadableTopicReader implements PartitionHandler {
  malformed = 0;

  constructor(
    private readonly signal: WriteSignal,
    private readonly onNotice: (n: EdgeNotice) => void,
  ) {}

  async onAssign(): Promise<void> {}
  async onRevoke(): Promise<void> {}
  async onTick(): Promise<void> {}

  async onBatch(batch: LogBatch): Promise<void> {
    for (const m of batch.messages) {
      if (!m.value) continue;
      try {
        if (m.headers[READABLE_KIND_HEADER] === 'notice') {
          this.onNotice(JSON.parse(m.value.toString('utf8')) as EdgeNotice);
          continue;
        }
        const nl = m.value.indexOf(0x0a);
        const meta = JSON.parse(m.value.subarray(0, nl < 0 ? m.value.length : nl).toString('utf8')) as BatchMeta;
        this.signal.publish({ ...meta, rows: nl < 0 ? Buffer.alloc(0) : m.value.subarray(nl + 1) });
      } catch {
        // Not ours, or damaged: the readers' seq check fetches whatever it carried from the store.
        this.malformed++;
      }
    }
  }
}
