// Out of retention on Kafka, for KafkaLogConsumer: kafkajs meets a committed offset below the low
// watermark with OFFSET_OUT_OF_RANGE, commits "earliest" (or "latest") over it and reads on —
// silently. The consumer keeps a join's partitions paused until `atJoin` has compared the group's
// committed offsets with the low watermarks (OffsetFetch + ListOffsets per topic), and asks
// `atBatch` about every batch: one that starts past where the last ended while the old position
// is below the low watermark means retention overtook the running consumer (kafkajs has then
// already reset the position; only this report says what was lost).
import type { Logger } from 'kafkajs';
import type { AuditflowError } from '../errors.ts';
import type { OutOfRetentionPolicy, PositionOutOfRetention } from './log.ts';
import { KafkaLogAdmin } from './kafka-admin.ts';
import type { KafkaLogOptions } from './kafka-client.ts';
import { outOfRetentionError, type RetentionStats } from './retention.ts';

export class KafkaRetentionCheck {
  private admin: KafkaLogAdmin | null = null;
  /** Per partition, the offset after the last batch handed over since the join. */
  private expected = new Map<string, bigint>();

  constructor(private readonly opts: { group: string; admin: KafkaLogOptions; policy: OutOfRetentionPolicy; stats: RetentionStats; log: Logger }) {}

  private client(): KafkaLogAdmin {
    this.admin ??= new KafkaLogAdmin(this.opts.admin);
    return this.admin;
  }

  /** The assigned partitions whose committed offset is below the low watermark. */
  async atJoin(parts: { topic: string; partitions: number[] }[]): Promise<PositionOutOfRetention[]> {
    this.expected = new Map();
    const lost: PositionOutOfRetention[] = [];
    for (const { topic, partitions } of parts) {
      const [committed, earliest] = await Promise.all([this.client().committed(this.opts.group, topic), this.client().earliest(topic)]);
      for (const partition of partitions) {
        const position = committed[partition];
        const low = earliest[partition];
        if (position != null && low !== undefined && position < low) lost.push({ group: this.opts.group, topic, partition, position, earliest: low });
      }
    }
    return lost;
  }

  /** A batch from `first` to `last` about to be handed over: what it skipped that retention deleted. */
  async atBatch(key: string, topic: string, partition: number, first: bigint, last: bigint): Promise<PositionOutOfRetention[]> {
    const position = this.expected.get(key);
    if (position !== undefined && first > position) {
      const earliest = (await this.client().earliest(topic))[partition];
      // Other gaps (transaction markers, compaction) leave the position retained.
      if (earliest !== undefined && position < earliest) return [{ group: this.opts.group, topic, partition, position, earliest }];
    }
    this.expected.set(key, last + 1n);
    return [];
  }

  /** Counts and logs what was met; the error to stop with under 'stop'. */
  report(events: PositionOutOfRetention[]): AuditflowError | null {
    let first: AuditflowError | null = null;
    for (const event of events) {
      this.opts.stats.outOfRetention(event);
      const err = outOfRetentionError(event);
      first ??= err;
      this.opts.log.error(`${err.message}; ${this.opts.policy === 'stop' ? 'stopping the consumer' : 'reading on from the earliest offset'}`, { groupId: this.opts.group });
    }
    return this.opts.policy === 'stop' ? first : null;
  }

  async close(): Promise<void> {
    await this.admin?.close();
  }
}
