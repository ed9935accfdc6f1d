// End to end through the embedded deployment (ingest → embedded log → store sink → chDB → API):
// ScaiVault log entries as producers send them reach the per-secret and per-identity trails and
// the summary (secret_path → the trail's path, identity_id → the identity), and the reads' own
// self-audit events — stored for the same tenant through the same log — never change them.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { getLogs, ingest } from './support/api-client.ts';
import { startEmbedded, until, type Topology } from './support/topologies.ts';

let topo: Topology;
beforeAll(async () => { topo = await startEmbedded(); });
afterAll(async () => { await topo?.stop(); });

async function get(url: string, token: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${topo.apiUrl()}${url}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

describe('ScaiVault trails and summary through the embedded pipeline', () => {
  test('ingested log entries are trailed and summarised; the reads recorded meanwhile are not counted', async () => {
    const tenant = `tnt_sv_${randomBytes(4).toString('hex')}`;
    const write = await topo.token(tenant, 'audit:write');
    const now = Date.now();
    const entry = (i: number, o: Record<string, unknown>) => ({
      id: `log_sv_${randomBytes(4).toString('hex')}_${i}`, timestamp: new Date(now - (10 - i) * 60_000).toISOString(),
      action: 'read', identity_type: 'service_account', identity_id: 'sa:reporting', secret_path: 'integrations/salesforce/oauth',
      source_ip: '10.0.1.50', user_agent: 'scaivault-python/1.0', success: true, duration_ms: 12, request_id: `req_${i}`, extra_data: {}, ...o,
    });
    const entries = [
      entry(0, {}),
      entry(1, { action: 'rotate' }),
      entry(2, { success: false }),
      entry(3, { identity_id: 'usr_ops', identity_type: 'user', secret_path: 'integrations/hubspot/key' }),
      entry(4, { secret_path: 'integrations/salesforce/oauth', extra_data: { version: 3 } }),
    ];
    const res = await ingest(topo.ingestUrl(), write, 'audit-events', entries);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const reader = await topo.token(tenant, 'audit:read', { sub: 'usr_auditor' });
    await until(async () => (await getLogs(topo.apiUrl(), reader, { limit: 100 })).body.logs.length === 5, 30_000, 'five stored events');

    const expectTrails = async () => {
      const secret = await get(`/v1/audit/secrets/${encodeURIComponent('integrations/salesforce/oauth')}`, reader);
      expect(secret.status).toBe(200);
      expect(secret.body.logs.map((l: { id: string }) => l.id)).toEqual([entries[4]!.id, entries[2]!.id, entries[1]!.id, entries[0]!.id]);
      expect(secret.body.logs[0]).toMatchObject({ secret_path: 'integrations/salesforce/oauth', identity_id: 'sa:reporting', identity_type: 'service_account', extra_data: { version: 3 } });
      expect(secret.body.summary).toMatchObject({ total_events: 4, successful_events: 3, failed_events: 1, actions_breakdown: { read: 3, rotate: 1 }, distinct_identities: 1 });
      const identity = await get('/v1/audit/identities/sa:reporting', reader);
      expect(identity.body.logs).toHaveLength(4);
      expect(identity.body.summary).toMatchObject({ total_events: 4, distinct_resources: 1 });
      const summary = await get('/v1/audit/summary', reader);
      expect(summary.body).toEqual({
        total_events: 5, successful_events: 4, failed_events: 1, actions_breakdown: { read: 4, rotate: 1 },
        top_identities: [{ identity_id: 'sa:reporting', count: 4 }, { identity_id: 'usr_ops', count: 1 }],
        top_resources: [{ path: 'integrations/salesforce/oauth', count: 4 }, { path: 'integrations/hubspot/key', count: 1 }],
      });
    };
    await expectTrails();

    // Those reads are audit events of this tenant (actor usr_auditor); once the admin API lists all
    // three, the ScaiVault numbers must be what they were.
    const admin = await topo.token(tenant, 'audit:admin');
    await until(async () => {
      const r = await get('/api/v1/admin/audit/?actor_id=usr_auditor&per_page=500', admin);
      const seen = new Set((r.body.items ?? []).map((e: { resource_id: string }) => e.resource_id));
      return ['scaivault.secret_trail', 'scaivault.identity_trail', 'scaivault.summary'].every((x) => seen.has(x));
    }, 30_000, 'the self-audit events of the trail and summary reads');
    await expectTrails();
    const auditor = await get('/v1/audit/identities/usr_auditor', reader);
    expect(auditor.body).toMatchObject({ logs: [], summary: { total_events: 0 } });
  });
});
