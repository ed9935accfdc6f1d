// The log's producer on Kafka (kafkajs 2.2.4): acks=all, kafkajs' default (Java-compatible
// murmur2) partitioner, so keying by tenant_id keeps a tenant in one partition. Not idempotent:
// kafkajs' idempotent producer does not work against librdkafka's mock cluster, and a failed send
// may have been partly written anyway (kafkajs writes to several brokers in parallel), so
// duplicates are handled downstream by event id.
import { Partitioners, type Admin, type Kafka, type PartitionMetadata, type Producer } from 'kafkajs';
import { AuditflowError } from '../errors.ts';
import type { LogProducer, LogRecord } from './log.ts';
import { checkBrokers, lazyAdmin, makeKafka, unavailable, type KafkaLogOptions, type LazyConnection } from './kafka-client.ts';

const PARTITION_COUNT_TTL_MS = 60_000;

export class KafkaLogProducer implements LogProducer {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private connecting: Promise<void> | null = null;
  private readonly admin: LazyConnection<Admin>;
  private readonly partitionCounts = new Map<string, { count: number; at: number }>();
  private closed = false;

  constructor(opts: KafkaLogOptions) {
    checkBrokers(opts);
    this.kafka = makeKafka(opts);
    this.admin = lazyAdmin(this.kafka);
    this.producer = this.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: false,
      allowAutoTopicCreation: false,
    });
  }

  /** Connects now (otherwise the first send does). */
  async connect(): Promise<void> {
    if (this.closed) throw new AuditflowError('SHUTTING_DOWN', 'Kafka producer is closed');
    this.connecting ??= this.producer.connect().catch((e: unknown) => {
      this.connecting = null;
      throw unavailable('cannot connect the Kafka producer', e);
    });
    await this.connecting;
  }

  async send(topic: string, records: LogRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.connect();
    try {
      await this.producer.send({
        topic,
        acks: -1,
        messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
      });
    } catch (e) {
      throw unavailable(`Kafka send to ${topic} failed`, e);
    }
  }

  async partitionFor(topic: string, key: string): Promise<number> {
    const count = await this.partitionCount(topic);
    // The very function the producer uses; only the partition count matters for keyed messages.
    const partitionMetadata: PartitionMetadata[] = Array.from({ length: count }, (_, i) => ({
      partitionErrorCode: 0, partitionId: i, leader: 0, replicas: [], isr: [],
    }));
    return this.partitioner({ topic, partitionMetadata, message: { key, value: null } });
  }

  /** The topic's partition count (cached for a minute), as the producer's partitioner sees it. */
  async partitionCount(topic: string): Promise<number> {
    const cached = this.partitionCounts.get(topic);
    if (cached && Date.now() - cached.at < PARTITION_COUNT_TTL_MS) return cached.count;
    const admin = await this.admin.get();
    let count: number;
    try {
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      count = md.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
    } catch (e) {
      throw unavailable(`cannot read the partitions of ${topic}`, e);
    }
    if (count < 1) throw new AuditflowError('LOG_UNAVAILABLE', `Kafka topic ${topic} has no partitions (does it exist?)`);
    this.partitionCounts.set(topic, { count, at: Date.now() });
    return count;
  }

  /**
   * The high watermark of every partition of a topic (one past the last fully replicated offset):
   * one ListOffsets round trip, for metrics at scrape time. NOTE: the consumer's batches carry a
   * high watermark too, but a sink blocked on its store stops fetching, so that figure goes stale
   * exactly when the lag grows.
   */
  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    const admin = await this.admin.get();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
    } catch (e) {
      throw unavailable(`cannot read the end offsets of ${topic}`, e);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.producer.disconnect(), this.admin.close()]);
  }
}
