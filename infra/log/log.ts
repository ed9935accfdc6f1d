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
}
