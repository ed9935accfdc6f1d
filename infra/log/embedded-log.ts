// The durable embedded log: Kafka's model (topics → partitions → ordered offsets, consumer
// commits) on local files, for the one-process deployment.
//
// Layout: <dir>/<topic>/<partition>/<base-offset>.seg, groups of frames (./log-format.ts).
// NOTE: appends are group-committed — every record queued while one write+fdatasync runs goes
// into the next single write+fdatasync — and `send` resolves only after the fdatasync, so a 202
// never precedes durability. Readers see only fsynced frames (the durable end), so nothing the
// store holds can come from a record a crash could take back. On open, a torn tail (a frame cut
// by a crash) is truncated.
import { closeSync, existsSync, fdatasync, fdatasyncSync, write, writev, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { open as openAsync, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { AuditflowError } from '../errors.ts';
import type { LogBatch, LogConsumer, LogMessage, LogProducer, LogRecord, PartitionHandler } from './log.ts';
import { decodePayload, FRAME_HEADER, FrameEncoder, GROUP_HEADER, groupHeader, isGroupMagic, scanGroups, type EncodedFrames } from './log-format.ts';
import { partitionForKey } from './partitioner.ts';

interface Segment {
  base: bigint;
  file: string;
}

interface PendingAppend {
  /** Keys and headers only: the values (often 800-byte strings) are in `frames` already and are
   * not kept alive through the fsync. */
  keys: string[];
  headers: (Record<string, string> | undefined)[];
  frames: EncodedFrames;
  timestamp: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** One partition: its segments, the append path and the durable end. */
class PartitionLog {
  readonly dir: string;
  private segments: Segment[] = [];
  private fd = -1;
  private size = 0;
  private nextOffset = 0n;
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

  constructor(dir: string, private readonly segmentBytes: number, private readonly tailMaxBytes: number) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.segments = readdirSync(dir)
      .filter((f) => /^\d{20}\.seg$/.test(f))
      .sort()
      .map((f) => ({ base: BigInt(f.slice(0, 20)), file: path.join(dir, f) }));
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

  private newSegmentFile(base: bigint): Segment {
    const file = path.join(this.dir, `${base.toString().padStart(20, '0')}.seg`);
    closeSync(openSync(file, 'a'));
    return { base, file };
  }

  append(records: LogRecord[]): Promise<void> {
    const timestamp = Date.now();
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
        if (this.size > 0 && this.size >= this.segmentBytes) this.roll();
        const buffers = [groupHeader(group.map((g) => g.frames)), ...group.map((g) => g.frames.bytes)];
        const at = { first: this.nextOffset, seg: this.segments[this.segments.length - 1]!, pos: this.size };
        const bytes = await writeAndSync(this.fd, buffers, this.size);
        this.size += bytes;
        this.groupIndex.push(at);
        if (this.groupIndex.length > 2 * GROUP_INDEX_MAX) this.groupIndex = this.groupIndex.slice(-GROUP_INDEX_MAX);
        this.remember(group, this.nextOffset);
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

  /**
   * The most recent durable records not yet read by every open reader, kept as messages so a
   * consumer that keeps up takes them from memory instead of reading and decoding the file again
   * (the common case: it cost ~20% of the main thread). A consumer that falls behind the tail
   * reads the file. NOTE: records leave the tail as soon as every reader has taken them, so they
   * die young instead of being promoted to V8's old generation (GC threads cost ~4 µs per event
   * when the tail kept 16 MiB of records regardless).
   */
  private tail: LogMessage[] = [];
  /** Open readers and where they stand. */
  readonly readers = new Set<{ offset: bigint }>();
  private tailBase = 0n;
  private tailBytes = 0;

  private remember(group: PendingAppend[], firstOffset: bigint): void {
    if (this.tail.length === 0) this.tailBase = firstOffset;
    let offset = firstOffset;
    for (const g of group) {
      const { bytes, valueStart, valueEnd } = g.frames;
      for (let i = 0; i < g.keys.length; i++) {
        // The value as written, a view into the append's buffer (records may hold strings).
        const value = bytes.subarray(valueStart[i]!, valueEnd[i]!);
        this.tail.push({ offset, key: g.keys[i]!, value, headers: g.headers[i] ?? {}, timestamp: g.timestamp });
        this.tailBytes += value.length + 64;
        offset++;
      }
    }
    if (this.tailBytes > this.tailMaxBytes) this.dropTail(Math.ceil(this.tail.length / 2));
  }

  /** Forgets the oldest `n` records of the tail. */
  private dropTail(n: number): void {
    for (let i = 0; i < n; i++) this.tailBytes -= this.tail[i]!.value!.length + 64;
    this.tail = this.tail.slice(n);
    this.tailBase += BigInt(n);
  }

  /** Up to `max` messages from `offset` if the in-memory tail holds it, else null. */
  fromTail(offset: bigint, max: number): LogMessage[] | null {
    if (this.tail.length === 0 || offset < this.tailBase || offset >= this.tailBase + BigInt(this.tail.length)) return null;
    const start = Number(offset - this.tailBase);
    return this.tail.slice(start, start + max);
  }

  /** Drops what every open reader has read. */
  trimTail(): void {
    if (this.readers.size === 0 || this.tail.length === 0) return;
    let min = -1n;
    for (const r of this.readers) if (min < 0n || r.offset < min) min = r.offset;
    const drop = Math.min(this.tail.length, Number(min - this.tailBase));
    if (drop > 0) this.dropTail(drop);
  }

  private roll(): void {
    fdatasyncSync(this.fd);
    closeSync(this.fd);
    const seg = this.newSegmentFile(this.nextOffset);
    this.segments.push(seg);
    this.fd = openSync(seg.file, 'r+');
    this.size = 0;
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
   * the list — committing deletes segments from its front while readers are positioned. */
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

  /** Deletes whole segments that end at or before `offset` (never the active one). */
  truncateBefore(offset: bigint): void {
    while (this.segments.length > 1 && this.segments[1]!.base <= offset) {
      const old = this.segments.shift()!;
      unlinkSync(old.file);
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

const GROUP_INDEX_MAX = 4096;

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

export interface EmbeddedLogOptions {
  dir: string;
  partitions: number;
  segmentBytes: number;
  /** Recent records kept in memory per partition for consumers that keep up (default 64 MiB). */
  tailBytes?: number;
}

/** The log itself: owns the partitions of every topic. Producer and consumers are views of it. */
export class EmbeddedLog {
  private readonly parts = new Map<string, PartitionLog>();

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
  }

  partition(topic: string, p: number): PartitionLog {
    const k = `${topic}/${p}`;
    let part = this.parts.get(k);
    if (!part) {
      part = new PartitionLog(path.join(this.opts.dir, topic, String(p)), this.opts.segmentBytes, this.opts.tailBytes ?? 64 * 1024 * 1024);
      this.parts.set(k, part);
    }
    return part;
  }

  close(): void {
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

/** Reads one partition sequentially from an offset, up to the durable end. */
class PartitionReader {
  private fh: FileHandle | null = null;
  private segBase = 0n;
  private filePos = 0;
  /** Bytes read from the file but not yet handed out; always starts at a frame or group boundary. */
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of the current group's body not yet consumed (0: the next bytes are a group header). */
  private groupLeft = 0;
  /** Messages were taken from the in-memory tail: the file position no longer matches `offset`. */
  private filePositionStale = false;

  constructor(private readonly part: PartitionLog, public offset: bigint) {}

  async open(): Promise<void> {
    this.part.readers.add(this);
    const requested = this.offset < this.part.earliestOffset() ? this.part.earliestOffset() : this.offset;
    // From the start of the group that holds it when that is known, else from the segment's start.
    const group = this.part.locate(requested);
    const seg = group?.seg ?? this.part.segmentFor(requested);
    this.segBase = seg.base;
    this.offset = group?.first ?? seg.base;
    await this.openSegment(seg.file);
    this.filePos = group?.pos ?? 0;
    // Seeking: frames before the requested offset are counted, not decoded (assignment only).
    while (this.offset < requested) {
      const n = await this.take(Number(requested - this.offset), 8 * 1024 * 1024, null);
      if (n === 0) break;
    }
  }

  private async openSegment(file: string): Promise<void> {
    await this.fh?.close();
    this.fh = await openAsync(file, 'r');
    this.filePos = 0;
    this.buf = Buffer.alloc(0);
    this.groupLeft = 0;
  }

  /** Up to `maxMessages` durable messages from the current position. */
  async read(maxMessages: number, maxBytes: number): Promise<LogMessage[]> {
    const out: LogMessage[] = [];
    await this.take(maxMessages, maxBytes, out);
    return out;
  }

  /** Advances over up to `max` durable frames, decoding them into `out` unless it is null. */
  private async take(max: number, chunkBytes: number, out: LogMessage[] | null): Promise<number> {
    const available = this.part.durableEnd - this.offset;
    if (available <= 0n || !this.fh) return 0;
    const want = Math.min(max, Number(available));
    if (out) {
      const recent = this.part.fromTail(this.offset, want);
      if (recent) {
        for (const m of recent) out.push(m);
        this.offset += BigInt(recent.length);
        this.part.trimTail();
        this.filePositionStale = true;
        return recent.length;
      }
      if (this.filePositionStale) {
        // Behind the tail after reading from it: find the file position again.
        this.filePositionStale = false;
        await this.open();
      }
    }
    let taken = 0;
    for (;;) {
      let pos = 0;
      while (taken < want) {
        if (this.groupLeft === 0) {
          if (pos + GROUP_HEADER > this.buf.length) break;
          if (!isGroupMagic(this.buf.readUInt32LE(pos))) {
            throw new AuditflowError('LOG_UNAVAILABLE', `embedded log corrupt at ${this.part.dir} offset ${this.offset + BigInt(taken)}`);
          }
          this.groupLeft = this.buf.readUInt32LE(pos + 4);
          pos += GROUP_HEADER;
        }
        if (pos + FRAME_HEADER > this.buf.length) break;
        const len = this.buf.readUInt32LE(pos);
        if (pos + FRAME_HEADER + len > this.buf.length) break;
        if (out) out.push(decodePayload(this.buf.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + len), this.offset + BigInt(taken)));
        taken++;
        pos += FRAME_HEADER + len;
        this.groupLeft -= FRAME_HEADER + len;
      }
      this.buf = this.buf.subarray(pos);
      if (taken >= want) break;
      const chunk = Buffer.allocUnsafe(Math.max(chunkBytes, 1024 * 1024));
      const { bytesRead } = await this.fh.read(chunk, 0, chunk.length, this.filePos);
      if (bytesRead === 0) {
        // This segment is exhausted; the next one continues the partition where it left off.
        const next = this.part.segmentAfter(this.segBase);
        if (!next || next.base !== this.offset + BigInt(taken) || this.buf.length > 0) break;
        this.segBase = next.base;
        await this.openSegment(next.file);
        continue;
      }
      this.filePos += bytesRead;
      this.buf = this.buf.length > 0 ? Buffer.concat([this.buf, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
    }
    // Decoded messages reference `buf`; copy-free is safe because each chunk is a fresh buffer.
    this.offset += BigInt(taken);
    return taken;
  }

  async close(): Promise<void> {
    this.part.readers.delete(this);
    await this.fh?.close();
    this.fh = null;
  }
}

export interface EmbeddedConsumerOptions {
  group: string;
  topics: string[];
  maxBatchMessages?: number;
  maxBatchBytes?: number;
  tickMs?: number;
}

/** A consumer group of one: every partition of every topic, in order, commits in files. */
export class EmbeddedLogConsumer implements LogConsumer {
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly log: EmbeddedLog, private readonly opts: EmbeddedConsumerOptions) {}

  private commitFile(topic: string, p: number): string {
    return path.join(this.log.partition(topic, p).dir, `committed.${this.opts.group}`);
  }

  committed(topic: string, p: number): bigint | null {
    const f = this.commitFile(topic, p);
    return existsSync(f) ? BigInt(readFileSync(f, 'utf8').trim()) : null;
  }

  async commit(topic: string, partition: number, nextOffset: bigint): Promise<void> {
    const f = this.commitFile(topic, partition);
    writeFileSync(`${f}.tmp`, nextOffset.toString());
    renameSync(`${f}.tmp`, f);
    this.log.partition(topic, partition).truncateBefore(nextOffset);
  }

  async run(handler: PartitionHandler): Promise<void> {
    this.running = true;
    const readers: { topic: string; partition: number; reader: PartitionReader }[] = [];
    for (const topic of this.opts.topics) {
      for (let p = 0; p < this.log.opts.partitions; p++) {
        await handler.onAssign(topic, p);
        const reader = new PartitionReader(this.log.partition(topic, p), this.committed(topic, p) ?? 0n);
        await reader.open();
        readers.push({ topic, partition: p, reader });
      }
    }
    const maxMessages = this.opts.maxBatchMessages ?? 10_000;
    const maxBytes = this.opts.maxBatchBytes ?? 8 * 1024 * 1024;
    const tickMs = this.opts.tickMs ?? 100;
    this.loop = (async () => {
      let lastTick = Date.now();
      while (this.running) {
        let got = 0;
        for (const r of readers) {
          if (!this.running) break;
          const messages = await r.reader.read(maxMessages, maxBytes);
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
          await Promise.race(readers.map((r) => this.log.partition(r.topic, r.partition).waitForAppend(tickMs)));
        }
      }
      for (const r of readers) await r.reader.close();
    })();
    this.loop.catch(() => undefined);
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
