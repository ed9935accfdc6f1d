// End to end through the embedded deployment (one `auditflow all` process: ingest → embedded log
// → store sink → chDB → API): a read of /v1/audit/logs is itself an audit event, written through
// the log, and the admin API lists it — who read, what, with which filters, how many rows — marked
// internal; and the admin API's own reads are recorded the same way.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import { getLogs, ingest } from './support/api-client.ts';
import { startEmbedded, until, type Topology } from './support/topologies.ts';

let topo: Topology;
beforeAll(async () => { topo = await startEmbedded(); });
afterAll(async () => { await topo?.stop(); });

interface Entry {
  id: string; tenant_id: string; event_type: string; action: string; category: string; actor_id: string | null;
  actor_email: string | null; resource_id: string | null; resource_path: string | null; result: string;
  details: { method?: string; filters?: Record<string, unknown>; rows?: number }; is_internal: boolean;
}

async function adminList(token: string, query: Record<string, string>): Promise<{ items: Entry[]; total: number }> {
  const res = await fetch(`${topo.apiUrl()}/api/v1/admin/audit/?${new URLSearchParams(query)}`, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`admin list → ${res.status} ${JSON.stringify(body)}`);
  return body as { items: Entry[]; total: number };
}

describe('self-audit through the embedded pipeline', () => {
  test('a filtered read of /v1/audit/logs is found through the admin API: who, what, which filters, how many rows', async () => {
    const tenant = `tnt_sa_${randomBytes(4).toString('hex')}`;
    const write = await topo.token(tenant, 'audit:write');
    const events = [0, 1, 2, 3, 4].map((i) => ({
      id: `aud_sa_${randomBytes(4).toString('hex')}_${i}`, event_type: 'secret.read', category: 'security', action: i < 3 ? 'read' : 'write',
      event_time: new Date(Date.UTC(2026, 3, 1, 0, 0, i)).toISOString(), actor: { id: 'usr_app', type: 'service_account' },
      resource: { type: 'secret', id: `sec_${i}`, path: `prod/db/${i}` }, source_ip: i % 2 === 0 ? '10.1.0.1' : '10.1.0.2', success: true,
    }));
    const res = await ingest(topo.ingestUrl(), write, 'audit-events', events);
    expect(res.status, JSON.stringify(res.body)).toBe(202);

    // An auditor reads with filters, once every event is stored: read + 10.1.0.1 matches two.
    const reader = await topo.token(tenant, 'audit:read', { sub: 'usr_auditor', email: 'auditor@example.com' });
    await until(async () => (await getLogs(topo.apiUrl(), reader, { limit: 100 })).body.logs.length === 5, 30_000, 'five stored events');
    const read = await getLogs(topo.apiUrl(), reader, { action: 'read', source_ip: '10.1.0.1', limit: 50 });
    expect(read.status).toBe(200);
    expect(read.body.logs.map((l) => l['id'])).toEqual([events[2]!.id, events[0]!.id]);

    // The admin of the tenant finds that read among the internal events (polling: it travels the log).
    const admin = await topo.token(tenant, 'audit:admin', { sub: 'usr_admin', email: 'admin@example.com' });
    const found = await until(async () => {
      const page = await adminList(admin, { actor_id: 'usr_auditor', resource_id: 'scaivault.logs', per_page: '500' });
      return page.items.find((e) => e.details.rows === 2 && e.details.filters?.['sourceIp'] === '10.1.0.1');
    }, 30_000, 'the self-audit event of the filtered read');
    expect(found).toMatchObject({
      tenant_id: tenant, event_type: 'audit.read', action: 'read', category: 'compliance', result: 'success',
      actor_id: 'usr_auditor', actor_email: 'auditor@example.com', resource_id: 'scaivault.logs', resource_path: '/v1/audit/logs',
      is_internal: true,
      details: { method: 'GET', rows: 2, filters: { actions: ['read'], sourceIp: '10.1.0.1', limit: 50, cursor: false } },
    });
    // The events ingested are not internal; the ScaiVault listing never shows the internal ones.
    const ingested = await adminList(admin, { actor_id: 'usr_app' });
    expect(ingested.items.map((e) => [e.id, e.is_internal])).toEqual([...events].reverse().map((e) => [e.id, false]));
    expect((await getLogs(topo.apiUrl(), reader, { limit: 100 })).body.logs).toHaveLength(5);

    // The admin's own reads are audited too, with their filters and row counts.
    const own = await until(async () => {
      const page = await adminList(admin, { actor_id: 'usr_admin', resource_id: 'admin.audit.list', per_page: '500' });
      return page.items.find((e) => e.details.filters?.['actor_id'] === 'usr_app');
    }, 30_000, 'the self-audit event of the admin read');
    expect(own).toMatchObject({
      event_type: 'admin.audit.list', is_internal: true, actor_email: 'admin@example.com', resource_path: '/api/v1/admin/audit/',
      details: { method: 'GET', rows: 5, filters: { actor_id: 'usr_app', page: 1, per_page: 50, scope: `tenant:${tenant}` } },
    });
  });
});
