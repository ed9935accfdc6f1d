// The narrow interface every ClickHouse backend implements: embedded chDB and ClickHouse over
// HTTP (@clickhouse/client). One SQL dialect; every value is a `{name:Type}` bound parameter.

export type QueryParams = Record<string, unknown>;

/**
 * JSONEachRow (the default), or TabSeparatedRaw: each row's columns as they are, tab-separated,
 * LF after each row — for a query that selects one String column holding ready-made text (the
 * export's lines, shaped by ClickHouse), whose bytes then pass through untouched.
 */
export type StreamFormat = 'JSONEachRow' | 'TabSeparatedRaw';

export interface StreamOptions {
  signal?: AbortSignal;
  format?: StreamFormat;
}

export interface Store {
  /** DDL or a statement without a result. */
  command(sql: string, params?: QueryParams): Promise<void>;
  /** A SELECT; rows decoded from JSONEachRow. */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]>;
  /**
   * Insert rows given as JSONEachRow bytes (one JSON object per line). The insert is one
   * INSERT statement: it is acknowledged only when the engine has written it.
   */
  insertJsonEachRow(table: string, ndjson: Buffer): Promise<void>;
  /**
   * A SELECT's JSONEachRow bytes in chunks (not aligned to rows), for results too large to hold
   * as objects (exports). ClickHouse over HTTP streams as the server sends; chDB answers the
   * whole result and then yields it in slices — a chDB stream holds the one engine of the process
   * (another call meanwhile breaks it), so callers bound each call (keyset pages) and the sink and
   * the API get the engine between them. `signal` cancels; `format` picks the output format.
   */
  stream(sql: string, params?: QueryParams, opts?: StreamOptions): AsyncIterable<Buffer>;
  close(): Promise<void>;
  readonly kind: 'chdb' | 'http';
}

/**
 * The ClickHouse error code behind a store failure, if the engine answered with one: both stores
 * keep the engine's error as the cause (chDB's `clickhouseCode`, the HTTP client's numeric `code`).
 */
export function clickHouseCode(e: unknown): number | undefined {
  for (let c: unknown = e, depth = 0; typeof c === 'object' && c !== null && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const { clickhouseCode, code } = c as { clickhouseCode?: unknown; code?: unknown };
    if (typeof clickhouseCode === 'number') return clickhouseCode;
    if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  }
  return undefined;
}

/** ClickHouse's MEMORY_LIMIT_EXCEEDED: a query went past its max_memory_usage. */
export const MEMORY_LIMIT_EXCEEDED = 241;
