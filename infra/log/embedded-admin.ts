// LogAdmin for the embedded log: group positions are the committed.<group> files, bounds are the
// partitions' segments. Runs in the process that owns the log (one process per data directory),
// so "no running member" is known exactly: no consumer of the group runs on this EmbeddedLog.
import { AuditflowError } from '../errors.ts';
import type { LogAdmin, PositionOutOfRetention } from './log.ts';
import { checkGroupName, deleteCommitted, readCommitted, writeCommitted } from './embedded-commits.ts';
import type { EmbeddedLog } from './embedded-log.ts';

export class EmbeddedLogAdmin implements LogAdmin {
  constructor(private readonly log: EmbeddedLog) {}

  private partitions(): number[] {
    return Array.from({ length: this.log.opts.partitions }, (_, p) => p);
  }

  private idle(group: string, what: string): void {
    checkGroupName(group);
    if (this.log.isGroupRunning(group)) {
      throw new AuditflowError('LOG_GROUP_ACTIVE', `cannot ${what} of group ${group}: a consumer of it is running (stop it first)`);
    }
  }

  async committed(group: string, topic: string): Promise<(bigint | null)[]> {
    checkGroupName(group);
    return this.partitions().map((p) => readCommitted(this.log.partition(topic, p).dir, group));
  }

  async setCommitted(group: string, topic: string, offsets: readonly bigint[]): Promise<void> {
    this.idle(group, 'set the position');
    if (offsets.length !== this.log.opts.partitions) {
      throw new AuditflowError('INTERNAL', `setCommitted: ${offsets.length} offsets for the ${this.log.opts.partitions} partitions of ${topic}`);
    }
    offsets.forEach((offset, p) => {
      const end = this.log.partition(topic, p).durableEnd;
      if (offset < 0n || offset > end) throw new AuditflowError('INTERNAL', `setCommitted: offset ${offset} is outside ${topic}[${p}] (0..${end})`);
    });
    for (const [p, offset] of offsets.entries()) {
      const part = this.log.partition(topic, p);
      writeCommitted(part.dir, group, offset);
      await part.retain();
    }
  }

  async deleteGroup(group: string): Promise<void> {
    this.idle(group, 'delete the position');
    for (const topic of this.log.topics()) {
      for (const p of this.partitions()) {
        const part = this.log.partition(topic, p);
        // It no longer holds back retention: what only it still needed goes now.
        if (deleteCommitted(part.dir, group)) await part.retain();
      }
    }
  }

  async earliest(topic: string): Promise<bigint[]> {
    return this.partitions().map((p) => this.log.partition(topic, p).earliestOffset());
  }

  async end(topic: string): Promise<bigint[]> {
    return this.partitions().map((p) => this.log.partition(topic, p).durableEnd);
  }

  async offsetsForTime(topic: string, epochMs: number): Promise<bigint[]> {
    const out: bigint[] = [];
    for (const p of this.partitions()) out.push(await this.log.partition(topic, p).offsetForTime(epochMs));
    return out;
  }

  async outOfRetention(group: string, topic: string): Promise<PositionOutOfRetention[]> {
    const out: PositionOutOfRetention[] = [];
    for (const [p, position] of (await this.committed(group, topic)).entries()) {
      const earliest = this.log.partition(topic, p).earliestOffset();
      if (position !== null && position < earliest) out.push({ group, topic, partition: p, position, earliest });
    }
    return out;
  }

  async close(): Promise<void> {}
}
