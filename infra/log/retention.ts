// Retention of the embedded log, and what both logs count when a group falls out of it.
//
// The rule (applied per partition, on every commit, at every segment roll and periodically): a
// segment is deleted once every group that has committed on the partition is past it — so the
// slowest group holds the log — unless the partition is past a bound like Kafka's, by size
// (retention.bytes) or age (retention.ms, by the newest record in the segment), whichever deletes
// more. The active segment is never deleted. A bound never passes a protected group (the store
// sink's: until an event is stored, the log is its only copy).
import { AuditflowError } from '../errors.ts';
import type { PositionOutOfRetention } from './log.ts';

export interface RetentionPolicy {
  /** A partition's segments are kept under this many bytes (Infinity: no bound). */
  readonly maxBytes: number;
  /** Segments whose newest record is older than this are deleted (Infinity: no bound). */
  readonly maxAgeMs: number;
  /** Groups no bound deletes past: only what they have committed is ever deleted. */
  readonly protectedGroups: readonly string[];
}

export const NO_BOUND: RetentionPolicy = { maxBytes: Infinity, maxAgeMs: Infinity, protectedGroups: [] };

export interface SegmentFacts {
  base: bigint;
  bytes: number;
  /** The newest record's timestamp; null when not known (the age bound then keeps it). */
  newestTimestamp: number | null;
}

/**
 * How many segments, from the oldest, to delete. `segments` are oldest first, the last one the
 * active segment; `committed` the next offset of every group that has committed on the partition.
 */
export function segmentsToDelete(segments: readonly SegmentFacts[], committed: ReadonlyMap<string, bigint>, policy: RetentionPolicy, now: number): number {
  const closed = segments.length - 1;
  // Segment i is wholly behind `offset` when the next one starts at or before it.
  const behind = (offset: bigint): number => {
    let k = 0;
    while (k < closed && segments[k + 1]!.base <= offset) k++;
    return k;
  };
  let consumed = 0;
  if (committed.size > 0) {
    let slowest: bigint | null = null;
    for (const c of committed.values()) if (slowest === null || c < slowest) slowest = c;
    consumed = behind(slowest!);
  }
  let bySize = 0;
  let total = 0;
  for (const s of segments) total += s.bytes;
  while (bySize < closed && total > policy.maxBytes) total -= segments[bySize++]!.bytes;
  let byAge = 0;
  const cutoff = now - policy.maxAgeMs;
  while (byAge < closed) {
    const t = segments[byAge]!.newestTimestamp;
    if (t === null || t >= cutoff) break;
    byAge++;
  }
  let k = Math.max(consumed, bySize, byAge);
  for (const g of policy.protectedGroups) {
    const c = committed.get(g);
    if (c !== undefined) k = Math.min(k, behind(c)); // never below `consumed`: c is at least the slowest
  }
  return k;
}

/** The explicit error a group gets when its position fell out of retention. */
export function outOfRetentionError(e: PositionOutOfRetention): AuditflowError {
  return new AuditflowError(
    'LOG_POSITION_OUT_OF_RETENTION',
    `consumer group ${e.group} on ${e.topic}[${e.partition}] is at offset ${e.position}, but the log holds offsets from ${e.earliest} only: ` +
      `${e.earliest - e.position} record(s) were deleted by retention before the group read them`,
  );
}

export interface RetentionCounts {
  group: string;
  topic: string;
  /** Times the group's position was found below the earliest retained offset (its consumer was told). */
  outOfRetention: number;
  /** Records retention deleted before the group had read them (they are gone for that group). */
  lostRecords: number;
}

/** Counters by group and topic, read by the metrics at scrape time (infra/metrics.ts). */
export class RetentionStats {
  private readonly rows = new Map<string, RetentionCounts>();

  private row(group: string, topic: string): RetentionCounts {
    const key = `${group}\u0000${topic}`;
    let r = this.rows.get(key);
    if (!r) {
      r = { group, topic, outOfRetention: 0, lostRecords: 0 };
      this.rows.set(key, r);
    }
    return r;
  }

  /** A consumer met its group's position out of retention. */
  outOfRetention(e: PositionOutOfRetention): void {
    this.row(e.group, e.topic).outOfRetention++;
  }

  /** Retention deleted `n` records a group had not read yet. */
  lost(group: string, topic: string, n: bigint): void {
    this.row(group, topic).lostRecords += Number(n);
  }

  counts(): RetentionCounts[] {
    return [...this.rows.values()].map((r) => ({ ...r }));
  }
}
