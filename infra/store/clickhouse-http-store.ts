// ClickHouse over HTTP through @clickhouse/client: the distributed deployment's store. Mirrors
// ChdbStore: same SQL, `{name:Type}` parameters bound server-side (sent as `param_<name>`), rows
// as JSONEachRow, inserts as raw JSONEachRow bytes, failures as AuditflowError.
//
// Result shapes match the embedded store because the settings that decide them are pinned per
// request rather than left to the server's defaults (which differ between versions; e.g.
// output_format_json_quote_64bit_integers defaults to 1 before ClickHouse 25.8 and 0 after):
// UInt64/Int64 come back as JSON numbers (exact up to 2^53 − 1 — select toString(x) where a
// value may exceed that), DateTime64 as 'YYYY-MM-DD hh:mm:ss.sss'.
//
// Failure classification, by error type and code (never message text):
// - the server answered with a ClickHouse exception → STORE_QUERY_FAILED, except the codes in
//   TRANSIENT_SERVER_CODES (overload, timeouts, replica/keeper trouble) → STORE_UNAVAILABLE;
// - the request never completed (connection refused/reset, DNS, our deadline) → STORE_UNAVAILABLE;
// - anything else (e.g. a parameter value the client cannot encode) → STORE_QUERY_FAILED.
import { Readable } from 'node:stream';
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { AuditflowError } from '../errors.ts';
import { INSERT_SETTINGS, RESULT_SHAPE_SETTINGS } from './store-settings.ts';
import type { QueryParams, Store, StreamOptions } from './store.ts';

export interface ClickHouseHttpStoreOptions {
  /** e.g. http://clickhouse:8123 */
  url: string;
  username?: string;
  password?: string;
  database?: string;
  /** Deadline for one statement, after which it fails with STORE_UNAVAILABLE (default 30 s). */
  requestTimeoutMs?: number;
  /** gzip request bodies / responses (default off: the sink already batches; turn on across slow links). */
  compression?: { request?: boolean; response?: boolean };
  /** Extra settings for every statement (the pinned result-shape settings always win). */
  clickhouseSettings?: ClickHouseSettings;
  /** Max sockets to the server (default 10). */
  maxOpenConnections?: number;
}

// Server-side codes where retrying the same statement later can succeed.
const TRANSIENT_SERVER_CODES = new Set<number>([
  159, // TIMEOUT_EXCEEDED
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY (replica lost its keeper session)
  252, // TOO_MANY_PARTS
  279, // ALL_CONNECTION_TRIES_FAILED
  285, // TOO_FEW_LIVE_REPLICAS
  319, // UNKNOWN_STATUS_OF_INSERT
  999, // KEEPER_EXCEPTION
]);

// Node/libuv error codes of a request that did not complete.
const TRANSPORT_ERROR_CODES = new Set<string>([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH',
  'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'UND_ERR_SOCKET',
]);

function isTransportError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSPORT_ERROR_CODES.has(code)) return true;
  if (e instanceof AggregateError) return e.errors.some(isTransportError);
  return false;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

export class ClickHouseHttpStore implements Store {
  readonly kind = 'http' as const;
  private readonly client: ClickHouseClient;
  private readonly timeoutMs: number;

  constructor(opts: ClickHouseHttpStoreOptions) {
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.client = createClient({
      url: opts.url,
      username: opts.username ?? 'default',
      password: opts.password ?? '',
      database: opts.database ?? 'default',
      // Our own deadline (an AbortSignal per statement) fires first; this is only a backstop.
      request_timeout: this.timeoutMs + 5_000,
      max_open_connections: opts.maxOpenConnections ?? 10,
      compression: { request: opts.compression?.request ?? false, response: opts.compression?.response ?? false },
      clickhouse_settings: { ...opts.clickhouseSettings, ...RESULT_SHAPE_SETTINGS },
      // Failures reach the caller as AuditflowError; the client's own console logging is noise.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  async command(sql: string, params: QueryParams = {}): Promise<void> {
    await this.run('command', async (abort_signal) => {
      await this.client.command({ query: sql, query_params: params, abort_signal });
    });
  }

  async query<T = Record<string, unknown>>(sql: string, params: QueryParams = {}): Promise<T[]> {
    return this.run('query', async (abort_signal) => {
      const rs = await this.client.query({
        query: sql,
        query_params: params,
        format: 'JSONEachRow',
        abort_signal,
        // Buffer the result server-side so an error mid-query is an HTTP error, not a torn body.
        clickhouse_settings: { wait_end_of_query: 1 },
      });
      return rs.json<T>();
    });
  }

  async *stream(sql: string, params: QueryParams = {}, opts: StreamOptions = {}): AsyncIterable<Buffer> {
    opts.signal?.throwIfAborted();
    // No overall deadline: a long result is fine while bytes keep coming. An idle one is not.
    const idle = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, idle.signal]) : idle.signal;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(new Error(`no bytes from ClickHouse for ${this.timeoutMs} ms`)), this.timeoutMs);
    };
    arm();
    try {
      const { stream } = await this.client.exec({
        query: `${sql} FORMAT ${opts.format ?? 'JSONEachRow'}`, query_params: params, abort_signal: signal,
        // The server buffers the result (callers page it, so a page at most) before the status
        // line: an error mid-query is then an HTTP error, never rows cut short. We still read it
        // as a stream.
        clickhouse_settings: { ...RESULT_SHAPE_SETTINGS, wait_end_of_query: 1 },
      });
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        signal.throwIfAborted();
        arm();
        yield chunk;
      }
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      throw this.classify('stream', e, idle.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  async insertJsonEachRow(table: string, ndjson: Buffer): Promise<void> {
    if (!IDENTIFIER.test(table)) {
      throw new AuditflowError('STORE_QUERY_FAILED', `insert into ${JSON.stringify(table)} failed: invalid table name`);
    }
    // Nothing to insert is a no-op, as in ChdbStore (a server answers NO_DATA_TO_INSERT).
    if (!/[^\s]/.test(ndjson.toString('latin1'))) return;
    await this.run(`insert into ${table}`, async (abort_signal) => {
      // exec sends the query in the URL and these bytes, untouched, as the body.
      const { stream } = await this.client.exec({
        query: `INSERT INTO ${table} FORMAT JSONEachRow`,
        values: Readable.from([ndjson]),
        abort_signal,
        clickhouse_settings: INSERT_SETTINGS,
      });
      stream.resume();
      await new Promise<void>((resolve, reject) => {
        stream.once('end', resolve);
        stream.once('error', reject);
      });
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async run<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = AbortSignal.timeout(this.timeoutMs);
    try {
      return await fn(deadline);
    } catch (e) {
      throw this.classify(what, e, deadline);
    }
  }

  private classify(what: string, e: unknown, deadline: AbortSignal): AuditflowError {
    if (e instanceof ClickHouseError) {
      const code = Number(e.code);
      const transient = TRANSIENT_SERVER_CODES.has(code);
      return new AuditflowError(transient ? 'STORE_UNAVAILABLE' : 'STORE_QUERY_FAILED', `${what} failed: ClickHouse ${e.type ?? ''} (${e.code}): ${e.message}`, { cause: e });
    }
    if (deadline.aborted) {
      return new AuditflowError('STORE_UNAVAILABLE', `${what} failed: no answer from ClickHouse within ${this.timeoutMs} ms`, { cause: e });
    }
    if (isTransportError(e)) {
      return new AuditflowError('STORE_UNAVAILABLE', `${what} failed: ClickHouse unreachable (${(e as { code?: string }).code ?? 'transport error'}): ${(e as Error).message}`, { cause: e });
    }
    return new AuditflowError('STORE_QUERY_FAILED', `${what} failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}
