// The two export formats, as pure encoders of a ScaiVault `logs[]` entry (the exact object
// GET /v1/audit/logs returns, built by the API's own mapping toScaiVaultLog): JSONL and CSV.
// No I/O here; processors/export/part-writer.ts streams their output into numbered parts.
import type { toScaiVaultLog } from '../../api/scaivault/scaivault-log.ts';

export type ExportFormat = 'jsonl' | 'csv';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['jsonl', 'csv'];

/** What the export writes per record: `toScaiVaultLog(row)`, the API's mapping, not a copy of it. */
export type ScaiVaultLogEntry = ReturnType<typeof toScaiVaultLog>;

export interface EntryEncoder {
  readonly format: ExportFormat;
  /** Written at the start of every part (CSV: the header row), so each part stands alone. */
  readonly header: string;
  /** One record, line end included. */
  line(entry: ScaiVaultLogEntry): string;
}

/**
 * JSON Lines: each line is exactly the JSON the API sends for the entry (its serializer is
 * `JSON.stringify`, api/service/openapi.ts), ended by LF.
 */
export const jsonlEncoder: EntryEncoder = {
  format: 'jsonl',
  header: '',
  line: (entry) => `${JSON.stringify(entry)}\n`,
};

/** The CSV columns: the `logs[]` entry's fields in the document's order (scaivault-audit-logs-api.txt). */
export const CSV_COLUMNS = [
  'id', 'timestamp', 'action', 'identity_type', 'identity_id', 'secret_path',
  'source_ip', 'user_agent', 'success', 'duration_ms', 'request_id', 'extra_data',
] as const;

/** Columns always written as JSON text, whatever the value's type (so `JSON.parse` reads every cell back). */
const JSON_COLUMNS: ReadonlySet<string> = new Set(['extra_data']);

// NOTE: OWASP's CSV-injection triggers are = + - @ tab CR at the start of a cell. A leading run of
// `'` before one of them counts too, so that the rule can be undone without ambiguity: a string
// cell matching /^'+[=+\-@\t\r]/ had exactly one `'` added (a value like "'=x" becomes "''=x").
const FORMULA_START = /^'*[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;
const QUOTE = /"/g;

const quoted = (s: string): string => `"${s.replace(QUOTE, '""')}"`;

/** A string cell: formula-looking text neutralised (prefixed `'`, always quoted), RFC 4180 quoting otherwise. */
export function csvTextCell(s: string): string {
  if (s === '') return '""'; // quoted, so an empty string stays distinct from null (an empty field)
  if (FORMULA_START.test(s)) return quoted(`'${s}`);
  return NEEDS_QUOTES.test(s) ? quoted(s) : s;
}

function jsonCell(v: unknown): string {
  const text = JSON.stringify(v);
  return NEEDS_QUOTES.test(text) ? quoted(text) : text;
}

/**
 * One value as a CSV field. null → empty field; booleans `true`/`false`; numbers as JSON writes
 * them (a non-finite number is JSON's null, so empty). Numbers are never neutralised: JSON's
 * number text (`-12`, `1.5e-7`) is a constant to a spreadsheet, not a formula. Objects and arrays
 * are JSON text.
 */
function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  switch (typeof v) {
    case 'string':
      return csvTextCell(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : '';
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      return jsonCell(v);
  }
}

/** RFC 4180: a header row, CRLF after every record (the last included), fields in CSV_COLUMNS order. */
export const csvEncoder: EntryEncoder = {
  format: 'csv',
  header: `${CSV_COLUMNS.join(',')}\r\n`,
  line(entry) {
    let out = '';
    for (let i = 0; i < CSV_COLUMNS.length; i++) {
      const col = CSV_COLUMNS[i] as string;
      const v = entry[col];
      if (i > 0) out += ',';
      out += JSON_COLUMNS.has(col) ? (v === null || v === undefined ? '' : jsonCell(v)) : csvCell(v);
    }
    return `${out}\r\n`;
  },
};

export function encoderFor(format: ExportFormat): EntryEncoder {
  return format === 'csv' ? csvEncoder : jsonlEncoder;
}
