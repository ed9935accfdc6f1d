// The export's stream pipeline after the store read: entries → format → (gzip) → numbered parts,
// each part's bytes handed as a Readable to an upload (ObjectStore.put) while they are produced.
// Back-pressure runs end to end: the next entry is pulled only when the part's stream has room,
// so a slow upload slows formatting and memory stays flat (a few buffers of PART_CHUNK_BYTES).
// Records come as entries (encoded here) or as lines the store already encoded (EncodedLines).
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback, type TransformOptions, type Writable } from 'node:stream';
import { createGzip, type ZlibOptions } from 'node:zlib';
import { AuditflowError } from '../../infra/errors.ts';
import { encoderFor, type EntryEncoder, type ExportFormat, type ScaiVaultLogEntry } from './export-formats.ts';

// TRICKY: level 1, for throughput. zlib runs on libuv's thread pool beside formatting on the main
// thread, and at the default level 6 deflate is the slower of the two and sets the export's pace:
// test/bench/export-format.bench.ts measured about two thirds of level 1's rows/s for parts only
// 17–23% smaller. Audit JSON is repetitive: level 1 already writes 5–7× fewer bytes than plain text.
export const EXPORT_GZIP_LEVEL = 1;

/** Formatted text is written in chunks of about this size: fewer, larger writes into zlib and the upload. */
export const PART_CHUNK_BYTES = 64 * 1024;

export interface ExportPart {
  /** `part-0001.jsonl`, `part-0002.csv.gz`, …: the object key's last segment. */
  name: string;
  /** Bytes as written to the destination (after gzip). */
  size_bytes: number;
  /** SHA-256 (hex) of exactly those bytes. */
  sha256: string;
  records: number;
}

export interface ExportParts {
  parts: ExportPart[];
  records: number;
  size_bytes: number;
}

/**
 * Receives one part's bytes: typically `(part, body, signal) => objectStore.put(key(part.name), body, {signal})`.
 * It must read `body` to its end and resolve once the part is stored; it may reject at any time
 * (the whole export then rejects with that error). If `body` errors (cancelled, or the source
 * failed), the part is incomplete and must not be stored as complete.
 */
export type UploadPart = (part: { name: string; number: number }, body: Readable, signal: AbortSignal) => Promise<unknown>;

export interface PartWriterOptions {
  format: ExportFormat;
  gzip: boolean;
  /** A part ends after this many records (EXPORT_PART_ROWS). */
  partRows: number;
  /** …or before a record that would take its uncompressed size (header included) past this (EXPORT_PART_BYTES). */
  partBytes: number;
  uploadPart: UploadPart;
  /** zlib level when `gzip`; EXPORT_GZIP_LEVEL unless a caller measures another (the benchmark). */
  gzipLevel?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Records written so far, after each chunk (for the job's progress). */
  onProgress?: ((records: number) => void) | undefined;
}

/** `part-0001.jsonl[.gz]`, `part-0001.csv[.gz]`; four digits at least, so names sort up to 9,999 parts. */
export function partName(n: number, format: ExportFormat, gzip: boolean): string {
  return `part-${String(n).padStart(4, '0')}.${format}${gzip ? '.gz' : ''}`;
}

/** Hashes and counts the bytes on their way to the consumer: the Readable it is given. */
class PartMeter extends Transform {
  readonly hash: Hash = createHash('sha256');
  size = 0;
  constructor() {
    super({ highWaterMark: PART_CHUNK_BYTES });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

/** One part in progress: text goes in at `head` (gzip, or the meter itself), bytes leave at the meter. */
class OpenPart {
  readonly meter = new PartMeter();
  readonly head: Writable;
  readonly upload: Promise<void>;
  records = 0;
  bytes = 0;
  pending = '';

  constructor(readonly name: string, readonly number: number, gzip: boolean, opts: PartWriterOptions, signal: AbortSignal, fail: (e: unknown) => void) {
    if (gzip) {
      // Room for a second chunk while zlib compresses the first, so formatting and compression
      // overlap. (zlib streams take Transform options; @types/node's ZlibOptions does not list them.)
      const gzOpts: ZlibOptions & TransformOptions = { level: opts.gzipLevel ?? EXPORT_GZIP_LEVEL, chunkSize: PART_CHUNK_BYTES, writableHighWaterMark: 2 * PART_CHUNK_BYTES };
      const gz = createGzip(gzOpts);
      gz.on('error', fail);
      gz.pipe(this.meter);
      this.head = gz;
    } else {
      this.head = this.meter;
    }
    this.meter.on('error', fail);
    // A consumer that destroys the body without an error has not stored the part.
    this.meter.on('close', () => {
      if (!this.meter.readableEnded) fail(new AuditflowError('INTERNAL', `export part ${name}: the upload closed its stream before the part's end`));
    });
    this.upload = Promise.resolve()
      .then(() => opts.uploadPart({ name, number }, this.meter, signal))
      .then(() => {
        if (!this.meter.readableEnded) throw new AuditflowError('INTERNAL', `export part ${name}: the upload finished before reading the part to its end`);
      });
    this.upload.catch(fail);
  }

  destroy(reason: unknown): void {
    const err = reason instanceof Error ? reason : new Error(String(reason));
    if (this.head !== this.meter) this.head.destroy(err);
    this.meter.destroy(err);
  }
}

const isThenable = <T>(v: T | PromiseLike<T>): v is PromiseLike<T> => typeof (v as { then?: unknown }).then === 'function';

function once(stream: Writable, event: 'drain'): Promise<void> {
  return new Promise((resolve) => stream.once(event, () => resolve()));
}

/**
 * Records already encoded in the part's format (by the store: ./shaped-lines.ts), written as they
 * are: whole lines, each line one record, LF-terminated.
 */
export class EncodedLines {
  constructor(readonly bytes: Buffer, readonly records: number) {}
}

/** Entries one by one, in arrays (a store chunk's rows: a batch costs one await, not one per entry), or encoded lines. */
export type EntryBatch = ScaiVaultLogEntry | readonly ScaiVaultLogEntry[] | EncodedLines;
export type EntrySource = AsyncIterable<EntryBatch> | Iterable<EntryBatch>;

const LF = 0x0a;

/** Lines (LF) in `b` between `from` and `to`. */
export function countLines(b: Buffer, from = 0, to = b.length): number {
  let n = 0;
  for (let at = b.indexOf(LF, from); at >= 0 && at < to; at = b.indexOf(LF, at + 1)) n++;
  return n;
}

/** Where the `n`-th line from `from` ends (just past its LF). */
function afterLines(b: Buffer, from: number, n: number): number {
  let at = from - 1;
  for (let i = 0; i < n; i++) at = b.indexOf(LF, at + 1);
  return at + 1;
}

/**
 * Formats `entries` into parts and uploads each as it is produced. Resolves with every part
 * (name, size and SHA-256 of the bytes written, records) once all are stored; rejects with the
 * first failure (an upload's error, the source's, or `signal`'s reason), after destroying the
 * part in progress and closing the source. No rows → no parts.
 */
export async function writeExportParts(entries: EntrySource, opts: PartWriterOptions): Promise<ExportParts> {
  const enc: EntryEncoder = encoderFor(opts.format);
  const headerBytes = Buffer.byteLength(enc.header);
  // The first failure (the caller's abort, an upload's error, the source's) aborts `stop`; its
  // reason is what we reject with, and it wakes whatever we are waiting on.
  const stop = new AbortController();
  let wake: ((reason: unknown) => void) | undefined;
  const fail = (reason: unknown): void => {
    if (stop.signal.aborted) return;
    stop.abort(reason);
    wake?.(stop.signal.reason);
  };
  // NOTE: not Promise.race against one long-lived promise: each race would leave a reaction on it.
  const guard = <T>(p: PromiseLike<T>): Promise<T> => new Promise<T>((resolve, reject) => {
    if (stop.signal.aborted) return reject(stop.signal.reason);
    wake = reject;
    p.then(resolve, reject);
  });
  const onAbort = (): void => fail(opts.signal?.reason);
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const done: ExportPart[] = [];
  let records = 0;
  let part: OpenPart | undefined;

  const write = async (p: OpenPart, chunk: string | Buffer): Promise<void> => {
    if (!p.head.write(chunk)) await guard(once(p.head, 'drain'));
    opts.onProgress?.(records);
  };
  const flush = async (p: OpenPart): Promise<void> => {
    const text = p.pending;
    p.pending = '';
    await write(p, text);
  };
  let opened = 0;
  const open = (): OpenPart => {
    const n = ++opened;
    const p = new OpenPart(partName(n, opts.format, opts.gzip), n, opts.gzip, opts, stop.signal, fail);
    p.pending = enc.header;
    p.bytes = headerBytes;
    return p;
  };
  // A closed part's upload finishes (a local part's fsync and rename, an object store's last
  // request) while the next part is written: one part finishing at a time, in order.
  let finishing: Promise<void> = Promise.resolve();
  const close = async (p: OpenPart): Promise<void> => {
    if (p.pending !== '') await flush(p);
    p.head.end();
    await guard(finishing);
    finishing = p.upload.then(() => {
      done.push({ name: p.name, size_bytes: p.meter.size, sha256: p.meter.hash.digest('hex'), records: p.records });
    });
    // Its failure reaches `fail` through the upload's own handler; awaited at the next close or the end.
    finishing.catch(() => undefined);
  };

  // Encoded lines split at the same record boundaries as entries would: after partRows records,
  // or before a record that would take the part past partBytes.
  const writeLines = async ({ bytes: b, records: n }: EncodedLines): Promise<void> => {
    let from = 0;
    let left = n;
    while (left > 0) {
      // NOTE: the open part is always `part`, so a failure destroys the one in progress.
      const p = (part ??= open());
      let take = Math.min(left, opts.partRows - p.records);
      let end = take === left ? b.length : afterLines(b, from, take);
      let full = p.records + take >= opts.partRows;
      if (p.bytes + (end - from) > opts.partBytes) {
        const room = opts.partBytes - p.bytes;
        end = room > 0 ? b.lastIndexOf(LF, from + room - 1) + 1 : 0;
        if (end <= from) {
          if (p.records > 0) {
            await close(p);
            part = undefined;
            continue;
          }
          end = b.indexOf(LF, from) + 1; // one record larger than a part: alone in its part
        }
        take = countLines(b, from, end);
        full = true;
      }
      if (p.pending !== '') await flush(p);
      p.bytes += end - from;
      p.records += take;
      records += take;
      left -= take;
      await write(p, b.subarray(from, end));
      from = end;
      if (full) {
        await close(p);
        part = undefined;
      }
    }
  };

  const source = Symbol.asyncIterator in entries ? entries[Symbol.asyncIterator]() : entries[Symbol.iterator]();
  try {
    for (;;) {
      if (stop.signal.aborted) throw stop.signal.reason;
      const pulled = source.next();
      const next = isThenable(pulled) ? await guard(pulled) : pulled;
      if (next.done) break;
      if (next.value instanceof EncodedLines) {
        await writeLines(next.value);
        continue;
      }
      const batch: readonly ScaiVaultLogEntry[] = Array.isArray(next.value) ? next.value : [next.value as ScaiVaultLogEntry];
      for (const entry of batch) {
        const line = enc.line(entry);
        const bytes = Buffer.byteLength(line);
        if (part && part.records > 0 && part.bytes + bytes > opts.partBytes) {
          await close(part);
          part = undefined;
        }
        part ??= open();
        part.pending += line;
        part.bytes += bytes;
        part.records++;
        records++;
        if (part.records >= opts.partRows) {
          await close(part);
          part = undefined;
        } else if (part.pending.length >= PART_CHUNK_BYTES) {
          await flush(part);
        }
      }
    }
    if (part) await close(part);
    await guard(finishing);
    if (stop.signal.aborted) throw stop.signal.reason;
  } catch (e) {
    fail(e);
    part?.destroy(stop.signal.reason);
    // Close the source (the store's stream) without waiting on a read that may never answer.
    void Promise.resolve(source.return?.()).catch(() => undefined);
    throw stop.signal.reason;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return { parts: done, records, size_bytes: done.reduce((s, p) => s + p.size_bytes, 0) };
}
