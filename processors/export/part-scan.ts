// Reads one stored export part in a single streaming pass: its size and SHA-256 (of the bytes as
// stored, so compressed when gzip) and its record count (of the decompressed text). Memory stays at
// a chunk whatever the part's size.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { ExportFormat } from './export-formats.ts';

const CHUNK_BYTES = 1024 * 1024;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/**
 * Counts non-blank lines (JSONL) or RFC 4180 records (CSV: a line break inside a quoted field
 * does not end the record; `""` inside quotes is a quote). A line holding only CR counts as blank.
 */
export class RecordCounter {
  lines = 0;
  private inQuotes = false;
  private lineHasContent = false;

  constructor(private readonly quoted: boolean) {}

  push(chunk: Buffer): void {
    const n = chunk.length;
    let pos = 0;
    // Where the next quote is in this chunk (-1: none left), found once rather than per line.
    let nextQuote = this.quoted ? chunk.indexOf(QUOTE) : -1;
    const quoteFrom = (p: number): number => {
      if (nextQuote !== -1 && nextQuote < p) nextQuote = chunk.indexOf(QUOTE, p);
      return nextQuote;
    };
    while (pos < n) {
      if (this.inQuotes) {
        const q = quoteFrom(pos);
        if (q === -1) return;
        this.inQuotes = false;
        pos = q + 1;
        continue;
      }
      const nl = chunk.indexOf(LF, pos);
      const end = nl === -1 ? n : nl;
      const q = this.quoted ? quoteFrom(pos) : -1;
      if (q !== -1 && q < end) {
        this.lineHasContent = true;
        this.inQuotes = true;
        pos = q + 1;
        continue;
      }
      if (end - pos > 1 || (end - pos === 1 && chunk[pos] !== CR)) this.lineHasContent = true;
      if (nl === -1) return;
      if (this.lineHasContent) this.lines++;
      this.lineHasContent = false;
      pos = nl + 1;
    }
  }

  /** Ends the text; a last record without a line break counts. Throws on an unterminated quoted field. */
  end(): number {
    if (this.inQuotes) throw new Error('the text ends inside a quoted field');
    if (this.lineHasContent) this.lines++;
    this.lineHasContent = false;
    return this.lines;
  }
}

export interface PartScan {
  readonly sizeBytes: number;
  readonly sha256: string;
  /** Records counted; null when the content could not be read to its end (see `unreadable`). */
  readonly records: number | null;
  readonly unreadable: string | null;
}

class Meter extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

function counterSink(counter: RecordCounter): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      counter.push(chunk);
      cb();
    },
    final(cb) {
      try {
        counter.end();
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
}

/** Size, SHA-256 and records of a part; file read errors (EIO, EACCES) reject. */
export async function scanPart(file: string, opts: { format: ExportFormat; gzip: boolean }): Promise<PartScan> {
  const meter = new Meter();
  const counter = new RecordCounter(opts.format === 'csv');
  const read = createReadStream(file, { highWaterMark: CHUNK_BYTES });
  try {
    if (opts.gzip) await pipeline(read, meter, createGunzip(), counterSink(counter));
    else await pipeline(read, meter, counterSink(counter));
  } catch (e) {
    // A file-system error (it carries the syscall) is not the part's content: let the caller say so.
    if (typeof (e as NodeJS.ErrnoException).syscall === 'string') throw e;
    // The content is bad (not gzip, truncated, an open quote): size and hash still stand, from a pass of their own.
    const bytesOnly = new Meter();
    await pipeline(createReadStream(file, { highWaterMark: CHUNK_BYTES }), bytesOnly, new Writable({ write: (_c, _e, cb) => cb() }));
    return { sizeBytes: bytesOnly.size, sha256: bytesOnly.hash.digest('hex'), records: null, unreadable: (e as Error).message };
  }
  const lines = counter.lines;
  // CSV: the first record of every part is the header row.
  const records = opts.format === 'csv' ? Math.max(0, lines - 1) : lines;
  return { sizeBytes: meter.size, sha256: meter.hash.digest('hex'), records, unreadable: null };
}
