// One partition of the embedded log: its segments, the append path, the durable end and
// retention. Layout: <dir>/<base-offset>.seg, groups of frames (./log-format.ts), plus one
// committed.<group> file per consumer group (./embedded-commits.ts).
//
// NOTE: appends are group-committed — every record queued while one write+fdatasync runs goes
// into the next single write+fdatasync — and `append` resolves only after the fdatasync, so a 202
// never precedes durability. Readers see only fsynced frames (the durable end), so nothing the
// store holds can come from a record a crash could take back. On open, a torn tail (a frame cut
// by a crash) is truncated.
import { closeSync, fdatasync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, write, writev } from 'node:fs';
import path from 'node:path';
import { AuditflowError } from '../errors.ts';
import type { LogMessage, LogRecord } from './log.ts';
import { FrameEncoder, groupHeader, scanGroups, type EncodedFrames } from './log-format.ts';
import { allCommitted } from './embedded-commits.ts';
import { RecentRecords, type AppendedRecords } from './embedded-tail.ts';
import { segmentsToDelete, type RetentionPolicy, type RetentionStats } from './retention.ts';
import { firstTimestamp, indexForTime, newestTimestamp } from './segment-scan.ts';

export interface Segment {
  base: bigint;
  file: string;
  /** Size once closed (the active segment's is the partition's `size`). */
  bytes: number;
  /** Timestamps of the first and newest record, once read (undefined: not yet; null: none). */
  first?: number | null;
  newest?: number | null;
}

interface PendingAppend extends AppendedRecords {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface PartitionOptions {
  topic: string;
  partition: number;
  segmentBytes: number;
  tailBytes: number;
  retention: RetentionPolicy;
  stats: RetentionStats;
  /** The clock for record timestamps and retention by age. */
  now: () => number;
}

const GROUP_INDEX_MAX = 4096;

export class PartitionLog {
  readonly dir: string;
  private segments: Segment[] = [];
  private fd = -1;
  private size = 0;
  private nextOffset = 0n;
  /** The newest timestamp appended to the active segment since it was opened. */
  private activeNewest: number | null = null;
  /** Offset one past the last fsynced record: readers never go beyond it. */
  durableEnd = 0n;
  private queue: PendingAppend[] = [];
  private flushing = false;
  /**
   * Where recent groups start: first offset, segment and file position, oldest first (the last
   * GROUP_INDEX_MAX to twice that). A reader that fell behind the in-memory tail finds its place here instead
   * of counting frames from the start of the segment. NOTE: that count read up to a whole segment
   * (128 MiB) on the main thread's read path; under load it stalled the sink for 40–180 ms each
   * time the tail overflowed.
   */
  private groupIndex: { first: bigint; seg: Segment; pos: number }[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly encoder = new FrameEncoder();
  readonly recent: RecentRecords;
  /** Retention passes run one at a time. */
  private retaining: Promise<unknown> = Promise.resolve();

  constructor(dir: string, private readonly opts: PartitionOptions) {
    this.dir = dir;
    this.recent = new RecentRecords(opts.tailBytes);
    mkdirSync(dir, { recursive: true });
    this.segments = readdirSync(dir)
      .filter((f) => /^\d{20}\.seg$/.test(f))
      .sort()
      .map((f) => ({ base: BigInt(f.slice(0, 20)), file: path.join(dir, f), bytes: statSync(path.join(dir, f)).size }));
    if (this.segments.length === 0) this.segments.push(this.newSegmentFile(0n));
    const last = this.segments[this.segments.length - 1]!;
    this.fd = openSync(last.file, 'r+');
    const data = readFileSync(last.file);
    const { end, count } = scanGroups(data, last.file);
    if (end < data.length) {
      // A torn or corrupt tail from a crash mid-append: those records were never acknowledged.
      ftruncateSync(this.fd, end);
      fdatasyncSync(this.fd);
    }
    this.size = end;
    this.nextOffset = last.base + BigInt(count);
    this.durableEnd = this.nextOffset;
  }

  get topic(): string {
    return this.opts.topic;
  }

  get partition(): number {
    return this.opts.partition;
  }

  private newSegmentFile(base: bigint): Segment {
    const file = path.join(this.dir, `${base.toString().padStart(20, '0')}.seg`);
    closeSync(openSync(file, 'a'));
    return { base, file, bytes: 0 };
  }

  append(records: LogRecord[]): Promise<void> {
    const timestamp = this.opts.now();
    let frames: EncodedFrames;
    try {
      frames = this.encoder.encode(records, timestamp);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      const keys = new Array<string>(records.length);
      const headers = new Array<Record<string, string> | undefined>(records.length);
      for (let i = 0; i < records.length; i++) {
        keys[i] = records[i]!.key;
        headers[i] = records[i]!.headers;
      }
      this.queue.push({ keys, headers, frames, timestamp, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    // Let concurrent requests join this group commit.
    await new Promise<void>((r) => setImmediate(r));
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      try {
        let count = 0;
        for (const g of group) count += g.frames.count;
        if (this.size > 0 && this.size >= this.opts.segmentBytes) this.roll();
        const buffers = [groupHeader(group.map((g) => g.frames)), ...group.map((g) => g.frames.bytes)];
        const at = { first: this.nextOffset, seg: this.segments[this.segments.length - 1]!, pos: this.size };
        const bytes = await writeAndSync(this.fd, buffers, this.size);
        this.size += bytes;
        for (const g of group) if (this.activeNewest === null || g.timestamp > this.activeNewest) this.activeNewest = g.timestamp;
        this.groupIndex.push(at);
        if (this.groupIndex.length > 2 * GROUP_INDEX_MAX) this.groupIndex = this.groupIndex.slice(-GROUP_INDEX_MAX);
        this.recent.remember(group, this.nextOffset);
        this.nextOffset += BigInt(count);
        this.durableEnd = this.nextOffset;
        for (const g of group) g.resolve();
        for (const w of [...this.waiters]) w();
      } catch (e) {
        const err = new AuditflowError('LOG_UNAVAILABLE', `embedded log append failed: ${(e as Error).message}`, { cause: e });
        for (const g of group) g.reject(err);
      }
    }
    this.flushing = false;
  }

  private roll(): void {
    fdatasyncSync(this.fd);
    closeSync(this.fd);
    const closed = this.segments[this.segments.length - 1]!;
    closed.bytes = this.size;
    if (this.activeNewest !== null) closed.newest = this.activeNewest;
    this.activeNewest = null;
    const seg = this.newSegmentFile(this.nextOffset);
    this.segments.push(seg);
    this.fd = openSync(seg.file, 'r+');
    this.size = 0;
    // The size bound holds between periodic passes too (a paused group must not let the disk grow).
    this.retain().catch(() => undefined);
  }

  /** Up to `max` messages from `offset` if the in-memory tail holds it, else null. */
  fromTail(offset: bigint, max: number): LogMessage[] | null {
    return this.recent.from(offset, max);
  }

  /** The start of the group holding `offset` when it is among the recent groups (and its segment still exists). */
  locate(offset: bigint): { first: bigint; seg: Segment; pos: number } | null {
    const idx = this.groupIndex;
    if (idx.length === 0 || offset < idx[0]!.first || offset >= this.durableEnd) return null;
    let lo = 0;
    let hi = idx.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (idx[mid]!.first <= offset) lo = mid;
      else hi = mid - 1;
    }
    const g = idx[lo]!;
    return this.segments.includes(g.seg) ? g : null;
  }

  segmentFor(offset: bigint): Segment {
    let found = this.segments[0]!;
    for (const s of this.segments) if (s.base <= offset) found = s;
    return found;
  }

  /** The segment after the one starting at `base`. NOTE: by base offset, never by position in
   * the list — retention deletes segments from its front while readers are positioned. */
  segmentAfter(base: bigint): Segment | undefined {
    return this.segments.find((s) => s.base > base);
  }

  earliestOffset(): bigint {
    return this.segments[0]!.base;
  }

  /** Resolves when new durable records arrive or after `ms`. */
  waitForAppend(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /** Applies retention (./retention.ts) now; passes run one after another. */
  retain(): Promise<void> {
    const p = this.retaining.then(() => this.retainOnce());
    this.retaining = p.catch(() => undefined);
    return p;
  }

  private async retainOnce(): Promise<void> {
    if (this.fd < 0) return;
    const { retention, now: clock, stats, topic } = this.opts;
    const now = clock();
    // Ages are read only for the oldest segments, up to the first young enough to keep.
    if (retention.maxAgeMs !== Infinity) {
      for (const s of this.segments.slice(0, -1)) {
        if (s.newest === undefined) s.newest = await newestTimestamp(s.file, s.bytes);
        if (s.newest === null || s.newest >= now - retention.maxAgeMs) break;
      }
    }
    // Segments are only added at the end meanwhile, and only this (serialised) pass deletes.
    const segs = [...this.segments];
    const committed = allCommitted(this.dir);
    const facts = segs.map((s, i) => ({ base: s.base, bytes: i === segs.length - 1 ? this.size : s.bytes, newestTimestamp: s.newest ?? null }));
    const k = segmentsToDelete(facts, committed, retention, now);
    if (k === 0) return;
    const oldEarliest = segs[0]!.base;
    const newEarliest = segs[k]!.base;
    for (const [group, c] of committed) {
      if (c < newEarliest) stats.lost(group, topic, newEarliest - (c > oldEarliest ? c : oldEarliest));
    }
    for (let i = 0; i < k; i++) {
      const old = this.segments.shift()!;
      try {
        unlinkSync(old.file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }

  /** The first offset whose record's timestamp is >= epochMs, or the durable end when none is. */
  async offsetForTime(epochMs: number): Promise<bigint> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.findOffsetForTime(epochMs);
      } catch (e) {
        // Retention deleted a segment while it was read: it was before the earliest offset now.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw e;
      }
    }
  }

  private async findOffsetForTime(epochMs: number): Promise<bigint> {
    const end = this.durableEnd;
    const activeSize = this.size;
    const segs = [...this.segments];
    const sizeOf = (i: number): number => (i === segs.length - 1 ? activeSize : segs[i]!.bytes);
    // The last segment that starts before epochMs holds the answer, or the answer is where the next starts.
    let candidate = -1;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i]!;
      if (s.first === undefined || s.first === null) {
        const t = await firstTimestamp(s.file, sizeOf(i));
        if (t !== null) s.first = t;
        else if (i < segs.length - 1) s.first = null;
      }
      if (s.first === undefined || s.first === null || s.first >= epochMs) break;
      candidate = i;
    }
    if (candidate < 0) return segs[0]!.base;
    const c = segs[candidate]!;
    const index = await indexForTime(c.file, sizeOf(candidate), epochMs);
    if (index !== null) return c.base + BigInt(index);
    return segs[candidate + 1]?.base ?? end;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Writes the buffers at `position` and fdatasyncs; returns the bytes written. */
async function writeAndSync(fd: number, buffers: Buffer[], position: number): Promise<number> {
  // fs.writev/fdatasync on the libuv pool keep the event loop free during the disk wait.
  let total = 0;
  for (const b of buffers) total += b.length;
  const written = await new Promise<number>((resolve, reject) => writev(fd, buffers, position, (err, n) => (err ? reject(err) : resolve(n))));
  if (written < total) {
    // A short write (rare on a regular file): the rest goes out from one buffer.
    const rest = Buffer.concat(buffers).subarray(written);
    await new Promise<void>((resolve, reject) => {
      const step = (done: number) => {
        if (done >= rest.length) return resolve();
        write(fd, rest, done, rest.length - done, position + written + done, (err, n) => (err ? reject(err) : step(done + n)));
      };
      step(0);
    });
  }
  await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  return total;
}
