// Embedded ClickHouse through chDB. NOTE: chDB allows one engine per process and one process
// per data directory, and it serialises calls inside the process; the embedded deployment
// therefore shares one ChdbStore between the sink and the API.
import { mkdirSync } from 'node:fs';
import { Session } from 'chdb';
import { AuditflowError } from '../errors.ts';
import { chdbSettingArgs } from './store-settings.ts';
import type { QueryParams, Store, StreamOptions } from './store.ts';

/** Slices a chDB result is handed on in (a consumer's unit of back-pressure). */
// 64 KiB: V8 decodes strings past ~128 KiB far slower (bench:export: an 8.5 MB page took 40–50 ms in 1 MiB slices, ~1.3 ms in 64 KiB).
const STREAM_SLICE_BYTES = 64 * 1024;
// TabSeparatedRaw is passed through as bytes, never decoded: larger slices, fewer writes downstream.
const RAW_SLICE_BYTES = 1024 * 1024;

export class ChdbStore implements Store {
  readonly kind = 'chdb' as const;
  private readonly session: Session;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    try {
      // Pinned settings: both stores agree whatever a chDB upgrade changes in the defaults.
      this.session = new Session(dataDir, { connectionArgs: chdbSettingArgs() });
    } catch (e) {
      throw new AuditflowError('STORE_UNAVAILABLE', `cannot open embedded ClickHouse at ${dataDir}: ${(e as Error).message}`, { cause: e });
    }
  }

  async command(sql: string, params: QueryParams = {}): Promise<void> {
    await this.run(sql, params, 'TabSeparated');
  }

  async query<T = Record<string, unknown>>(sql: string, params: QueryParams = {}): Promise<T[]> {
    return decodeRows<T>(await this.resultBytes(sql, params));
  }

  /** A SELECT's whole result as bytes, JSONEachRow unless told (shared by query and stream). */
  private async resultBytes(sql: string, params: QueryParams, format = 'JSONEachRow'): Promise<Buffer> {
    try {
      const res = await this.session.queryBindAsync(sql, params, { format });
      const b = res.bytes();
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      throw new AuditflowError('STORE_QUERY_FAILED', `query failed: ${(e as Error).message}`, { cause: e });
    }
  }

  async *stream(sql: string, params: QueryParams = {}, opts: StreamOptions = {}): AsyncIterable<Buffer> {
    opts.signal?.throwIfAborted();
    const bytes = await this.resultBytes(sql, params, opts.format);
    const slice = opts.format === 'TabSeparatedRaw' ? RAW_SLICE_BYTES : STREAM_SLICE_BYTES;
    for (let at = 0; at < bytes.length; at += slice) {
      opts.signal?.throwIfAborted();
      yield bytes.subarray(at, Math.min(bytes.length, at + slice));
    }
  }

  async insertJsonEachRow(table: string, ndjson: Buffer): Promise<void> {
    try {
      await this.session.insert({ table, values: ndjson, format: 'JSONEachRow' });
    } catch (e) {
      throw new AuditflowError('STORE_QUERY_FAILED', `insert into ${table} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private async run(sql: string, params: QueryParams, format: string): Promise<string> {
    try {
      const res = await this.session.queryBindAsync(sql, params, { format });
      return res.text();
    } catch (e) {
      throw new AuditflowError('STORE_QUERY_FAILED', `query failed: ${(e as Error).message}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    this.session.close();
  }
}

/**
 * JSONEachRow bytes → rows, decoded a slice of whole lines at a time. NOTE: never as one string:
 * a result past 512 MiB (V8's longest string; e.g. the sink's start-up read of ~8M stored ids)
 * cannot be one.
 */
function decodeRows<T>(bytes: Buffer, sliceBytes = 8 * 1024 * 1024): T[] {
  const out: T[] = [];
  for (let start = 0; start < bytes.length;) {
    let end = start + sliceBytes >= bytes.length ? bytes.length : bytes.lastIndexOf(10, start + sliceBytes);
    if (end < start) end = bytes.indexOf(10, start + sliceBytes);
    if (end < 0) end = bytes.length;
    for (const line of bytes.toString('utf8', start, end).split('\n')) if (line.length > 0) out.push(JSON.parse(line) as T);
    start = end + 1;
  }
  return out;
}
