// A consumer group of the embedded log: one consumer per group at a time (in this process) reads
// every partition of its topics in order; its position is its committed.<group> files. Any number
// of groups run side by side, started and stopped independently (a SIEM destination each, beside
// the store sink), sharing each partition's in-memory tail (./embedded-tail.ts).
import { AuditflowError } from '../errors.ts';
import type { LogBatch, LogConsumer, LogMessage, OutOfRetentionPolicy, PartitionHandler } from './log.ts';
import { checkGroupName, readCommitted, writeCommitted } from './embedded-commits.ts';
import type { PartitionLog } from './embedded-partition.ts';
import { BehindRetention, PartitionReader } from './embedded-reader.ts';
import type { EmbeddedLog } from './embedded-log.ts';
import { outOfRetentionError } from './retention.ts';

export interface EmbeddedConsumerOptions {
  group: string;
  topics: string[];
  maxBatchMessages?: number;
  maxBatchBytes?: number;
  tickMs?: number;
  /** When the group's position is no longer held (default 'stop'): see OutOfRetentionPolicy. */
  outOfRetention?: OutOfRetentionPolicy;
}

interface Assigned {
  topic: string;
  partition: number;
  part: PartitionLog;
  reader: PartitionReader;
}

export class EmbeddedLogConsumer implements LogConsumer {
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly log: EmbeddedLog, private readonly opts: EmbeddedConsumerOptions) {
    checkGroupName(opts.group);
  }

  committed(topic: string, p: number): bigint | null {
    return readCommitted(this.log.partition(topic, p).dir, this.opts.group);
  }

  /** Writes the position, then lets retention delete what every group is past. */
  async commit(topic: string, partition: number, nextOffset: bigint): Promise<void> {
    const part = this.log.partition(topic, partition);
    writeCommitted(part.dir, this.opts.group, nextOffset);
    await part.retain();
  }

  /**
   * Assigns every partition (onAssign, then the reader is positioned at the committed offset, or
   * the earliest retained one for a group that never committed) and starts the consume loop.
   * Rejects when assignment fails; an out-of-retention position under 'stop' rejects done() instead.
   */
  async run(handler: PartitionHandler): Promise<void> {
    if (this.loop) throw new AuditflowError('INTERNAL', `EmbeddedLogConsumer(${this.opts.group}).run called twice`);
    this.log.claimGroup(this.opts.group);
    this.running = true;
    const readers: Assigned[] = [];
    let stopped: AuditflowError | null = null;
    try {
      for (const topic of this.opts.topics) {
        for (let p = 0; p < this.log.opts.partitions && !stopped; p++) {
          await handler.onAssign(topic, p);
          const part = this.log.partition(topic, p);
          const r: Assigned = { topic, partition: p, part, reader: new PartitionReader(part, this.committed(topic, p) ?? part.earliestOffset()) };
          readers.push(r);
          stopped = await this.position(r, () => r.reader.open());
        }
      }
    } catch (e) {
      await this.release(readers);
      this.loop = Promise.resolve();
      throw e;
    }
    const consume = stopped ? Promise.reject(stopped) : this.consume(handler, readers);
    this.loop = consume.finally(() => this.release(readers));
    this.loop.catch(() => undefined);
  }

  /**
   * Runs `step` (a read or an open); when the reader's position turned out to be no longer held,
   * counts it and returns the error under 'stop', or reads on from the earliest retained offset.
   */
  private async position<T>(r: Assigned, step: () => Promise<T>): Promise<AuditflowError | null> {
    try {
      await step();
      return null;
    } catch (e) {
      if (!(e instanceof BehindRetention)) throw e;
      const event = { group: this.opts.group, topic: r.topic, partition: r.partition, position: e.position, earliest: e.earliest };
      this.log.retentionStats.outOfRetention(event);
      if ((this.opts.outOfRetention ?? 'stop') === 'stop') return outOfRetentionError(event);
      await r.reader.open(true);
      return null;
    }
  }

  private async consume(handler: PartitionHandler, readers: Assigned[]): Promise<void> {
    const maxMessages = this.opts.maxBatchMessages ?? 10_000;
    const maxBytes = this.opts.maxBatchBytes ?? 8 * 1024 * 1024;
    const tickMs = this.opts.tickMs ?? 100;
    let lastTick = Date.now();
    while (this.running) {
      let got = 0;
      for (const r of readers) {
        if (!this.running) break;
        let messages: LogMessage[] = [];
        const stop = await this.position(r, async () => {
          // Retention may have deleted what this reader had not reached (a bound, or a lagging group).
          if (r.reader.behindRetention()) throw new BehindRetention(r.reader.offset, r.part.earliestOffset());
          messages = await r.reader.read(maxMessages, maxBytes);
        });
        if (stop) throw stop;
        if (messages.length === 0) continue;
        got += messages.length;
        const batch: LogBatch = { topic: r.topic, partition: r.partition, messages };
        await handler.onBatch(batch);
      }
      if (Date.now() - lastTick >= tickMs || got === 0) {
        await handler.onTick();
        lastTick = Date.now();
      }
      if (got === 0 && this.running) {
        await Promise.race(readers.map((r) => r.part.waitForAppend(tickMs)));
      }
    }
  }

  private async release(readers: Assigned[]): Promise<void> {
    for (const r of readers) await r.reader.close().catch(() => undefined);
    this.log.releaseGroup(this.opts.group);
  }

  /** Resolves when the consume loop has ended; rejects with whatever stopped it. */
  done(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop?.catch(() => undefined);
  }
}
