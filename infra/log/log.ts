// The log: topics of partitions of ordered messages. Two implementations share this interface:
// Kafka (kafkajs) for distributed deployments and the durable embedded log for one process.
// Messages are keyed by tenant, so one tenant's events live in one partition, in order.

export interface LogRecord {
  key: string;
  /** Bytes, or text written as UTF-8 (JSON events: ingest skips a Buffer per event). */
  value: Buffer | string;
  headers?: Record<string, string>;
}

export interface LogMessage {
  offset: bigint;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: number;
}

export interface LogBatch {
  topic: string;
  partition: number;
  messages: LogMessage[];
}

export interface LogProducer {
  /** Resolves only once every record is durable (Kafka acks=all, or the embedded log fsynced). */
  send(topic: string, records: LogRecord[]): Promise<void>;
  /** The partition a key is written to (Kafka's murmur2 default partitioner, or its embedded twin). */
  partitionFor(topic: string, key: string): Promise<number>;
  /** How many partitions the topic has. */
  partitionCount(topic: string): Promise<number>;
  close(): Promise<void>;
}

export interface PartitionHandler {
  /**
   * Called before the first batch of a partition (and again after it was revoked and
   * re-assigned), so the handler can recover its state for that partition.
   */
  onAssign(topic: string, partition: number): Promise<void>;
  /** Messages in offset order. Awaited: while it runs, the partition is not fetched further. */
  onBatch(batch: LogBatch): Promise<void>;
  /** The partition is no longer ours; drop anything buffered for it. */
  onRevoke(topic: string, partition: number): Promise<void>;
  /** Periodic call (every few hundred ms) so time-based flushes happen without new messages. */
  onTick(): Promise<void>;
}

export interface LogConsumer {
  run(handler: PartitionHandler): Promise<void>;
  /** Commit `nextOffset` (the offset of the next message to read) for a partition. */
  commit(topic: string, partition: number, nextOffset: bigint): Promise<void>;
  stop(): Promise<void>;
  /**
   * Resolves once the consumer has stopped; rejects with what stopped it for good — among others
   * LOG_POSITION_OUT_OF_RETENTION (below), so its owner learns it rather than reading on past a gap.
   */
  done(): Promise<void>;
}

/**
 * What a consumer does when its group's position (its committed offset at assignment, or its
 * read position later) is below the earliest offset the log still holds — the records in between
 * are gone. Either way the event is counted (RetentionStats, by group) and the records lost named.
 *  - 'stop' (the default): nothing more is handed to the handler and done() rejects with
 *    LOG_POSITION_OUT_OF_RETENTION naming group, topic, partition, position and earliest offset;
 *    the owner decides (e.g. LogAdmin.setCommitted to the earliest offset, then run a new consumer).
 *  - 'continue': read on from the earliest retained offset (Kafka's auto.offset.reset=earliest),
 *    for consumers that tolerate the loss (the store sink counts its own offset gaps).
 */
export type OutOfRetentionPolicy = 'stop' | 'continue';

/** A group's position found below the earliest retained offset of a partition. */
export interface PositionOutOfRetention {
  group: string;
  topic: string;
  partition: number;
  /** The next offset the group would have read. */
  position: bigint;
  /** The earliest offset the partition still holds (records in [position, earliest) are gone). */
  earliest: bigint;
}

/**
 * A consumer group's positions and the log's bounds, for consumers whose position is set from
 * outside (a SIEM destination's `start`) and for lag. Both logs implement it: EmbeddedLogAdmin
 * (committed.<group> files, segments) and KafkaLogAdmin (the group coordinator, ListOffsets,
 * Fetch; ./kafka-admin.ts says what librdkafka's mock cluster lacks). Arrays are indexed by
 * partition, every partition of the topic.
 */
export interface LogAdmin {
  /** The group's committed next offset per partition (null: none yet). */
  committed(group: string, topic: string): Promise<(bigint | null)[]>;
  /**
   * Sets the group's next offsets, one per partition. Only while the group has no running member:
   * otherwise LOG_GROUP_ACTIVE (a running member would overwrite it with its next commit, or read
   * on from where it is). An offset past a partition's end is refused.
   */
  setCommitted(group: string, topic: string, offsets: readonly bigint[]): Promise<void>;
  /**
   * Forgets the group's offsets on every topic (embedded: its committed files, so it stops pinning
   * retention). Only while it has no running member (LOG_GROUP_ACTIVE); an unknown group is no error.
   */
  deleteGroup(group: string): Promise<void>;
  /** The earliest retained offset per partition. */
  earliest(topic: string): Promise<bigint[]>;
  /** The end (next offset to be written) per partition. */
  end(topic: string): Promise<bigint[]>;
  /** Per partition, the first offset whose record timestamp is >= epochMs (the end if none). */
  offsetsForTime(topic: string, epochMs: number): Promise<bigint[]>;
  /**
   * The partitions where the group's committed offset is below the earliest retained offset — a
   * check before starting a consumer. It counts nothing (the consumer counts what it meets).
   */
  outOfRetention(group: string, topic: string): Promise<PositionOutOfRetention[]>;
  close(): Promise<void>;
}
