// The export's lines, shaped by ClickHouse (processors/export/shaped-lines.ts), are byte for byte
// what /v1/audit/logs returns for the same rows — for rows built to trip it: unicode, U+2028,
// control characters, quotes and backslashes, invalid UTF-8, nulls, duration_ms null, success
// false, and details that are not canonical JSON (invalid, spaced, reordered by JS, duplicate
// keys, numbers JS rewrites) — on both stores, across pages, parts and the JS fallback. CSV: each
// record is the JS encoder's for the API's entry, formula rule included.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExportSigningKey } from '../infra/export-keys.ts';
import { openObjectStore } from '../infra/objectstore/object-store.ts';
import { FileSecretsProvider } from '../infra/secrets/secrets-provider.ts';
import { csvEncoder, CSV_COLUMNS } from '../processors/export/export-formats.ts';
import { emptyProgress, type ExportJob } from '../processors/export/export-jobs.ts';
import { runExport } from '../processors/export/export-runner.ts';
import { FALLBACK_MARK, SHAPED_LINE_PARAMS, SHAPED_LINE_SETTINGS, shapedLineColumn } from '../processors/export/shaped-lines.ts';
import { ScopedQuery } from '../api/query/scoped-query.ts';
import { verifyExport } from '../processors/export/verify-export.ts';
import type { Store } from '../infra/store/store.ts';
import { newTenant, readApp, startStores, type AuditRow, type HarnessStore, type Stores } from './support/read-api-harness.ts';

const FROM = '2026-03-01T00:00:00.000Z';
const TO = '2026-03-02T00:00:00.000Z';

/**
 * Details texts, and whether the SQL splices them (S: exactly what JSON.stringify(JSON.parse(d))
 * gives back, or '' → {}) or leaves the row to JS (F). Conservative: two objects sharing a key
 * fall back although JS would keep both; top-level scalars and arrays are spliced.
 */
const DETAIL_CASES: [string, 'S' | 'F'][] = [
  ['{}', 'S'], ['{"a":1,"b":"x"}', 'S'], ['{"size":42,"mime_type":"text/plain","ok":true,"none":null,"f":-0.25}', 'S'],
  ['{"nested":{"ok":true},"list":[1,"two",{"three":3}],"emoji":"😀","ls":"\u2028"}', 'S'],
  ['{"q":"say \\"hi\\" \\\\ back","ctl":"\\u0001\\u001f\\n\\t","slash":"a/b"}', 'S'], ['', 'S'],
  ['not json', 'F'], ['{"a":1,}', 'F'], ['{"a": 1}', 'F'], [' {"a":1}', 'F'], ['{"b":1,"1":2}', 'F'], ['{"a":1,"a":2}', 'F'],
  ['{"x":{"a":1},"y":{"a":2}}', 'F'], ['{"n":1.50}', 'F'], ['{"n":1e21}', 'F'], ['{"n":12345678901234567890}', 'F'], ['{"n":-0}', 'F'],
  ['{"n":0.0000001}', 'F'], ['{"n":1E5}', 'F'], ['[1,2]', 'S'], ['"str"', 'S'], ['null', 'S'], ['5', 'S'], ['true', 'S'],
  ['{"s":"\\u0041"}', 'F'], ['{"s":"\\/"}', 'F'], ['{"u":"\\u001F"}', 'F'], ['{"u":"\\u001f"}', 'S'], ['{"deep":{"a":[1,{"b":null}]}}', 'S'],
  ['{"s":"\\ud800"}', 'F'], ['{"k":"x\\":","k2":1}', 'S'], ['{"":1,"v":"a","":2}', 'F'], ['{"é":1,"é":2}', 'F'],
];
const DETAILS = DETAIL_CASES.map(([d]) => d);

/** Text values for the entry's string fields: CSV formulas, quoting, JSON escaping, JS/ClickHouse differences. */
const TEXTS = [
  'plain', 'äöü€😀', 'line\u2028sep\u2029', 'ctl\u0001\u000b\u001f\u007f', 'nl\nand\rcr\ttab\bbs\ffeed', 'say "hi" \\ back/slash',
  '=SUM(A1)', "'=x", "''+1", '-2', '@x', '\tx', 'comma, here', 'a"b', '', ' =not-a-formula', 'vt\u000bonly', 'text \\u001F \\u2028', 'sep\u2028only', 'quote" and \u2028',
];

function trickyRows(): Partial<AuditRow>[] {
  const t0 = Date.parse(FROM);
  const rows: Partial<AuditRow>[] = [];
  const n = Math.max(DETAILS.length, TEXTS.length) * 3;
  for (let i = 0; i < n; i++) {
    const text = TEXTS[i % TEXTS.length]!;
    rows.push({
      event_time: new Date(t0 + i * 1000 + (i % 7)).toISOString(),
      action: i % 9 === 0 ? '=cmd' : ['read', 'write', 'delete'][i % 3]!,
      actor_type: i % 5 === 0 ? '' : 'service_account',
      actor_id: i % 4 === 0 ? '' : `sa:${text}`,
      resource_path: i % 6 === 0 ? '' : `prod/${text}`,
      source_ip: i % 8 === 0 ? '' : '10.0.0.1',
      user_agent: text,
      request_id: i % 10 === 0 ? '' : `req_${i}`,
      success: i % 3 !== 1,
      duration_ms: i % 4 === 1 ? null : i * 7,
      details: DETAILS[i % DETAILS.length]!,
      ...(i % 13 === 0 ? { id: `=aud_${i}` } : {}),
    });
  }
  return rows;
}

let stores: Stores;
const dataDir = mkdtempSync(path.join(tmpdir(), 'af-exp-lines-'));
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => {
  await stores?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A tenant holding the tricky rows, plus one row with raw invalid UTF-8 bytes (JSON text cannot carry them). */
async function seed(h: HarnessStore): Promise<string> {
  const tenant = newTenant('lines');
  const rows = await h.rows.audit(tenant, trickyRows());
  const last = rows[rows.length - 1]!;
  const raw = { ...last, seq: last.seq + 1, id: `aud_bad_utf8_${tenant}`, user_agent: 'bad@@UTF8', details: '{"x":"@@"}', event_time: new Date(Date.parse(FROM) + 3_600_000).toISOString() };
  const text = Buffer.from(`${JSON.stringify(raw)}\n`);
  const bytes = Buffer.concat(text.toString('latin1').split('@@').map((s, i) => Buffer.concat([...(i > 0 ? [Buffer.from([0xc3, 0x28])] : []), Buffer.from(s, 'latin1')])));
  await h.store.insertJsonEachRow('audit_events', bytes);
  return tenant;
}

/** The /v1/audit/logs response bodies for the window, newest first: the `logs` array's text and entries. */
async function apiEntries(h: HarnessStore, tenant: string): Promise<{ text: string; entries: Record<string, unknown>[] }> {
  const api = await readApp(h);
  try {
    const token = await api.token(tenant, 'audit:read');
    const res = await api.get(`/v1/audit/logs?from=${FROM}&to=${TO}&limit=1000`, token);
    expect(res.status).toBe(200);
    expect(res.body.has_more).toBe(false);
    const head = '{"logs":[';
    expect(res.raw.startsWith(head)).toBe(true);
    return { text: res.raw.slice(head.length, res.raw.lastIndexOf('],"cursor":')), entries: res.body.logs };
  } finally {
    await api.close();
  }
}

async function exportParts(h: HarnessStore, tenant: string, format: 'jsonl' | 'csv', over: { pageRows: number; parts: { rows: number; bytes: number }; pageMemoryBytes?: number }, store: Store = h.store) {
  const exportId = `exp_${format}_${h.name}_${tenant}`;
  const destination = { type: 'local', bucket: 'lines', prefix: h.name } as const;
  const job: ExportJob = {
    tenantId: tenant, exportId, version: 1, status: 'running', scheduleId: null,
    spec: { from: FROM, to: TO, format, compression: null, filters: {}, destination, snapshot_seq: 1_000_000 },
    createdAt: FROM, updatedAt: FROM, estimatedRecords: 0, recordCount: 0, progress: emptyProgress(),
    error: '', cancelRequested: false, attempt: 1, worker: 'test', leaseUntil: FROM, completedAt: null,
  };
  const destination2 = await openObjectStore(destination, { secrets: new FileSecretsProvider(path.join(dataDir, 'secrets')), dataDir });
  const key = await loadExportSigningKey({ dataDir, exportSigningKeyFile: undefined });
  const result = await runExport(job, {
    store, destination: destination2, key, ...over, previousManifest: null, signal: new AbortController().signal, onProgress: () => undefined,
  });
  const dir = path.join(dataDir, 'exports', 'lines', h.name, exportId);
  const report = await verifyExport(dir, { publicKeyPem: key.publicKeyPem });
  expect(report.problems).toEqual([]);
  const files = readdirSync(dir).filter((f) => f.startsWith('part-')).sort();
  return { result, parts: files.map((f) => readFileSync(path.join(dir, f))) };
}

/**
 * Whether ClickHouse escapes a text as JSON.stringify does (JSONL; conservative: the text of such
 * an escape falls back too), and keeps it on one line without the marker byte (CSV).
 */
const TEXT_CASE = (t: string) => ({
  jsonl: /[\u000b\u000e\u000f\u001a-\u001f\u2028\u2029]|\\u(00(0[BEF]|1[A-F])|202[89])/.test(t) ? 'F' : 'S',
  csv: /[\n\u0001]/.test(t) ? 'F' : 'S',
});

describe.each(['chdb', 'http'] as const)('export lines on %s', (name) => {
  it('the SQL shapes exactly the rows it can vouch for', async () => {
    const h = stores.list.find((s) => s.name === name)!;
    const t = newTenant('shape');
    await h.rows.audit(t, [...DETAILS.map((details) => ({ details })), ...TEXTS.map((user_agent) => ({ user_agent }))]);
    const kinds = async (format: 'jsonl' | 'csv'): Promise<string> => {
      const { sql, params } = new ScopedQuery('audit_events', { kind: 'tenant', tenantId: t })
        .select(shapedLineColumn(format), `ORDER BY seq SETTINGS ${SHAPED_LINE_SETTINGS}`, SHAPED_LINE_PARAMS);
      const chunks: Buffer[] = [];
      for await (const c of h.store.stream(sql, params, { format: 'TabSeparatedRaw' })) chunks.push(c);
      return Buffer.concat(chunks).toString('utf8').split('\n').slice(0, -1).map((l) => (l.charCodeAt(0) === FALLBACK_MARK ? 'F' : 'S')).join('');
    };
    const expected = (format: 'jsonl' | 'csv') => [...DETAIL_CASES.map(([, k]) => k), ...TEXTS.map((x) => TEXT_CASE(x)[format])].join('');
    expect(await kinds('jsonl')).toBe(expected('jsonl'));
    expect(await kinds('csv')).toBe(expected('csv'));
  });

  let h: HarnessStore;
  let tenant: string;
  let api: { text: string; entries: Record<string, unknown>[] };
  beforeAll(async () => {
    h = stores.list.find((s) => s.name === name)!;
    tenant = await seed(h);
    api = await apiEntries(h, tenant);
    expect(api.entries.length).toBe(trickyRows().length + 1);
  }, 60_000);

  it('JSONL: every line is the /v1/audit/logs entry byte for byte, across pages, parts and the JS fallback', async () => {
    // Small pages and parts: bounds batches, read-ahead, splits by rows and by bytes.
    const { result, parts } = await exportParts(h, tenant, 'jsonl', { pageRows: 7, parts: { rows: 23, bytes: 4000 } });
    expect(result.recordCount).toBe(api.entries.length);
    expect(result.parts.length).toBeGreaterThan(4);
    expect(result.parts.some((p) => p.records < 23 && p !== result.parts[result.parts.length - 1])).toBe(true); // a split by bytes
    const all = Buffer.concat(parts);
    expect(all.includes(FALLBACK_MARK)).toBe(false);
    // Valid UTF-8 (raw invalid bytes would decode to U+FFFD too): so comparing text compares bytes.
    expect(Buffer.from(all.toString('utf8')).equals(all)).toBe(true);
    const lines = all.toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(api.entries.length);
    // Oldest first in the export, newest first in the API: the same bytes, reversed.
    expect([...lines].reverse().join(',')).toBe(api.text);
    expect(result.parts.map((p) => p.records).reduce((a, b) => a + b, 0)).toBe(lines.length);
  });

  it('CSV: every record is the JS encoder of the API entry (formula rule, quoting, nulls), each part with its header', async () => {
    const { result, parts } = await exportParts(h, tenant, 'csv', { pageRows: 9, parts: { rows: 31, bytes: 1_000_000 } });
    expect(result.recordCount).toBe(api.entries.length);
    const header = `${CSV_COLUMNS.join(',')}\r\n`;
    const body = parts.map((p) => {
      expect(Buffer.from(p.toString('utf8')).equals(p)).toBe(true);
      const text = p.toString('utf8');
      expect(text.startsWith(header)).toBe(true);
      return text.slice(header.length);
    }).join('');
    expect(body).toBe([...api.entries].reverse().map((e) => csvEncoder.line(e)).join(''));
    expect(body).toContain(`"'=SUM(A1)"`);
    expect(body).toContain(`"''=x"`);
  });

  it('reads a page too large for its memory bound in halves: the same lines, every row once', async () => {
    const t = newTenant('wide');
    const t0 = Date.parse(FROM);
    const n = 96;
    await h.rows.audit(t, Array.from({ length: n }, (_, i) => ({ event_time: new Date(t0 + i * 1000).toISOString(), details: JSON.stringify({ i, blob: 'x'.repeat(100_000 + i) }) })));
    const wide = await apiEntries(h, t);
    let reads = 0;
    const counting: Store = { ...h.store, kind: h.store.kind, command: (a, b) => h.store.command(a, b), query: (a, b) => h.store.query(a, b),
      insertJsonEachRow: (a, b) => h.store.insertJsonEachRow(a, b), close: () => h.store.close(),
      stream: (sql, params, o) => { reads++; return h.store.stream(sql, params, o); } };
    // One page of ~9.6 MB of lines, past 20 MiB of query memory (the granule read, the line and its
    // checks): read in parts. (A granule, ≤ 10 MiB of a column, is the least a read can take.)
    const { result, parts } = await exportParts(h, t, 'jsonl', { pageRows: n, parts: { rows: 1000, bytes: 1 << 30 }, pageMemoryBytes: 20 * 1024 * 1024 }, counting);
    expect(result.recordCount).toBe(n);
    expect(reads).toBeGreaterThan(2);
    const lines = Buffer.concat(parts).toString('utf8').split('\n').slice(0, -1);
    expect([...lines].reverse().join(',')).toBe(wide.text);
  });
});
