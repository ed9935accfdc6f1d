// The export's store read: the job's /v1/audit/logs query in seq order, one keyset page per store
// read, each row already shaped by ClickHouse into the export's line (./shaped-lines.ts) and passed
// on as bytes. Rows the SQL could not vouch for come as marker lines; they are read again as stored
// columns and mapped in JS by the API's own toScaiVaultLog, so every record is the API's entry.
//
// Pages are seq ranges (after, upto] of pageRows rows each, their bounds found ahead, PAGES_PER_BOUNDS
// pages per query. With the bounds known, the next pages are read while the current one is
// written: the engine and the JS overlap instead of taking turns. A page query's memory is bounded
// (PAGE_MEMORY_BYTES); a page of rows too wide for it is read in halves.
import { AuditflowError } from '../../infra/errors.ts';
import { clickHouseCode, MEMORY_LIMIT_EXCEEDED, type Store } from '../../infra/store/store.ts';
import { exportQuery } from '../../api/exports/export-routes.ts';
import { QueryReader } from '../../api/query/query-params.ts';
import type { ScopedQuery } from '../../api/query/scoped-query.ts';
import { LOG_COLUMNS, readAuditLogFilters, toScaiVaultLog, type LogRow } from '../../api/scaivault/scaivault-log.ts';
import type { ExportJob } from './export-jobs.ts';
import type { ExportFormat, ScaiVaultLogEntry } from './export-formats.ts';
import { countLines, EncodedLines } from './part-writer.ts';
import { FALLBACK_MARK, SHAPED_LINE_PARAMS, SHAPED_LINE_SETTINGS, shapedLineColumn } from './shaped-lines.ts';

/** Page bounds found per query: one seq-only read (~0.1 µs per row) serves this many pages. */
export const PAGES_PER_BOUNDS = 10;

/**
 * Pages read ahead of the one being written: the engine has the next query queued while a page
 * is written (chDB runs them one at a time), for one more page of memory.
 */
export const READ_AHEAD_PAGES = 2;

/** At most this many seqs per bounds query (a page size near EXPORT_PAGE_ROWS's maximum gets fewer pages per query). */
const BOUNDS_ROWS = 1_000_000;

const LF = 0x0a;

export type ExportRecords = EncodedLines | ScaiVaultLogEntry[];

/**
 * What one page query may use (max_memory_usage). A page of 20,000 rows of ~400 bytes uses
 * 16–32 MiB; a page that needs more (wide rows) fails fast and is read again as two halves, so
 * the engine's memory per export read stays bounded whatever the rows' size.
 */
export const PAGE_MEMORY_BYTES = 128 * 1024 * 1024;

export interface ExportPagesOptions {
  format: ExportFormat;
  pageRows: number;
  signal: AbortSignal;
  /** PAGE_MEMORY_BYTES unless a test makes pages split. */
  pageMemoryBytes?: number | undefined;
}

/** The seq ranges of the pages, in order, each holding pageRows rows (the last one fewer). */
class PageBounds {
  private after = 0;
  private readonly ranges: { after: number; upto: number }[] = [];
  private exhausted = false;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly query: () => ScopedQuery, private readonly store: Store, private readonly pageRows: number) {}

  /** The next range; calls are answered in call order (pages read ahead ask before the previous answer). */
  next(): Promise<{ after: number; upto: number } | undefined> {
    const answer = this.chain.then(async () => {
      if (this.ranges.length === 0 && !this.exhausted) await this.refill();
      return this.ranges.shift();
    });
    this.chain = answer.catch(() => undefined);
    return answer;
  }

  private async refill(): Promise<void> {
    const rows = this.pageRows * Math.max(1, Math.min(PAGES_PER_BOUNDS, Math.floor(BOUNDS_ROWS / this.pageRows)));
    const inner = this.query().where({ column: 'seq', op: '>', type: 'UInt64', value: this.after })
      .select('seq', 'ORDER BY seq LIMIT {bound_rows:UInt32}', { bound_rows: rows, bound_page: this.pageRows });
    // Every pageRows-th seq of the next rows, and the last one.
    const sql = `SELECT arrayFilter((s, i) -> i % {bound_page:UInt32} = 0, a, arrayEnumerate(a)) AS bounds, length(a) AS n, a[-1] AS last
      FROM (SELECT arraySort(groupArray(seq)) AS a FROM (${inner.sql}))`;
    const [r] = await this.store.query<{ bounds: (number | string)[]; n: number | string; last: number | string }>(sql, inner.params);
    const n = Number(r?.n ?? 0);
    let prev = this.after;
    for (const b of r?.bounds ?? []) {
      this.ranges.push({ after: prev, upto: Number(b) });
      prev = Number(b);
    }
    if (n % this.pageRows !== 0) this.ranges.push({ after: prev, upto: Number(r?.last) });
    if (n < rows) this.exhausted = true;
    else this.after = prev;
  }
}

/** Store chunks (not aligned to rows) → pieces of whole lines, without copying but for a line cut between chunks. */
async function* wholeLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let rest: Buffer | undefined;
  for await (const chunk of chunks) {
    const first = chunk.indexOf(LF);
    if (first < 0) {
      rest = rest ? Buffer.concat([rest, chunk]) : chunk;
      continue;
    }
    if (rest) yield Buffer.concat([rest, chunk.subarray(0, first + 1)]);
    const last = chunk.lastIndexOf(LF);
    const start = rest ? first + 1 : 0;
    if (last + 1 > start) yield chunk.subarray(start, last + 1);
    rest = last + 1 < chunk.length ? chunk.subarray(last + 1) : undefined;
  }
  if (rest && rest.length > 0) throw new AuditflowError('STORE_QUERY_FAILED', 'an export page ended inside a row');
}

/** The pieces of one page as records: shaped lines as they are, marker lines replaced by the row mapped in JS. */
function pageRecords(pieces: Buffer[], fallback: Map<number, ScaiVaultLogEntry>): ExportRecords[] {
  const out: ExportRecords[] = [];
  for (const piece of pieces) {
    let from = 0;
    for (let mark = piece.indexOf(FALLBACK_MARK); mark >= 0; mark = piece.indexOf(FALLBACK_MARK, from)) {
      if (mark > from) out.push(new EncodedLines(piece.subarray(from, mark), countLines(piece, from, mark)));
      const end = piece.indexOf(LF, mark);
      const seq = Number(piece.toString('latin1', mark + 1, end));
      const entry = fallback.get(seq);
      if (!entry) throw new AuditflowError('INTERNAL', `export row seq ${seq} was not read back for mapping`);
      const prev = out[out.length - 1];
      if (Array.isArray(prev)) prev.push(entry);
      else out.push([entry]);
      from = end + 1;
    }
    if (from < piece.length) out.push(new EncodedLines(piece.subarray(from), countLines(piece, from)));
  }
  return out;
}

function markedSeqs(pieces: Buffer[]): string[] {
  const seqs: string[] = [];
  for (const piece of pieces) {
    for (let mark = piece.indexOf(FALLBACK_MARK); mark >= 0; mark = piece.indexOf(FALLBACK_MARK, mark + 1)) {
      seqs.push(piece.toString('latin1', mark + 1, piece.indexOf(LF, mark)));
    }
  }
  return seqs;
}

/**
 * The export's records in seq order, page by page: EncodedLines (bytes as the part gets them) and,
 * for rows mapped in JS, arrays of entries. READ_AHEAD_PAGES pages are read ahead.
 */
export async function* exportRecords(store: Store, job: ExportJob, opts: ExportPagesOptions): AsyncGenerator<ExportRecords> {
  const filters = readAuditLogFilters(new QueryReader(job.spec.filters), ['from', 'to']);
  const query = () => exportQuery(job.tenantId, job.spec, filters);
  const bounds = new PageBounds(query, store, opts.pageRows);
  const column = shapedLineColumn(opts.format);

  const settings = `${SHAPED_LINE_SETTINGS}, max_memory_usage = ${Math.floor(opts.pageMemoryBytes ?? PAGE_MEMORY_BYTES)}`;
  // The lines of (after, upto]; past the memory bound, of its two halves (a failed query answered nothing).
  const read = async (after: number, upto: number): Promise<Buffer[]> => {
    const { sql, params } = query()
      .where({ column: 'seq', op: '>', type: 'UInt64', value: after })
      .where({ column: 'seq', op: '<=', type: 'UInt64', value: upto })
      .select(column, `ORDER BY seq SETTINGS ${settings}`, SHAPED_LINE_PARAMS);
    const pieces: Buffer[] = [];
    try {
      for await (const piece of wholeLines(store.stream(sql, params, { signal: opts.signal, format: 'TabSeparatedRaw' }))) pieces.push(piece);
    } catch (e) {
      if (clickHouseCode(e) !== MEMORY_LIMIT_EXCEEDED || upto - after < 2 || opts.signal.aborted) throw e;
      const mid = after + Math.floor((upto - after) / 2);
      return [...await read(after, mid), ...await read(mid, upto)];
    }
    return pieces;
  };

  const load = async (): Promise<ExportRecords[] | undefined> => {
    opts.signal.throwIfAborted();
    const range = await bounds.next();
    if (!range) return undefined;
    const pieces = await read(range.after, range.upto);
    const seqs = markedSeqs(pieces);
    const fallback = new Map<number, ScaiVaultLogEntry>();
    if (seqs.length > 0) {
      const back = query().where({ column: 'seq', op: 'in', value: seqs }).select(LOG_COLUMNS, 'ORDER BY seq');
      for (const row of await store.query<LogRow>(back.sql, back.params)) fallback.set(Number(row.seq), toScaiVaultLog(row));
    }
    return pageRecords(pieces, fallback);
  };

  const ahead: Promise<ExportRecords[] | undefined>[] = [];
  const readAhead = (): void => {
    while (ahead.length < READ_AHEAD_PAGES) {
      const p = load();
      // NOTE: a handler at once: a read ahead may fail while the current page is being written.
      p.catch(() => undefined);
      ahead.push(p);
    }
  };
  readAhead();
  for (;;) {
    const page = await ahead.shift();
    if (!page) return;
    readAhead();
    yield* page;
  }
}
