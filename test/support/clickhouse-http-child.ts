// A ClickHouse HTTP interface over one embedded chDB session, for tests: @clickhouse/client and
// multi-process topologies run against the real engine without a ClickHouse server.
// Started by clickhouse-http-server.ts as its own process (chDB allows one engine per process and
// one process per data directory). Listens on 127.0.0.1:<free port> and prints
// {"port":N,"pid":N} as its first stdout line. Exits on SIGTERM/SIGINT, and when its stdin closes
// (the parent died).
//
// What it speaks (the subset of https://clickhouse.com/docs/interfaces/http the clients use):
// - GET/POST `/` with the query in the `query` URL parameter and/or the body (ClickHouse joins
//   them with '\n'); `INSERT … FORMAT X` followed by data inserts the data as a raw payload.
// - `param_<name>` URL parameters (or multipart/form-data fields), in ClickHouse's escaped text
//   format, bound server-side to `{name:Type}` placeholders exactly as sent.
// - `default_format` / `X-ClickHouse-Format` (default TabSeparated), or a FORMAT clause.
// - `database` / `X-ClickHouse-Database`, `query_id`, any ClickHouse setting as a URL parameter
//   (applied for that request only; an unknown one is UNKNOWN_SETTING, as on a server).
// - gzip/deflate/br request bodies (Content-Encoding); compressed responses when
//   enable_http_compression=1 and Accept-Encoding allows it.
// - `/ping` and `/replicas_status` → "Ok.\n"; GET is read-only (readonly=2 semantics).
// - errors as the server sends them: status from the error code, X-ClickHouse-Exception-Code,
//   body `Code: N. DB::Exception: message (NAME) (version V)`.
// Deliberate differences from a server: `session_id` is ignored (every request shares the one
// engine session, settings are reset after each request); `SET` and `USE` statements without a
// session have no lasting effect on a server, so here they are accepted and do nothing; native
// ClickHouse compression (`compress=1`/`decompress=1`) is NOT_IMPLEMENTED; credentials are not
// checked; results are buffered (as with wait_end_of_query=1).
import http from 'node:http';
import zlib from 'node:zlib';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Session } from 'chdb';

// ---------------------------------------------------------------------------------------------
// chDB access. Query parameters arrive already in ClickHouse's escaped text format (that is what
// `param_x` carries on the wire). chDB's public queryBindAsync takes *JS values* and escapes
// strings itself (tsvEscape), which would double-escape e.g. `['a','b\'c']` for an Array(String)
// placeholder. So parameters go to the native binding chDB's own queryBindAsync calls, with the
// wire values untouched — the engine parses them by the placeholder's type, as a server does.
interface NativeResult {
  bytes: Buffer;
  elapsed: number;
  rowsRead: number;
  bytesRead: number;
}
interface ChdbNative {
  QueryAsyncConnection(conn: unknown, sql: string, format: string, params?: Record<string, string>): Promise<NativeResult>;
  InsertRawAsyncConnection(conn: unknown, prefix: string, data: Buffer, countLines: boolean): Promise<{ rowsWritten: number; bytesWritten: number; elapsed: number }>;
}
function loadNative(): ChdbNative {
  const req = createRequire(import.meta.url);
  const chdbMain = req.resolve('chdb');
  // The same cached module chDB's index.js loaded (require cache is keyed by resolved path).
  const loader = req(path.join(path.dirname(chdbMain), 'dist', 'loader.js')) as { loadNative(): ChdbNative };
  return loader.loadNative();
}

// ---------------------------------------------------------------------------------------------
// Errors, shaped like the server's.
class ChError extends Error {
  constructor(
    readonly code: number,
    readonly errorName: string,
    message: string,
  ) {
    super(message);
  }
}

// src/Server/HTTP/exceptionCodeToHTTPStatus.cpp (ClickHouse), by error name.
const STATUS_BY_NAME: Record<string, number> = {};
for (const n of ['REQUIRED_PASSWORD']) STATUS_BY_NAME[n] = 401;
for (const n of ['UNKNOWN_USER', 'WRONG_PASSWORD', 'AUTHENTICATION_FAILED', 'SET_NON_GRANTED_ROLE', 'ACCESS_DENIED']) STATUS_BY_NAME[n] = 403;
for (const n of [
  'BAD_ARGUMENTS', 'CANNOT_COMPILE_REGEXP', 'CANNOT_PARSE_TEXT', 'CANNOT_PARSE_ESCAPE_SEQUENCE', 'CANNOT_PARSE_QUOTED_STRING',
  'CANNOT_PARSE_DATE', 'CANNOT_PARSE_DATETIME', 'CANNOT_PARSE_NUMBER', 'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING', 'CANNOT_PARSE_IPV4',
  'CANNOT_PARSE_IPV6', 'CANNOT_PARSE_INPUT_ASSERTION_FAILED', 'CANNOT_PARSE_UUID', 'DUPLICATE_COLUMN', 'ILLEGAL_COLUMN',
  'UNKNOWN_ELEMENT_IN_AST', 'UNKNOWN_TYPE_OF_AST_NODE', 'THERE_IS_NO_COLUMN', 'TOO_DEEP_AST', 'TOO_BIG_AST', 'UNEXPECTED_AST_STRUCTURE',
  'SYNTAX_ERROR', 'INCORRECT_DATA', 'TYPE_MISMATCH', 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
]) STATUS_BY_NAME[n] = 400;
for (const n of [
  'UNKNOWN_TABLE', 'UNKNOWN_FUNCTION', 'UNKNOWN_IDENTIFIER', 'UNKNOWN_TYPE', 'UNKNOWN_STORAGE', 'UNKNOWN_DATABASE', 'UNKNOWN_SETTING',
  'UNKNOWN_DIRECTION_OF_SORTING', 'UNKNOWN_AGGREGATE_FUNCTION', 'UNKNOWN_FORMAT', 'UNKNOWN_DATABASE_ENGINE', 'UNKNOWN_TYPE_OF_QUERY', 'UNKNOWN_ROLE',
]) STATUS_BY_NAME[n] = 404;
STATUS_BY_NAME.QUERY_IS_TOO_LARGE = 413;
STATUS_BY_NAME.NOT_IMPLEMENTED = 501;
STATUS_BY_NAME.SOCKET_TIMEOUT = 503;
STATUS_BY_NAME.CANNOT_OPEN_FILE = 503;
STATUS_BY_NAME.CANNOT_SCHEDULE_TASK = 503;
STATUS_BY_NAME.HTTP_LENGTH_REQUIRED = 411;
STATUS_BY_NAME.TIMEOUT_EXCEEDED = 408;
STATUS_BY_NAME.UNSUPPORTED_MEDIA_TYPE = 415;

// ---------------------------------------------------------------------------------------------
// SQL scanning: just enough lexing to find statement boundaries, the statement kind and where the
// inline data of an `INSERT … FORMAT X` starts. Text is scanned as latin1 so offsets are bytes.
interface Token {
  kind: 'word' | 'quoted' | 'string' | 'number' | 'symbol';
  text: string;
  start: number;
  end: number;
}
interface Scan {
  tokens: Token[];
  /** byte offset where INSERT … FORMAT X data starts (after the format name), or -1 */
  dataStart: number;
  /** a second statement follows a ';' */
  multiStatement: boolean;
}
function scanSql(sql: string): Scan {
  const tokens: Token[] = [];
  let i = 0;
  const n = sql.length;
  let afterSemicolon = false;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') { i++; continue; }
    if ((c === '-' && next === '-') || c === '#') { while (i < n && sql[i] !== '\n') i++; continue; }
    if (c === '/' && next === '*') { const e = sql.indexOf('*/', i + 2); i = e < 0 ? n : e + 2; continue; }
    if (afterSemicolon) return { tokens, dataStart: -1, multiStatement: true };
    const start = i;
    if (c === "'" || c === '"' || c === '`') {
      i++;
      while (i < n) {
        if (sql[i] === '\\') { i += 2; continue; }
        if (sql[i] === c) { if (sql[i + 1] === c) { i += 2; continue; } i++; break; }
        i++;
      }
      tokens.push({ kind: c === "'" ? 'string' : 'quoted', text: sql.slice(start, i), start, end: i });
    } else if (/[A-Za-z_]/.test(c)) {
      while (i < n && /[A-Za-z0-9_$]/.test(sql[i]!)) i++;
      tokens.push({ kind: 'word', text: sql.slice(start, i), start, end: i });
    } else if (/[0-9]/.test(c)) {
      while (i < n && /[0-9A-Za-z_.]/.test(sql[i]!)) i++;
      tokens.push({ kind: 'number', text: sql.slice(start, i), start, end: i });
    } else {
      i++;
      if (c === ';') { afterSemicolon = true; continue; }
      tokens.push({ kind: 'symbol', text: c, start, end: i });
    }
    // INSERT … FORMAT <name>: everything after the name is data, not SQL.
    const t = tokens.length;
    if (
      t >= 3 && tokens[0]!.kind === 'word' && tokens[0]!.text.toUpperCase() === 'INSERT' &&
      tokens[t - 1]!.kind === 'word' && tokens[t - 2]!.kind === 'word' && tokens[t - 2]!.text.toUpperCase() === 'FORMAT'
    ) {
      return { tokens, dataStart: i, multiStatement: false };
    }
  }
  return { tokens, dataStart: -1, multiStatement: false };
}

const READ_ONLY_KINDS = new Set(['SELECT', 'WITH', 'SHOW', 'DESC', 'DESCRIBE', 'EXISTS', 'EXPLAIN', '(']);

/** `INSERT INTO [TABLE] name [(c1, c2)] FORMAT F` in the shape chDB's session.insert expresses. */
function simpleInsert(tokens: Token[]): { table: string; columns?: string[]; format: string } | undefined {
  const up = (k: number) => tokens[k]?.text.toUpperCase();
  let k = 0;
  if (up(k++) !== 'INSERT' || up(k++) !== 'INTO') return undefined;
  if (up(k) === 'TABLE') k++;
  const ident = /^[A-Za-z0-9_]+$/;
  let table = tokens[k++]?.text ?? '';
  if (!ident.test(table)) return undefined;
  if (tokens[k]?.text === '.') { const t2 = tokens[k + 1]?.text ?? ''; if (!ident.test(t2)) return undefined; table += `.${t2}`; k += 2; }
  let columns: string[] | undefined;
  if (tokens[k]?.text === '(') {
    columns = [];
    k++;
    for (;;) {
      const c = tokens[k++]?.text ?? '';
      if (!ident.test(c)) return undefined;
      columns.push(c);
      const sep = tokens[k++]?.text;
      if (sep === ')') break;
      if (sep !== ',') return undefined;
    }
  }
  if (up(k++) !== 'FORMAT') return undefined;
  const format = tokens[k++]?.text ?? '';
  if (k !== tokens.length || !RAW_INSERT_FORMATS.has(format)) return undefined;
  return columns ? { table, columns, format } : { table, format };
}
const RAW_INSERT_FORMATS = new Set(['JSONEachRow', 'JSONCompactEachRow', 'CSV', 'CSVWithNames', 'TSV', 'TabSeparated', 'TSVWithNames', 'TabSeparatedWithNames']);

// ---------------------------------------------------------------------------------------------
// URL parameters the HTTP handler consumes itself; everything else except param_* is a setting.
const HANDLER_PARAMS = new Set([
  'query', 'query_id', 'database', 'default_format', 'session_id', 'session_timeout', 'session_check', 'close_session',
  'user', 'password', 'quota_key', 'compress', 'decompress', 'stacktrace', 'wait_end_of_query', 'buffer_size',
  'role', 'client_protocol_version',
]);
// `readonly` cannot be lowered again once set in a session, so it is enforced here, not SET.
const ENFORCED_SETTINGS = new Set(['readonly']);

function sqlString(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function contentTypeFor(format: string): string {
  if (/^JSON(Strings|Compact|CompactStrings|ColumnsWithMetadata)?$/.test(format)) return 'application/json; charset=UTF-8';
  if (/^JSON.*EachRow/.test(format)) return 'application/x-ndjson; charset=UTF-8';
  if (/^(TabSeparated|TSV)/.test(format)) return 'text/tab-separated-values; charset=UTF-8';
  if (/^CSV/.test(format)) return 'text/csv; charset=UTF-8; header=absent';
  return 'text/plain; charset=UTF-8';
}

async function decodeBody(raw: Buffer, encoding: string | undefined): Promise<Buffer> {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity' || raw.length === 0) return raw;
  try {
    if (enc === 'gzip' || enc === 'x-gzip') return await promisify(zlib.gunzip)(raw);
    if (enc === 'deflate') return await promisify(zlib.inflate)(raw);
    if (enc === 'br') return await promisify(zlib.brotliDecompress)(raw);
  } catch (e) {
    throw new ChError(codeOf('CANNOT_DECOMPRESS'), 'CANNOT_DECOMPRESS', `Cannot decompress ${enc} request body: ${(e as Error).message}`);
  }
  throw new ChError(codeOf('UNKNOWN_COMPRESSION_METHOD'), 'UNKNOWN_COMPRESSION_METHOD', `Unknown HTTP compression method: ${enc}`);
}

/** multipart/form-data fields (clickhouse-js sends `query` and `param_*` this way on request). */
function parseMultipart(body: Buffer, contentType: string): Map<string, string> {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const fields = new Map<string, string>();
  if (!m) return fields;
  const boundary = `--${m[1] ?? m[2]}`;
  const text = body.toString('utf8');
  for (const part of text.split(boundary).slice(1)) {
    if (part.startsWith('--')) break;
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const name = /name="([^"]*)"/i.exec(part.slice(0, headerEnd))?.[1];
    if (name === undefined) continue;
    let value = part.slice(headerEnd + 4);
    if (value.endsWith('\r\n')) value = value.slice(0, -2);
    fields.set(name, value);
  }
  return fields;
}

function readRequest(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// Engine state, set up in main().
let session: Session;
let native: ChdbNative;
let engineVersion = '';
let serverTimezone = 'UTC';
const baselineSettings = new Map<string, string>();
const errorCodes = new Map<string, number>();
function codeOf(name: string): number {
  return errorCodes.get(name) ?? 1001; // STD_EXCEPTION if the engine does not know the name
}

// chDB runs one call at a time per process; requests are serialised here too, which also keeps
// a request's per-request settings from leaking into another's.
let tail: Promise<unknown> = Promise.resolve();
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = tail.then(fn, fn);
  tail = run.catch(() => undefined);
  return run;
}

function toChError(e: unknown): ChError {
  if (e instanceof ChError) return e;
  const err = e as { message?: unknown; clickhouseCode?: unknown };
  const message = String(err?.message ?? e);
  const code = typeof err?.clickhouseCode === 'number' ? err.clickhouseCode : Number(/^Code: (\d+)\./.exec(message)?.[1] ?? NaN);
  if (Number.isFinite(code)) {
    const name = /\(([A-Z][A-Z0-9_]+)\)(?: \(version [^)]*\))?\.?\s*$/.exec(message.trim())?.[1] ?? [...errorCodes].find(([, c]) => c === code)?.[0] ?? 'UNKNOWN_EXCEPTION';
    const ce = new ChError(code, name, message);
    (ce as { engineText?: string }).engineText = message;
    return ce;
  }
  // chDB client-side validation (e.g. an invalid identifier in session.insert) — bad arguments.
  return new ChError(codeOf('BAD_ARGUMENTS'), 'BAD_ARGUMENTS', message);
}

function errorBody(e: ChError): string {
  const engineText = (e as { engineText?: string }).engineText;
  if (engineText !== undefined) {
    const t = engineText.trimEnd();
    return `${/\(version [^)]*\)\.?$/.test(t) ? t : `${t} (version ${engineVersion})`}\n`;
  }
  return `Code: ${e.code}. DB::Exception: ${e.message}. (${e.errorName}) (version ${engineVersion})\n`;
}

interface Outcome {
  body: Buffer;
  format: string;
  summary: Record<string, string>;
}

async function execute(req: http.IncomingMessage, url: URL, rawBody: Buffer): Promise<Outcome> {
  const params = new Map<string, string>();
  for (const [k, v] of url.searchParams) params.set(k, v);
  let body = await decodeBody(rawBody, req.headers['content-encoding'] as string | undefined);
  const contentType = String(req.headers['content-type'] ?? '');
  if (/^multipart\/form-data/i.test(contentType)) {
    for (const [k, v] of parseMultipart(body, contentType)) if (k === 'query' || k.startsWith('param_')) params.set(k, v);
    body = Buffer.alloc(0);
  }
  if (params.get('compress') === '1' || params.get('decompress') === '1') {
    throw new ChError(codeOf('NOT_IMPLEMENTED'), 'NOT_IMPLEMENTED', 'ClickHouse native compression (compress=1/decompress=1) is not implemented by this test endpoint');
  }

  const queryParam = params.get('query') ?? '';
  const full = queryParam.length > 0 && body.length > 0 ? Buffer.concat([Buffer.from(`${queryParam}\n`), body]) : queryParam.length > 0 ? Buffer.from(queryParam) : body;
  const scan = scanSql(full.toString('latin1'));
  if (scan.tokens.length === 0) throw new ChError(codeOf('SYNTAX_ERROR'), 'SYNTAX_ERROR', 'Empty query');
  if (scan.multiStatement) throw new ChError(codeOf('SYNTAX_ERROR'), 'SYNTAX_ERROR', 'Multi-statements are not allowed');
  const kind = scan.tokens[0]!.text.toUpperCase();

  // Settings and handler parameters.
  const settings = new Map<string, string>();
  const bound: Record<string, string> = {};
  let readonly = req.method === 'GET' ? 2 : 0;
  for (const [k, v] of params) {
    if (k.startsWith('param_')) { bound[k.slice(6)] = v; continue; }
    if (HANDLER_PARAMS.has(k)) continue;
    if (!baselineSettings.has(k)) {
      throw new ChError(codeOf('UNKNOWN_SETTING'), 'UNKNOWN_SETTING', `Setting ${k} is neither a builtin setting nor started with the prefix 'custom_' registered for user-defined settings`);
    }
    if (ENFORCED_SETTINGS.has(k)) { readonly = Math.max(readonly, Number(v) || 0); continue; }
    if (v !== baselineSettings.get(k)) settings.set(k, v);
  }
  if (readonly > 0 && !READ_ONLY_KINDS.has(kind)) {
    throw new ChError(codeOf('READONLY'), 'READONLY', 'default: Cannot execute query in readonly mode');
  }
  const defaultFormat = params.get('default_format') ?? (req.headers['x-clickhouse-format'] as string | undefined) ?? 'TabSeparated';
  const database = params.get('database') ?? (req.headers['x-clickhouse-database'] as string | undefined) ?? 'default';

  // The output format: a trailing FORMAT clause wins over the default (the engine applies it).
  const t = scan.tokens;
  const last = t[t.length - 1];
  const beforeLast = t[t.length - 2];
  const format = scan.dataStart < 0 && kind !== 'INSERT' && last?.kind === 'word' && beforeLast?.text.toUpperCase() === 'FORMAT' ? last.text : defaultFormat;

  const summary = (readRows: number, readBytes: number, writtenRows: number, writtenBytes: number, resultBytes: number, elapsedS: number) => ({
    read_rows: String(readRows), read_bytes: String(readBytes), written_rows: String(writtenRows), written_bytes: String(writtenBytes),
    total_rows_to_read: String(readRows), result_rows: '0', result_bytes: String(resultBytes), elapsed_ns: String(Math.round(elapsedS * 1e9)),
  });

  // Statements that only change session state have no lasting effect without a session.
  if (kind === 'SET' || kind === 'USE') return { body: Buffer.alloc(0), format, summary: summary(0, 0, 0, 0, 0, 0) };

  return exclusive(async () => {
    const conn = session.connection;
    const restore: string[] = [];
    try {
      if (database !== 'default') {
        await native.QueryAsyncConnection(conn, `USE ${/^[A-Za-z0-9_]+$/.test(database) ? database : `\`${database.replace(/[`\\]/g, '\\$&')}\``}`, 'TabSeparated');
        restore.push('USE default');
      }
      if (settings.size > 0) {
        const names = [...settings.keys()];
        restore.push(`SET ${names.map((k) => `${k} = ${sqlString(baselineSettings.get(k) ?? '')}`).join(', ')}`);
        await native.QueryAsyncConnection(conn, `SET ${names.map((k) => `${k} = ${sqlString(settings.get(k) ?? '')}`).join(', ')}`, 'TabSeparated');
      }
      if (scan.dataStart >= 0) {
        // INSERT … FORMAT X <data>: the data stays a raw payload handed to the engine's parser.
        let dataStart = scan.dataStart;
        while (full[dataStart] === 0x20 || full[dataStart] === 0x09) dataStart++;
        if (full[dataStart] === 0x0d) dataStart++;
        if (full[dataStart] === 0x0a) dataStart++;
        const data = full.subarray(dataStart);
        const prefix = full.subarray(0, scan.dataStart).toString('utf8');
        if (data.length === 0) throw new ChError(codeOf('NO_DATA_TO_INSERT'), 'NO_DATA_TO_INSERT', 'No data to insert');
        const simple = simpleInsert(scanSql(prefix).tokens);
        const r = simple
          ? await session.insert({ ...simple, values: data, format: simple.format as 'JSONEachRow' })
          : await native.InsertRawAsyncConnection(conn, prefix, data, true);
        return { body: Buffer.alloc(0), format, summary: summary(0, 0, r.rowsWritten, r.bytesWritten, 0, r.elapsed) };
      }
      const sql = full.toString('utf8');
      const r = await native.QueryAsyncConnection(conn, sql, format, bound);
      const out = Buffer.from(r.bytes);
      return { body: out, format, summary: summary(r.rowsRead, r.bytesRead, 0, 0, out.length, r.elapsed) };
    } finally {
      for (const stmt of restore.reverse()) {
        try {
          await native.QueryAsyncConnection(conn, stmt, 'TabSeparated');
        } catch (e) {
          process.stderr.write(`clickhouse-http-child: cannot restore session state (${stmt}): ${(e as Error).message}\n`);
        }
      }
    }
  });
}

function pickEncoding(acceptEncoding: string | undefined): 'gzip' | 'deflate' | 'br' | undefined {
  const accepted = (acceptEncoding ?? '').toLowerCase().split(',').map((s) => s.split(';')[0]!.trim());
  for (const enc of ['gzip', 'br', 'deflate'] as const) if (accepted.includes(enc)) return enc;
  return undefined;
}

async function compress(body: Buffer, enc: 'gzip' | 'deflate' | 'br', level: number): Promise<Buffer> {
  if (enc === 'gzip') return promisify(zlib.gzip)(body, { level });
  if (enc === 'deflate') return promisify(zlib.deflate)(body, { level });
  return promisify(zlib.brotliCompress)(body);
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const rawBody = await readRequest(req);
  const queryId = url.searchParams.get('query_id') || randomUUID();
  const common: Record<string, string> = {
    'X-ClickHouse-Server-Display-Name': 'chdb-http',
    'X-ClickHouse-Query-Id': queryId,
    'X-ClickHouse-Timezone': serverTimezone,
  };
  if (url.pathname === '/ping' || url.pathname === '/replicas_status' || (url.pathname === '/' && req.method === 'GET' && !url.searchParams.has('query'))) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' }).end('Ok.\n');
    return;
  }
  if (url.pathname !== '/') {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=UTF-8' }).end(`There is no handle ${url.pathname}\n\nUse / or /ping for health checks.\n`);
    return;
  }

  // Response compression: enable_http_compression (URL or server default) and Accept-Encoding.
  const enableCompression = url.searchParams.get('enable_http_compression') ?? baselineSettings.get('enable_http_compression');
  const enc = enableCompression === '1' || enableCompression === 'true' ? pickEncoding(req.headers['accept-encoding'] as string | undefined) : undefined;
  const level = Number(url.searchParams.get('http_zlib_compression_level') ?? baselineSettings.get('http_zlib_compression_level') ?? 3);
  const send = async (status: number, headers: Record<string, string>, body: Buffer) => {
    const payload = enc && body.length > 0 ? await compress(body, enc, level) : body;
    res.writeHead(status, { ...common, ...headers, ...(enc && body.length > 0 ? { 'Content-Encoding': enc } : {}), 'Content-Length': String(payload.length) });
    res.end(payload);
  };

  try {
    if (req.method !== 'GET' && req.method !== 'POST') {
      throw new ChError(codeOf('NOT_IMPLEMENTED'), 'NOT_IMPLEMENTED', `HTTP method ${req.method ?? ''} is not supported`);
    }
    const out = await execute(req, url, rawBody);
    await send(200, {
      'Content-Type': contentTypeFor(out.format),
      'X-ClickHouse-Format': out.format,
      'X-ClickHouse-Summary': JSON.stringify(out.summary),
    }, out.body);
  } catch (e) {
    const ce = toChError(e);
    await send(STATUS_BY_NAME[ce.errorName] ?? 500, {
      'Content-Type': 'text/plain; charset=UTF-8',
      'X-ClickHouse-Exception-Code': String(ce.code),
    }, Buffer.from(errorBody(ce)));
  }
}

async function main(): Promise<void> {
  const dataDir = process.env.CHHTTP_DATA_DIR;
  if (!dataDir) throw new Error('CHHTTP_DATA_DIR is required');
  const serverSettings = JSON.parse(process.env.CHHTTP_SERVER_SETTINGS ?? '{}') as Record<string, string | number>;
  session = new Session(dataDir, { connectionArgs: Object.entries(serverSettings).map(([k, v]) => `--${k}=${v}`) });
  native = loadNative();
  const q = async (sql: string) => (await native.QueryAsyncConnection(session.connection, sql, 'JSONEachRow')).bytes.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);
  for (const r of await q('SELECT name, value FROM system.settings')) baselineSettings.set(String(r.name), String(r.value));
  for (const r of await q("SELECT toUInt32(number) AS code, errorCodeToName(number) AS name FROM numbers(2000) WHERE name != ''")) errorCodes.set(String(r.name), Number(r.code));
  const [info] = await q('SELECT version() AS v, serverTimezone() AS tz');
  engineVersion = String(info?.v ?? '');
  serverTimezone = String(info?.tz ?? 'UTC').replace(/^Etc\//, '');

  const server = http.createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      process.stderr.write(`clickhouse-http-child: ${(e as Error).stack ?? String(e)}\n`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 10_000;

  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeAllConnections();
    // Let in-flight engine calls finish before the session goes.
    void tail.then(() => {
      session.close();
      process.exit(0);
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // The parent holds our stdin open; when it dies, stdin ends and so do we.
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();

  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    process.stdout.write(`${JSON.stringify({ port, pid: process.pid })}\n`);
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`clickhouse-http-child: failed to start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
