// The narrow interface every ClickHouse backend implements: embedded chDB and ClickHouse over
// HTTP (@clickhouse/client). One SQL dialect; every value is a `{name:Type}` bound parameter.

export type QueryParams = Record<string, unknown>;

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
  close(): Promise<void>;
  readonly kind: 'chdb' | 'http';
}
