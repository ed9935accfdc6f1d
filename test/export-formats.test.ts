// The export formats: JSONL lines are the API's entries byte for byte; CSV read back by a real
// RFC 4180 parser (csv-parse) gives back every value, with formula-looking text neutralised.
import { describe, it, expect } from 'vitest';
import Fastify from 'fastify';
import { parse } from 'csv-parse/sync';
import { toScaiVaultLog, type LogRow } from '../api/scaivault/scaivault-log.ts';
import { scaiVaultLogEntrySchema } from '../api/scaivault/audit-logs.ts';
import { documentationOnly } from '../api/service/openapi.ts';
import { CSV_COLUMNS, csvEncoder, jsonlEncoder, type ScaiVaultLogEntry } from '../processors/export/export-formats.ts';

const row = (over: Partial<LogRow> = {}): LogRow => ({
  seq: 1, id: 'aud_1', event_time: '2026-04-23 10:00:00.123', action: 'read', actor_type: 'service_account',
  actor_id: 'sa:reporting', resource_path: 'integrations/salesforce/oauth', source_ip: '10.0.1.50',
  user_agent: 'scaivault-python/1.0', success: true, duration_ms: 12, request_id: 'req_xyz', details: '{}', ...over,
});

/** Stored rows covering what a CSV must survive: separators, quotes, line breaks, unicode, nesting, nulls, booleans. */
const ROWS: LogRow[] = [
  row(),
  row({ id: 'aud_2', actor_id: 'a,b', resource_path: 'say "hi", then\nleave', user_agent: 'crlf\r\ninside', success: false, duration_ms: null }),
  row({ id: 'aud_3', actor_id: 'Zürich — 東京 🚀', resource_path: 'ñ/é/ü', details: JSON.stringify({ a: [1, { b: 'x,"y"\n' }], n: null, t: true, u: '東京' }) }),
  row({ id: 'aud_4', actor_type: '', actor_id: '', resource_path: '', source_ip: '', user_agent: '', request_id: '', success: 0, duration_ms: 0 }),
  row({ id: 'aud_5', details: 'not json', success: 1, duration_ms: 4294967295 }),
  row({ id: 'aud_6', details: '[1,"two",null]' }),
  row({ id: 'aud_7', details: '"=HYPERLINK(\\"http://evil\\")"' }), // extra_data a JSON string: JSON text, never a formula
  row({ id: 'aud_8', details: '-1' }),
  row({ id: 'aud_9', details: 'null' }),
];
const ENTRIES: ScaiVaultLogEntry[] = ROWS.map(toScaiVaultLog);

const TRIGGERS = ['=', '+', '-', '@', '\t', '\r'];
const FORMULA = /^'+[=+\-@\t\r]/;

/** Reads our CSV back with csv-parse: strict RFC 4180 (CRLF records, strict quotes), typed by column. */
function readCsv(text: string): Record<string, unknown>[] {
  return parse(text, {
    columns: true,
    record_delimiter: '\r\n',
    cast: (value, ctx) => {
      if (ctx.header) return value;
      if (value === '' && !ctx.quoting) return null; // an unquoted empty field is null; `""` is the empty string
      switch (ctx.column) {
        case 'extra_data': return JSON.parse(value);
        case 'success': return value === 'true' ? true : value === 'false' ? false : `bad boolean ${value}`;
        case 'duration_ms': return /^-?\d+$/.test(value) ? Number(value) : `bad number ${value}`;
        default: return FORMULA.test(value) ? value.slice(1) : value; // undo the neutralisation
      }
    },
  }) as Record<string, unknown>[];
}

const csvOf = (entries: ScaiVaultLogEntry[]): string => csvEncoder.header + entries.map((e) => csvEncoder.line(e)).join('');
/** The cells of a single-record CSV as written (its second line, split naively: only for cells without separators). */
const rawCells = (entry: ScaiVaultLogEntry): string[] => csvEncoder.line(entry).slice(0, -2).split(',');

describe('JSONL', () => {
  it('writes each entry as exactly the JSON GET /v1/audit/logs sends for it, one per LF-ended line', async () => {
    const lines = ENTRIES.map((e) => jsonlEncoder.line(e));
    for (const [i, line] of lines.entries()) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toContain('\n');
      expect(JSON.parse(line)).toEqual(ENTRIES[i]);
    }
    // The API's own serializer (documentationOnly) over the body audit-logs.ts builds: the same bytes.
    const app = Fastify();
    documentationOnly(app);
    app.get('/logs', { schema: { response: { 200: { type: 'object' } } } }, async () => ({ logs: ENTRIES, cursor: null, has_more: false }));
    const res = await app.inject({ method: 'GET', url: '/logs' });
    await app.close();
    expect(res.body).toBe(`{"logs":[${lines.map((l) => l.slice(0, -1)).join(',')}],"cursor":null,"has_more":false}`);
    expect(jsonlEncoder.header).toBe('');
  });
});

describe('CSV', () => {
  it("has the entry's fields in the document's order as its columns", () => {
    expect([...CSV_COLUMNS]).toEqual(Object.keys(ENTRIES[0] as object));
    expect([...CSV_COLUMNS]).toEqual([...scaiVaultLogEntrySchema.required]);
    expect(csvEncoder.header).toBe('id,timestamp,action,identity_type,identity_id,secret_path,source_ip,user_agent,success,duration_ms,request_id,extra_data\r\n');
  });

  it('round-trips every value through csv-parse: commas, quotes, line breaks, unicode, nested JSON, nulls, booleans', () => {
    const text = csvOf(ENTRIES);
    expect(text.endsWith('\r\n')).toBe(true);
    const back = readCsv(text);
    expect(back).toEqual(ENTRIES);
    expect(Object.keys(back[0] as object)).toEqual([...CSV_COLUMNS]);
  });

  it('writes the cells as documented', () => {
    const [first, second, , fourth, , sixth, seventh, eighth, ninth] = ENTRIES.map((e) => csvEncoder.line(e));
    expect(first).toBe('aud_1,2026-04-23T10:00:00.123Z,read,service_account,sa:reporting,integrations/salesforce/oauth,10.0.1.50,scaivault-python/1.0,true,12,req_xyz,{}\r\n');
    expect(second).toBe('aud_2,2026-04-23T10:00:00.123Z,read,service_account,"a,b","say ""hi"", then\nleave",10.0.1.50,"crlf\r\ninside",false,,req_xyz,{}\r\n');
    expect(fourth).toBe('aud_4,2026-04-23T10:00:00.123Z,read,,,,,,false,0,,{}\r\n');
    expect(sixth?.endsWith(',"[1,""two"",null]"\r\n')).toBe(true);
    expect(seventh?.endsWith(',"""=HYPERLINK(\\""http://evil\\"")"""\r\n')).toBe(true);
    expect(eighth?.endsWith(',-1\r\n')).toBe(true);
    expect(ninth?.endsWith(',\r\n')).toBe(true);
    // An empty string (not null) is a quoted empty field.
    expect(csvEncoder.line({ ...ENTRIES[0], action: '' } as ScaiVaultLogEntry).startsWith('aud_1,2026-04-23T10:00:00.123Z,"",')).toBe(true);
  });

  it('neutralises formula-looking text for every trigger character, in every string column, and reads back the original', () => {
    const stringColumns = CSV_COLUMNS.filter((c) => typeof ENTRIES[0]?.[c] === 'string');
    expect(stringColumns).toEqual(['id', 'timestamp', 'action', 'identity_type', 'identity_id', 'secret_path', 'source_ip', 'user_agent', 'request_id']);
    const entries: ScaiVaultLogEntry[] = [];
    for (const col of stringColumns) {
      for (const t of TRIGGERS) {
        const value = `${t}1+1`;
        const entry = { ...ENTRIES[0], [col]: value } as ScaiVaultLogEntry;
        const cells = csvEncoder.line(entry).slice(0, -2);
        // The neutralised cell: quoted, `'` first, the rest unchanged (a CR stays inside the quotes).
        expect(cells).toContain(`"'${value}"`);
        entries.push(entry);
      }
    }
    expect(readCsv(csvOf(entries))).toEqual(entries);
  });

  it('neutralises a formula behind leading quotes by one more quote, and leaves other text alone', () => {
    const cases: Array<[string, string]> = [
      ["'=1+1", `"''=1+1"`],
      ["''-2", `"'''-2"`],
      ['=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`],
      ['-5', `"'-5"`], // a negative number held in a string field is text: neutralised, so it changes
      ["'quoted", "'quoted"],
      ['a=b', 'a=b'],
      [' =1', ' =1'],
      ['1-2', '1-2'],
    ];
    for (const [value, cell] of cases) {
      const cells = rawCells({ ...ENTRIES[0], identity_id: value } as ScaiVaultLogEntry);
      expect(cells[4]).toBe(cell);
    }
    const entries = cases.map(([value]) => ({ ...ENTRIES[0], identity_id: value }) as ScaiVaultLogEntry);
    expect(readCsv(csvOf(entries))).toEqual(entries);
  });

  it('never neutralises numbers, booleans or JSON: only string cells', () => {
    const negative = { ...ENTRIES[0], duration_ms: -5 } as ScaiVaultLogEntry;
    expect(rawCells(negative)[9]).toBe('-5');
    expect(rawCells({ ...ENTRIES[0], duration_ms: 1.5e-7 } as ScaiVaultLogEntry)[9]).toBe('1.5e-7');
    expect(rawCells({ ...ENTRIES[0], duration_ms: Number.NaN } as ScaiVaultLogEntry)[9]).toBe('');
    expect(rawCells({ ...ENTRIES[0], extra_data: -3 } as ScaiVaultLogEntry)[11]).toBe('-3');
    expect(rawCells({ ...ENTRIES[0], extra_data: '@x' } as ScaiVaultLogEntry)[11]).toBe('"""@x"""');
    expect(readCsv(csvOf([negative]))).toEqual([negative]);
  });
});
