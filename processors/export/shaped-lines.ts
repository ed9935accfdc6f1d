// The export's lines, shaped by ClickHouse: one String per row that is byte for byte what the JS
// path writes (export-formats.ts over toScaiVaultLog, i.e. exactly the /v1/audit/logs entry), read
// as TabSeparatedRaw and passed through to the part — no JSON.parse / stringify per row.
//
// Exactness is proved row by row in SQL, conservatively. A row the SQL cannot vouch for is
// written as a marker line (FALLBACK_MARK, its seq) and the exporter maps it in JS, as the API
// does (export-pages.ts). Where ClickHouse and JSON.stringify differ (measured on 26.x):
// - toJSONString writes \u000B…\u001F in upper-case hex (JS: lower case) and escapes U+2028/2029
//   (JS does not); `/` only with output_format_json_escape_forward_slashes=0 (pinned below);
// - invalid UTF-8 passes through raw (the API decodes it to U+FFFD);
// - `details` is spliced raw, so it must be exactly what JSON.stringify(JSON.parse(details))
//   gives back: no whitespace, strings escaped as JS escapes them, numbers as JS prints them, no
//   array-index keys (JS moves them first), no duplicate keys (JS keeps the last) — else fallback;
//   '' is the one invalid text taken here (parseDetails → {}), any other non-JSON falls back.
// CSV (RFC 4180 + the formula rule of export-formats.ts) needs no JSON escaping; a raw LF or
// FALLBACK_MARK in a text field falls back, so every shaped record is one line.
import type { ExportFormat } from './export-formats.ts';
import type { QueryParams } from '../../infra/store/store.ts';

/** First byte of a line the SQL did not shape; the row's seq follows, as decimal text. */
export const FALLBACK_MARK = 0x01;

// JSON as JSON.stringify writes it (RE2 syntax). A string character: anything but " \ and
// controls, or one of the escapes JS uses (\u00XX only for controls without a short form).
const CH = String.raw`(?:[^"\\\x00-\x1f]|\\["\\bfnrt]|\\u00(?:0[0-7]|0b|0e|0f|1[0-9a-f]))`;
const NON_DIGIT = String.raw`(?:[^"\\\x00-\x1f0-9]|\\["\\bfnrt]|\\u00(?:0[0-7]|0b|0e|0f|1[0-9a-f]))`;
const STRING = `"${CH}*"`;
// A key with a non-digit, so never an array index (JS orders those first).
const KEY = `"(?:${CH}*${NON_DIGIT}${CH}*)?":`;
// Numbers JS prints back unchanged: at most 15 significant digits (exact in a double), fixed
// notation (JS uses it from 1e-6 to 1e21), no trailing fraction zero, no -0.
const NUMBER = String.raw`(?:-?[1-9][0-9]{0,14}|0|-?[1-9][0-9]{0,6}\.[0-9]{0,7}[1-9]|-?0\.0{0,5}[1-9](?:[0-9]{0,7}[1-9])?)`;
const SCALAR = `(?:${STRING}|${NUMBER}|true|false|null)`;
// Any canonical token stream (no whitespace; a scalar is followed by , ] } or the end, so a
// token cannot be a prefix of a longer one); the structure is checked by isValidJSON.
const CANONICAL_TOKENS = String.raw`^(?:[{\[\]},]|${KEY}|${SCALAR}[\]},]|${SCALAR}$)*$`;
// The common case, a flat object with identifier keys: the pattern is a complete grammar (so no
// isValidJSON), and its keys are exactly the matches of SIMPLE_KEY (none can start inside a value).
const SIMPLE_KEY = '"[A-Za-z_][A-Za-z0-9_]*":';
const FLAT_OBJECT = `^\\{(?:${SIMPLE_KEY}${SCALAR}(?:,${SIMPLE_KEY}${SCALAR})*)?\\}$`;
// Every string token in order (the first quote opens one); keys end with ':'.
const STRING_TOKEN = `("(?:[^"\\\\]|\\\\.)*":?)`;

const distinct = (arr: string) => `length(arrayDistinct(${arr})) = length(${arr})`;

/** `details` is exactly JSON.stringify(JSON.parse(details)). No key appears twice anywhere (conservative: two objects sharing a key fall back). */
const CANONICAL_DETAILS = `if(match(details, {x_flat_object:String}),
  ${distinct('extractAll(details, {x_simple_key:String})')},
  match(details, {x_canonical_tokens:String}) AND isValidJSON(details)
    AND ${distinct("arrayFilter(t -> endsWith(t, ':'), extractAll(details, {x_string_token:String}))")})`;

const MARKER = `concat(char(${FALLBACK_MARK}), toString(seq))`;

/**
 * `line` where the SQL vouches for it, else the marker. Checked on the line itself (the same
 * expression, computed once): invalid UTF-8 anywhere in the row is invalid in it, and `differs`
 * finds what must not be in it.
 */
const vouched = (line: string, differs: string) =>
  `if(isValidUTF8(${line}) AND NOT match(${line}, {${differs}:String}) AND (details = '' OR ${CANONICAL_DETAILS}), ${line}, ${MARKER})`;

const ISO_TIME = "concat(replaceOne(toString(event_time), ' ', 'T'), 'Z')";
const json = (c: string) => `toJSONString(${c})`;
const jsonOrNull = (c: string) => `if(${c} = '', 'null', toJSONString(${c}))`;

// NOTE: one line expression for every row. A cheaper line for rows with nothing to escape, picked
// per row by if(), measured slower: the row-level choice between two whole lines cost more than
// toJSONString saved.
/** The `logs[]` entry in the API's key order (toScaiVaultLog): JSONL. */
const JSONL_LINE = `concat('{"id":', ${json('id')}, ',"timestamp":"', ${ISO_TIME}, '","action":', ${json('action')},
  ',"identity_type":', ${jsonOrNull('actor_type')}, ',"identity_id":', ${jsonOrNull('actor_id')},
  ',"secret_path":', ${jsonOrNull('resource_path')}, ',"source_ip":', ${jsonOrNull('source_ip')},
  ',"user_agent":', ${jsonOrNull('user_agent')}, ',"success":', if(success, 'true', 'false'),
  ',"duration_ms":', ifNull(toString(duration_ms), 'null'), ',"request_id":', ${jsonOrNull('request_id')},
  ',"extra_data":', if(details = '', '{}', details), '}')`;

// csvTextCell: '' → "", formula-looking → "'…" quoted, RFC 4180 quoting, else as it is.
const quoted = (c: string) => `concat('"', replaceAll(${c}, '"', '""'), '"')`;
const textCell = (c: string) => `multiIf(${c} = '', '""', match(${c}, {x_formula:String}), concat('"''', replaceAll(${c}, '"', '""'), '"'), match(${c}, {x_needs_quotes:String}), ${quoted(c)}, ${c})`;
const nullableCell = (c: string) => `if(${c} = '', '', ${textCell(c)})`;
/** The same fields in CSV_COLUMNS order, CR before the row's LF (CRLF). extra_data: JSON text; JSON null → empty. */
const CSV_LINE = `concat(${textCell('id')}, ',', ${ISO_TIME}, ',', ${textCell('action')}, ',', ${nullableCell('actor_type')}, ',',
  ${nullableCell('actor_id')}, ',', ${nullableCell('resource_path')}, ',', ${nullableCell('source_ip')}, ',', ${nullableCell('user_agent')}, ',',
  if(success, 'true', 'false'), ',', ifNull(toString(duration_ms), ''), ',', ${nullableCell('request_id')}, ',',
  multiIf(details = '', '{}', details = 'null', '', match(details, {x_needs_quotes:String}), ${quoted('details')}, details), '\\r')`;

/** The patterns, bound as parameters (they are values to the SQL, and this spares escaping them twice). */
export const SHAPED_LINE_PARAMS: QueryParams = {
  x_flat_object: FLAT_OBJECT,
  x_simple_key: SIMPLE_KEY,
  x_canonical_tokens: CANONICAL_TOKENS,
  x_string_token: STRING_TOKEN,
  // In a JSONL line: an escape toJSONString writes where JSON.stringify writes otherwise (also
  // matches that text inside an escaped string or canonical details: those rows fall back too).
  x_json_differs: String.raw`\\u(?:00(?:0[BEF]|1[A-F])|202[89])`,
  // In a CSV line: what would break one line per record, or pass for a marker.
  x_csv_breaks: String.raw`[\n\x01]`,
  x_formula: String.raw`^'*[=+\-@\t\r]`,
  x_needs_quotes: String.raw`[",\r\n]`,
};

/** The one column an export page selects: the shaped line, or FALLBACK_MARK and the seq. */
export function shapedLineColumn(format: ExportFormat): string {
  return `${format === 'csv' ? vouched(CSV_LINE, 'x_csv_breaks') : vouched(JSONL_LINE, 'x_json_differs')} AS line`;
}

/**
 * Settings of an export page query, in its SETTINGS clause so both stores apply them. The output
 * shape: `/` unescaped (as JSON.stringify), LF row ends.
 */
export const SHAPED_LINE_SETTINGS = 'output_format_json_escape_forward_slashes = 0, output_format_tsv_crlf_end_of_line = 0';
