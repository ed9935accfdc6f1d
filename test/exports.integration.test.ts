// Export jobs end to end on the embedded system, local destination: the API's 202 and status
// views, the rows exactly those /v1/audit/logs returns (JSONL; CSV read back by csv-parse; gzip),
// the signed manifest checked by `auditflow verify`, export_created in the audit log, bad bodies,
// unknown credentials, cancel, and the export keys.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAllLogs, ingest } from './support/api-client.ts';
import { startEmbedded, until, type Topology } from './support/topologies.ts';

let topo: Topology;
let token: string;
const tenant = `tnt_exp_${Date.now().toString(36)}`;
const N = 3000;
const from = '2026-03-01T00:00:00Z';
const to = '2026-03-02T00:00:00Z';

async function api(method: string, url: string, body?: unknown, tok = token): Promise<{ status: number; body: any }> {
  const res = await fetch(`${topo.apiUrl()}${url}`, {
    method, headers: { authorization: `Bearer ${tok}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function finished(id: string): Promise<any> {
  return until(async () => {
    const r = await api('GET', `/v1/audit/exports/${id}`);
    return ['completed', 'failed', 'cancelled'].includes(r.body.status) ? r.body : undefined;
  }, 60_000, `export ${id} finished`);
}

const exportDir = (id: string, prefix: string) => path.join(topo.env['DATA_DIR']!, 'exports', 'audit-bucket', prefix, id);

beforeAll(async () => {
  topo = await startEmbedded({ EXPORT_PART_ROWS: '1000', EXPORT_POLL_MS: '200' });
  token = await topo.token(tenant, 'audit:write audit:read audit:export');
  const actions = ['read', 'write', 'delete', 'list'];
  const events = Array.from({ length: N }, (_, i) => ({
    timestamp: new Date(Date.parse(from) + i * 20_000).toISOString(), action: actions[i % 4], identity_type: 'service_account',
    identity_id: `sa:${i % 7}`, secret_path: `prod/db/${i % 13}`, success: i % 5 !== 0, source_ip: '10.0.0.1',
    user_agent: i % 11 === 0 ? '=HYPERLINK("x"), "quoted"\nnewline' : 'ua/1.0', duration_ms: i, request_id: `req_${i}`, extra_data: { i, nested: { ok: true }, note: 'äöü€😀'.repeat(30) },
  }));
  for (let i = 0; i < N; i += 1000) expect((await ingest(topo.ingestUrl(), token, 'audit-events', events.slice(i, i + 1000))).status).toBe(202);
  await until(async () => (await getAllLogs(topo.apiUrl(), token, { from, to })).length === N, 60_000, 'events readable');
}, 180_000);
afterAll(async () => { await topo?.stop(); });

describe('exports (embedded, local destination)', () => {
  it('exports exactly the /v1/audit/logs rows as JSONL, with a manifest auditflow verify accepts', async () => {
    const created = await api('POST', '/v1/audit/export', { from, to, format: 'jsonl', filters: { action: 'read,write' }, destination: { type: 'local', bucket: 'audit-bucket', prefix: 'jsonl' } });
    expect(created.status).toBe(202);
    const expected = await getAllLogs(topo.apiUrl(), token, { from, to, action: 'read,write' });
    expect(created.body).toEqual({ export_id: expect.stringMatching(/^exp_/), status: 'queued', estimated_records: expected.length });
    const done = await finished(created.body.export_id);
    expect(done).toMatchObject({ status: 'completed', record_count: expected.length, completed_at: expect.any(String) });
    expect(done.files.length).toBe(Math.ceil(expected.length / 1000));
    const dir = exportDir(created.body.export_id, 'jsonl');
    const parts = readdirSync(dir).filter((f) => f.startsWith('part-')).sort();
    expect(parts).toEqual(done.files.map((f: { key: string }) => path.basename(f.key)));
    const lines = parts.flatMap((p) => readFileSync(path.join(dir, p), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
    const byId = (a: any, b: any) => (a.id < b.id ? -1 : 1);
    expect([...lines].sort(byId)).toEqual([...expected].sort(byId));
    const verify = spawnSync(process.execPath, ['bin/auditflow.js', 'verify', dir], { env: { ...process.env, DATA_DIR: topo.env['DATA_DIR'] }, encoding: 'utf8' });
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
  });

  it('CSV with gzip reads back with a real CSV parser, formulas neutralised', async () => {
    const created = await api('POST', '/v1/audit/export', { from, to, format: 'csv', compression: 'gzip', filters: { success: false }, destination: { type: 'local', bucket: 'audit-bucket', prefix: 'csv' } });
    expect(created.status).toBe(202);
    const done = await finished(created.body.export_id);
    expect(done.status).toBe('completed');
    const expected = await getAllLogs(topo.apiUrl(), token, { from, to, success: false });
    const dir = exportDir(created.body.export_id, 'csv');
    const records = readdirSync(dir).filter((f) => f.endsWith('.csv.gz')).sort().flatMap((p) => parse(gunzipSync(readFileSync(path.join(dir, p))), { columns: true }) as Record<string, string>[]);
    expect(records).toHaveLength(expected.length);
    const byId = new Map(records.map((r) => [r['id'], r]));
    for (const e of expected) {
      const r = byId.get(e['id'] as string)!;
      expect(r['action']).toBe(e['action']);
      expect(JSON.parse(r['extra_data']!)).toEqual(e['extra_data']);
      if (String(e['user_agent']).startsWith('=')) expect(r['user_agent']).toBe(`'${e['user_agent'] as string}`);
    }
    const verify = spawnSync(process.execPath, ['bin/auditflow.js', 'verify', dir], { env: { ...process.env, DATA_DIR: topo.env['DATA_DIR'] }, encoding: 'utf8' });
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
  });

  it('records export_created in the audit log, lists exports newest first, publishes the key', async () => {
    // Its own two exports, so the test stands alone.
    for (const prefix of ['list-a', 'list-b']) {
      expect((await api('POST', '/v1/audit/export', { from, to, format: 'jsonl', destination: { type: 'local', bucket: 'audit-bucket', prefix } })).status).toBe(202);
    }
    const logs = await until(async () => {
      const l = await getAllLogs(topo.apiUrl(), token, { action: 'export_created' });
      return l.length >= 2 ? l : undefined;
    }, 30_000, 'export_created readable');
    expect(logs.length).toBeGreaterThanOrEqual(2);
    const list = await api('GET', '/v1/audit/exports?limit=1');
    expect(list.status).toBe(200);
    expect(list.body.exports).toHaveLength(1);
    expect(list.body.has_more).toBe(true);
    const next = await api('GET', `/v1/audit/exports?limit=1&cursor=${list.body.cursor}`);
    expect(next.body.exports[0].export_id).not.toBe(list.body.exports[0].export_id);
    const keys = await api('GET', '/v1/audit/export-keys');
    expect(keys.body.keys[0]).toMatchObject({ alg: 'Ed25519', key_id: expect.any(String), public_key_pem: expect.stringContaining('BEGIN PUBLIC KEY') });
  });

  it('refuses bad bodies with details, unknown credentials before queueing, and other scopes', async () => {
    expect((await api('POST', '/v1/audit/export', { from, to, format: 'jsonl', destination: { type: 'local', bucket: 'audit-bucket', prefix: 'mine' } })).status).toBe(202);
    const bad = await api('POST', '/v1/audit/export', { from: 'yesterday', format: 'xml', filters: { action: 5, bogus: 'x' }, destination: { type: 'ftp' }, extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    const paths = bad.body.details.map((d: { path: string }) => d.path);
    for (const p of ['/from', '/to', '/format', '/filters/bogus', '/destination/type', '/destination/bucket', '/extra']) expect(paths).toContain(p);
    const creds = await api('POST', '/v1/audit/export', { from, to, format: 'jsonl', destination: { type: 's3', bucket: 'b', credentials_path: 'nope/missing' } });
    expect(creds.status).toBe(400);
    expect(creds.body.code).toBe('CREDENTIALS_NOT_FOUND');
    const before = (await api('GET', '/v1/audit/exports?limit=200')).body.exports.length;
    expect(before).toBeGreaterThan(0);
    const reader = await topo.token(tenant, 'audit:read');
    expect((await api('POST', '/v1/audit/export', { from, to, format: 'jsonl', destination: { type: 'local', bucket: 'b' } }, reader)).status).toBe(403);
    expect((await api('GET', '/v1/audit/exports/exp_nope')).status).toBe(404);
    const other = await topo.token(`${tenant}_other`, 'audit:export');
    const mine = (await api('GET', '/v1/audit/exports?limit=1')).body.exports[0].export_id;
    expect((await api('GET', `/v1/audit/exports/${mine}`, undefined, other)).status).toBe(404);
  });

  it('auditflow export runs one with progress lines (no terminal) and exits 0; a bad one exits 1 with the details', async () => {
    const run = (args: string[]) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, ['bin/auditflow.js', 'export', ...args], { env: { ...process.env, AUDITFLOW_URL: topo.apiUrl(), AUDITFLOW_TOKEN: token } });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => { out += String(d); });
      p.stderr.on('data', (d) => { err += String(d); });
      p.on('close', (code) => resolve({ code, out, err }));
    });
    const ok = await run(['--from', from, '--to', to, '--format', 'jsonl', '--destination', 'local', '--bucket', 'audit-bucket', '--prefix', 'cli', '--filter', 'action=delete']);
    expect(ok.code, ok.err).toBe(0);
    const expected = (await getAllLogs(topo.apiUrl(), token, { from, to, action: 'delete' })).length;
    expect(ok.out).toMatch(new RegExp(`^export exp_\\w+ queued: ${expected} records$`, 'm'));
    expect(ok.out).toMatch(new RegExp(`completed: ${expected} records in 1 parts`));
    const bad = await run(['--from', from, '--to', to, '--format', 'xml', '--destination', 'local', '--bucket', 'b']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('VALIDATION_FAILED');
    expect(bad.err).toContain('/format');
    const usage = await run(['--from', from]);
    expect(usage.code).toBe(2);
    // In a terminal (a pty from util-linux's script(1)): the progress bar with rate and ETA.
    const args = ['bin/auditflow.js', 'export', '--from', from, '--to', to, '--format', 'csv', '--destination', 'local', '--bucket', 'audit-bucket', '--prefix', 'tty'];
    const tty = spawnSync('script', ['-qec', [process.execPath, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], { env: { ...process.env, AUDITFLOW_URL: topo.apiUrl(), AUDITFLOW_TOKEN: token }, encoding: 'utf8' });
    expect(tty.status, tty.stdout + tty.stderr).toBe(0);
    expect(tty.stdout).toMatch(/\[[#-]{24}\] +\d+% [\d,]+\/[\d,]+ records +[\d,]+ rec\/s +ETA \d+/);
    expect(tty.stdout).toMatch(/completed: \d+ records/);
  });

  it('manages export schedules: a bad cron is 400, a good one is listed, shown and deleted', async () => {
    const dest = { type: 'local', bucket: 'audit-bucket', prefix: 'sched' };
    const bad = await api('POST', '/v1/audit/export-schedules', { cron: '*/5 * * *', window: 'previous_hour', format: 'jsonl', destination: dest });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { path: string }) => d.path)).toContain('/cron');
    const badWindow = await api('POST', '/v1/audit/export-schedules', { cron: '0 * * * *', window: 'previous_week', format: 'jsonl', destination: dest });
    expect(badWindow.body.details.map((d: { path: string }) => d.path)).toContain('/window');
    const created = await api('POST', '/v1/audit/export-schedules', { cron: '0 * * * *', window: 'previous_hour', format: 'csv', compression: 'gzip', filters: { action: 'read' }, destination: dest });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ schedule_id: expect.stringMatching(/^sch_/), cron: '0 * * * *', window: 'previous_hour', format: 'csv', last_window_end: null, next_run_at: expect.stringMatching(/:00:00\.000Z$/) });
    const id = created.body.schedule_id as string;
    expect((await api('GET', '/v1/audit/export-schedules')).body.schedules.map((x: { schedule_id: string }) => x.schedule_id)).toContain(id);
    expect((await api('GET', `/v1/audit/export-schedules/${id}`)).body.filters).toEqual({ action: 'read' });
    const other = await topo.token(`${tenant}_other`, 'audit:export');
    expect((await api('GET', `/v1/audit/export-schedules/${id}`, undefined, other)).status).toBe(404);
    expect((await api('DELETE', `/v1/audit/export-schedules/${id}`)).status).toBe(204);
    expect((await api('GET', `/v1/audit/export-schedules/${id}`)).status).toBe(404);
  });

  it('cancels an export; a finished one cannot be', async () => {
    const created = await api('POST', '/v1/audit/export', { from, to, format: 'jsonl', destination: { type: 'local', bucket: 'audit-bucket', prefix: 'cancel' } });
    const c = await api('POST', `/v1/audit/exports/${created.body.export_id}/cancel`);
    expect([200, 202]).toContain(c.status);
    const done = await finished(created.body.export_id);
    // Cancelled while queued or running; or it finished first (a tiny export) — then cancel says so.
    if (done.status === 'completed') expect(c.body.cancel_requested ?? false).toBe(true);
    else expect(done.status).toBe('cancelled');
    const again = await api('POST', `/v1/audit/exports/${created.body.export_id}/cancel`);
    expect(again.status).toBe(done.status === 'cancelled' ? 200 : 409);
  });
});
