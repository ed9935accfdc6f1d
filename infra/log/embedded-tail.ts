// The most recent durable records of a partition, kept as messages so that readers that keep up
// take them from memory instead of reading and decoding the file again (the common case: it cost
// ~20% of the main thread). A reader behind the tail reads the file.
//
// NOTE: records leave as soon as every reader that can still take them from here has (readers
// already behind the tail's start read the file and do not hold it), so they die young instead of
// being promoted to V8's old generation (GC threads cost ~4 µs per event when the tail kept 16 MiB
// of records regardless). Past `maxBytes` the oldest half goes, whoever still wanted it: a reader
// far behind — a paused SIEM destination's group beside the store sink — never holds memory.
import type { LogMessage } from './log.ts';
import type { EncodedFrames } from './log-format.ts';

/** What one append put in a group: keys and headers (the values are in `frames`). */
export interface AppendedRecords {
  keys: string[];
  headers: (Record<string, string> | undefined)[];
  frames: EncodedFrames;
  timestamp: number;
}

/** A reader's position, registered while it is open. */
export interface ReaderPosition {
  offset: bigint;
}

export class RecentRecords {
  private tail: LogMessage[] = [];
  private base = 0n;
  private bytes = 0;
  /** Open readers and where they stand. */
  readonly readers = new Set<ReaderPosition>();

  constructor(private readonly maxBytes: number) {}

  /** Records just made durable, the first at `firstOffset`. */
  remember(appends: readonly AppendedRecords[], firstOffset: bigint): void {
    if (this.tail.length === 0) this.base = firstOffset;
    let offset = firstOffset;
    for (const a of appends) {
      const { bytes, valueStart, valueEnd } = a.frames;
      for (let i = 0; i < a.keys.length; i++) {
        // The value as written, a view into the append's buffer (records may hold strings).
        const value = bytes.subarray(valueStart[i]!, valueEnd[i]!);
        this.tail.push({ offset, key: a.keys[i]!, value, headers: a.headers[i] ?? {}, timestamp: a.timestamp });
        this.bytes += value.length + 64;
        offset++;
      }
    }
    if (this.bytes > this.maxBytes) this.drop(Math.ceil(this.tail.length / 2));
  }

  /** Up to `max` messages from `offset` if the tail holds it, else null. */
  from(offset: bigint, max: number): LogMessage[] | null {
    if (this.tail.length === 0 || offset < this.base || offset >= this.base + BigInt(this.tail.length)) return null;
    const start = Number(offset - this.base);
    return this.tail.slice(start, start + max);
  }

  /** Drops what every reader that may still take from the tail has read. */
  trim(): void {
    if (this.tail.length === 0) return;
    let min = -1n;
    for (const r of this.readers) if (r.offset >= this.base && (min < 0n || r.offset < min)) min = r.offset;
    if (min < 0n) return;
    const drop = Math.min(this.tail.length, Number(min - this.base));
    if (drop > 0) this.drop(drop);
  }

  /** Records held (for tests and diagnostics). */
  get size(): number {
    return this.tail.length;
  }

  private drop(n: number): void {
    for (let i = 0; i < n; i++) this.bytes -= this.tail[i]!.value!.length + 64;
    this.tail = this.tail.slice(n);
    this.base += BigInt(n);
  }
}
