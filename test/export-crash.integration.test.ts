// kill -9 during an export (embedded): after the restart the job's lease runs out, a worker takes
// it again and restarts it from its first part; the export that completes has exactly the
// query's rows, a manifest `auditflow verify` accepts, and no part of the killed attempt left over.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ingest } from './support/api-client.ts';
import { startEmbedded, until, type Topology } from './support/topologies.ts';

let topo: Topology;
let token: string;
const tenant = `tnt_crash_${Date.now().toString(36)}`;
const N = 60_000;
const from = '2026-03-01T00:00:00Z';
const to = '2026-03-05T00:00:00Z';

async function api(method: string, url: string, body?: unknown): Promise<any> {
  const res = await fetch(`${topo.apiUrl()}${url}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return res.json();
}

beforeAll(async () => {
  // Small pages and parts: the export takes long enough to be killed in the middle.
  topo = await startEmbedded({ EXPORT_PAGE_ROWS: '200', EXPORT_PART_ROWS: '5000', EXPORT_POLL_MS: '200', EXPORT_LEASE_MS: '3000' });
  token = await topo.token(tenant, 'audit:write audit:read audit:export');
  const events = Array.from({ length: N }, (_, i) => ({
    timestamp: new Date(Date.parse(from) + i * 1000).toISOString(), action: i % 2 ? 'read' : 'write', identity_type: 'user',
    identity_id: `u${i % 9}`, secret_path: `p/${i % 17}`, success: true, request_id: `r${i}`, extra_data: { i },
  }));
  for (let i = 0; i < N; i += 10_000) expect((await ingest(topo.ingestUrl(), token, 'audit-events', events.slice(i, i + 10_000), { ndjson: true })).status).toBe(202);
  await until(async () => (await api('POST', '/v1/audit/export', { from, to, format: 'jsonl', destination: { type: 'local', bucket: 'probe' } })).estimated_records === N, 60_000, 'all stored');
}, 180_000);
afterAll(async () => { await topo?.stop(); });

it('resumes an export interrupted by kill -9: every row once, the manifest verifies', async () => {
  const created = await api('POST', '/v1/audit/export', { from, to, format: 'jsonl', compression: 'gzip', destination: { type: 'local', bucket: 'crash', prefix: 'k' } });
  expect(created.status).toBe('queued');
  const id = created.export_id as string;
  const dir = path.join(topo.env['DATA_DIR']!, 'exports', 'crash', 'k', id);
  // Killed once it has written a part (and not yet its manifest).
  await until(async () => {
    const parts = (() => { try { return readdirSync(dir).filter((f) => f.startsWith('part-')); } catch { return []; } })();
    return parts.length >= 1 && !readdirSync(dir).includes('manifest.json');
  }, 60_000, 'a part written');
  await topo.killProcessor();
  await topo.restartProcessor();
  const done = await until(async () => {
    const j = await api('GET', `/v1/audit/exports/${id}`);
    return j.status === 'completed' || j.status === 'failed' ? j : undefined;
  }, 120_000, 'the export completed after the restart');
  expect(done.status, JSON.stringify(done)).toBe('completed');
  expect(done.record_count).toBe(N);
  expect(readdirSync(dir).filter((f) => f.startsWith('part-')).sort()).toEqual(done.files.map((f: { key: string }) => path.basename(f.key)));
  const verify = spawnSync(process.execPath, ['bin/auditflow.js', 'verify', dir], { env: { ...process.env, DATA_DIR: topo.env['DATA_DIR'] }, encoding: 'utf8' });
  expect(verify.status, verify.stdout + verify.stderr).toBe(0);
}, 240_000);
