// Reads one partition of the embedded log sequentially from an offset, up to the durable end:
// from the in-memory tail when it holds the position, else from the segment files.
import { open as openAsync, type FileHandle } from 'node:fs/promises';
import { AuditflowError } from '../errors.ts';
import type { LogMessage } from './log.ts';
import { decodePayload, FRAME_HEADER, GROUP_HEADER, isGroupMagic } from './log-format.ts';
import type { PartitionLog } from './embedded-partition.ts';

/** The reader's position is below the earliest offset the partition still holds. */
export class BehindRetention extends Error {
  constructor(readonly position: bigint, readonly earliest: bigint) {
    super(`position ${position} is before the earliest retained offset ${earliest}`);
    this.name = 'BehindRetention';
  }
}

export class PartitionReader {
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

  /** True when retention has deleted records this reader has not read yet. */
  behindRetention(): boolean {
    return this.offset < this.part.earliestOffset();
  }

  /**
   * Positions the reader at its offset; throws BehindRetention when that is no longer held, unless
   * `fromEarliest` says to read on from the earliest retained offset instead.
   */
  async open(fromEarliest = false): Promise<void> {
    this.part.recent.readers.add(this);
    const earliest = this.part.earliestOffset();
    if (this.offset < earliest && !fromEarliest) throw new BehindRetention(this.offset, earliest);
    const requested = this.offset < earliest ? earliest : this.offset;
    // From the start of the group that holds it when that is known, else from the segment's start.
    const group = this.part.locate(requested);
    const seg = group?.seg ?? this.part.segmentFor(requested);
    this.segBase = seg.base;
    this.offset = group?.first ?? seg.base;
    await this.openSegment(seg.file);
    this.filePos = group?.pos ?? 0;
    this.filePositionStale = false;
    // Seeking: frames before the requested offset are counted, not decoded (assignment only).
    while (this.offset < requested) {
      const n = await this.take(Number(requested - this.offset), 8 * 1024 * 1024, null);
      if (n === 0) break;
    }
  }

  private async openSegment(file: string): Promise<void> {
    await this.fh?.close();
    this.fh = null;
    try {
      this.fh = await openAsync(file, 'r');
    } catch (e) {
      // Deleted by retention since it was chosen: the position went with it.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new BehindRetention(this.offset, this.part.earliestOffset());
      throw e;
    }
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
        this.part.recent.trim();
        this.filePositionStale = true;
        return recent.length;
      }
      // Behind the tail after reading from it: find the file position again.
      if (this.filePositionStale) await this.open();
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
    this.part.recent.readers.delete(this);
    await this.fh?.close();
    this.fh = null;
  }
}
