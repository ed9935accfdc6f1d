// The store sink: the consumer chain (./consumer/consumer-chain.ts) with the store as its writer —
// process → dedupe + sequence → insert → commit, per partition (./store-partition.ts).
//
//  - The store is the source of truth for progress. Each row records (log_partition, log_offset);
//    on assignment the sink reads, per partition, the highest stored offset and each tenant's
//    highest seq. Messages at or below that offset were stored before a crash and are skipped, so
//    a crash between insert and commit never duplicates a row, and seq continues exactly where the
//    stored rows end: the same event gets the same seq however often it is replayed.
//  - A partition has at most one insert in flight, and the next batch fills while it runs.
//    Sequencing waits for the insert before it, so seq still follows log order; a full batch
//    waits for the insert in flight (backpressure).
//    NOTE: before, the sink stopped reading for the whole insert; under load the log's in-memory
//    tail overflowed meanwhile and the sink fell back to reading and decoding the file.
import type { Config } from '../infra/config.ts';
import { AuditflowError } from '../infra/errors.ts';
import type { LogProducer } from '../infra/log/log.ts';
import { TenantPartitions } from '../infra/log/partitioner.ts';
import type { Store } from '../infra/store/store.ts';
import type { MessageCodec } from '../schemas/message-codec.ts';
import { ConsumerChain, type ChainLogger, type ChainStats } from './consumer/consumer-chain.ts';
import { IdFilter, idHashes } from './id-filter.ts';
import { StorePartition, type SinkTopic, type StoreBatch, type StoreCounts, type StorePartitionEnv } from './store-partition.ts';
import type { WriteSignal } from './write-signal.ts';

export type { SinkTopic } from './store-partition.ts';
export type SinkLogger = ChainLogger;

export interface StoreSinkDeps {
  store: Store;
  /** Dead letters and misrouted messages are produced here. */
  producer: LogProducer;
  commit(topic: string, partition: number, nextOffset: bigint): Promise<void>;
  codec: MessageCodec;
  topics: SinkTopic[];
  deadLetterTopic: string;
  batch: Config['sink'];
  logger: SinkLogger;
  /** Told what each insert made readable (tenant, seq range), once the store acknowledged it. */
  signal?: WriteSignal | undefined;
  /** Told how long each store insert took (one call per batch: metrics). */
  onInsert?: ((table: SinkTopic['table'], seconds: number) => void) | undefined;
}

/** Where the sink stands on a partition it holds: for lag, the log's end minus `storedUpTo + 1`. */
export interface SinkPosition {
  topic: string;
  partition: number;
  /** Highest offset whose outcome is in the store (-1: none). */
  storedUpTo: bigint;
}

export interface SinkStats extends ChainStats, StoreCounts {
  /** ChangeLog rows derived from audit events produced straight to the log (../processors/permission-change.ts). */
  derivedChanges: number;
}

/** Store retries: the engine restarting or a network blip, retried until it answers or the sink stops. */
const STORE_RETRY = { baseMs: 200, maxMs: 5000 };

export class StoreSink extends ConsumerChain<StorePartition, StoreBatch> {
  private readonly topics = new Map<string, SinkTopic>();
  private readonly env: StorePartitionEnv;
  readonly stats: SinkStats;

  constructor(private readonly deps: StoreSinkDeps) {
    const stats: SinkStats = {
      inserted: 0, duplicates: 0, deadLettered: 0, rerouted: 0, derivedChanges: 0,
      skippedReplayed: 0, offsetGaps: 0, batches: 0, blockedMs: 0, retries: 0,
    };
    super({ name: 'store sink', batch: deps.batch, retry: STORE_RETRY, commit: deps.commit, logger: deps.logger }, stats);
    this.stats = stats;
    for (const t of deps.topics) this.topics.set(t.topic, t);
    this.env = {
      store: deps.store, producer: deps.producer, codec: deps.codec, logger: deps.logger, counts: stats,
      signal: deps.signal, onInsert: deps.onInsert, deadLetterTopic: deps.deadLetterTopic,
      changesTopic: deps.topics.find((t) => t.kind === 'change')?.topic,
    };
  }

  /** Reads, per partition, each tenant's highest seq, the highest stored offset and the stored ids. */
  protected async assign(topicName: string, partition: number): Promise<{ work: StorePartition; doneUpTo: bigint }> {
    const topic = this.topics.get(topicName);
    if (!topic) throw new AuditflowError('INTERNAL', `store sink got a message from unexpected topic ${topicName}`);
    const partitionCount = await this.deps.producer.partitionCount(topicName);
    const rows = await this.deps.store.query<{ tenant_id: string; seq: string | number; off: string | number; n: string | number }>(
      `SELECT tenant_id, max(seq) AS seq, max(log_offset) AS off, count() AS n FROM {table:Identifier}
       WHERE log_partition = {p:UInt16} GROUP BY tenant_id`,
      { table: topic.table, p: partition },
    );
    const counters = new Map<string, number>();
    let storedUpTo = -1n;
    let total = 0;
    for (const r of rows) {
      counters.set(r.tenant_id, Number(r.seq));
      const off = BigInt(r.off);
      if (off > storedUpTo) storedUpTo = off;
      total += Number(r.n);
    }
    const idFilter = new IdFilter(Math.max(1 << 20, total * 2));
    if (total > 0) {
      const ids = await this.deps.store.query<{ tenant_id: string; id: string }>(
        'SELECT tenant_id, id FROM {table:Identifier} WHERE log_partition = {p:UInt16}',
        { table: topic.table, p: partition },
      );
      const h1 = new Uint32Array(1);
      const h2 = new Uint32Array(1);
      for (const r of ids) {
        idHashes(r.tenant_id, r.id, h1, h2, 0);
        idFilter.add(h1[0]!, h2[0]!);
      }
    }
    this.deps.logger.info({ topic: topicName, partition, tenants: rows.length, storedUpTo: storedUpTo.toString(), ids: total }, 'partition assigned');
    return { work: new StorePartition(this.env, topic, partition, new TenantPartitions(partitionCount), counters, idFilter), doneUpTo: storedUpTo };
  }

  /** The partitions held now and how far each is stored (read at scrape time, not on the hot path). */
  positions(): SinkPosition[] {
    return this.chainPositions().map((p) => ({ topic: p.topic, partition: p.partition, storedUpTo: p.doneUpTo }));
  }
}
