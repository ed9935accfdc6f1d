// The durable embedded log: Kafka's model (topics → partitions → ordered offsets, consumer
// groups' commits) on local files, for the one-process deployment.
//
// Layout: <dir>/partitions (the partition count, fixed at creation), <dir>/<topic>/<partition>/:
// segments and committed.<group> files (./embedded-partition.ts). Producer, consumers
// (./embedded-consumer.ts) and the admin (./embedded-admin.ts) are views of one EmbeddedLog.
// Retention follows the slowest group, bounded by size and age (./retention.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AuditflowError } from '../errors.ts';
import type { LogProducer, LogRecord } from './log.ts';
import { PartitionLog } from './embedded-partition.ts';
import { partitionForKey } from './partitioner.ts';
import { NO_BOUND, RetentionStats, type RetentionPolicy } from './retention.ts';

export { EmbeddedLogConsumer, type EmbeddedConsumerOptions } from './embedded-consumer.ts';
export { EmbeddedLogAdmin } from './embedded-admin.ts';

export interface EmbeddedLogOptions {
  dir: string;
  partitions: number;
  segmentBytes: number;
  /** Recent records kept in memory per partition for consumers that keep up (default 64 MiB). */
  tailBytes?: number;
  /** Bounds on what the slowest group holds (default: none — only what every group has committed is deleted). */
  retention?: Partial<RetentionPolicy>;
  /** How often retention runs without a commit or a segment roll (default 60 s). */
  retentionCheckMs?: number;
  /** The clock for record timestamps and retention by age (default Date.now). */
  now?: () => number;
}

const RETENTION_CHECK_MS = 60_000;

/** The log itself: owns the partitions of every topic. */
export class EmbeddedLog {
  private readonly parts = new Map<string, PartitionLog>();
  private readonly runningGroups = new Set<string>();
  private readonly retention: RetentionPolicy;
  private readonly timer: NodeJS.Timeout;
  /** Out-of-retention positions and records lost, by group (infra/metrics.ts watchLogRetention). */
  readonly retentionStats = new RetentionStats();

  constructor(readonly opts: EmbeddedLogOptions) {
    mkdirSync(opts.dir, { recursive: true });
    const metaFile = path.join(opts.dir, 'partitions');
    if (existsSync(metaFile)) {
      const n = Number(readFileSync(metaFile, 'utf8'));
      if (n !== opts.partitions) {
        // Changing the count would move tenants between partitions and break per-tenant order.
        throw new AuditflowError('CONFIG_INVALID', `configuration EMBEDDED_LOG_PARTITIONS: the log at ${opts.dir} was created with ${n} partitions, got ${opts.partitions}`);
      }
    } else {
      writeFileSync(metaFile, String(opts.partitions));
    }
    const r = opts.retention ?? {};
    this.retention = { maxBytes: r.maxBytes ?? NO_BOUND.maxBytes, maxAgeMs: r.maxAgeMs ?? NO_BOUND.maxAgeMs, protectedGroups: r.protectedGroups ?? [] };
    // A paused group commits nothing and may write nothing: age must still be applied.
    this.timer = setInterval(() => void this.retainAll().catch(() => undefined), opts.retentionCheckMs ?? RETENTION_CHECK_MS);
    this.timer.unref();
  }

  partition(topic: string, p: number): PartitionLog {
    const k = `${topic}/${p}`;
    let part = this.parts.get(k);
    if (!part) {
      part = new PartitionLog(path.join(this.opts.dir, topic, String(p)), {
        topic, partition: p, segmentBytes: this.opts.segmentBytes, tailBytes: this.opts.tailBytes ?? 64 * 1024 * 1024,
        retention: this.retention, stats: this.retentionStats, now: this.opts.now ?? Date.now,
      });
      this.parts.set(k, part);
    }
    return part;
  }

  /** The topics that exist on disk. */
  topics(): string[] {
    return readdirSync(this.opts.dir).filter((f) => statSync(path.join(this.opts.dir, f)).isDirectory());
  }

  /** Applies retention to every partition of every topic on disk. */
  async retainAll(): Promise<void> {
    const passes: Promise<void>[] = [];
    for (const topic of this.topics()) {
      for (let p = 0; p < this.opts.partitions; p++) {
        if (existsSync(path.join(this.opts.dir, topic, String(p)))) passes.push(this.partition(topic, p).retain());
      }
    }
    await Promise.all(passes);
  }

  /** A consumer of `group` starts: one at a time per group (it reads every partition). */
  claimGroup(group: string): void {
    if (this.runningGroups.has(group)) throw new AuditflowError('LOG_GROUP_ACTIVE', `embedded log: a consumer of group ${group} is already running`);
    this.runningGroups.add(group);
  }

  releaseGroup(group: string): void {
    this.runningGroups.delete(group);
  }

  isGroupRunning(group: string): boolean {
    return this.runningGroups.has(group);
  }

  close(): void {
    clearInterval(this.timer);
    for (const p of this.parts.values()) p.close();
    this.parts.clear();
  }
}

export class EmbeddedLogProducer implements LogProducer {
  constructor(private readonly log: EmbeddedLog) {}

  async send(topic: string, records: LogRecord[]): Promise<void> {
    if (records.length === 0) return;
    const n = this.log.opts.partitions;
    if (n === 1) return this.log.partition(topic, 0).append(records);
    const byPartition = new Map<number, LogRecord[]>();
    for (const r of records) {
      const p = partitionForKey(r.key, n);
      const list = byPartition.get(p);
      if (list) list.push(r);
      else byPartition.set(p, [r]);
    }
    await Promise.all([...byPartition].map(([p, rs]) => this.log.partition(topic, p).append(rs)));
  }

  async partitionFor(_topic: string, key: string): Promise<number> {
    return partitionForKey(key, this.log.opts.partitions);
  }

  async partitionCount(_topic: string): Promise<number> {
    return this.log.opts.partitions;
  }

  async close(): Promise<void> {}
}
