// End to end through the embedded deployment (webhook → embedded log → store sink → chDB → API):
// a ScaiKey delivery's audit event becomes readable at /v1/audit/logs for the delivery's tenant,
// exactly once although ScaiKey posted it twice, and also when a second append of the same event
// reaches the log (what two API nodes racing on one delivery would each append).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deliveryAuditId } from '../api/webhooks/scaikey-delivery.ts';
import { scaikeySignatureHeader } from '../api/webhooks/scaikey-signature.ts';
import { getLogs, ingest } from './support/api-client.ts';
import { startEmbedded, until, type Topology } from './support/topologies.ts';

const SECRET = `whsec_${randomBytes(16).toString('hex')}`;

let topo: Topology;
beforeAll(async () => { topo = await startEmbedded({ SCAIKEY_WEBHOOK_SECRET: SECRET }); });
afterAll(async () => { await topo?.stop(); });

async function deliver(delivery: unknown): Promise<{ status: number; body: any }> {
  const raw = JSON.stringify(delivery);
  const res = await fetch(`${topo.apiUrl()}/api/v1/webhooks/scaikey`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-scaikey-signature': scaikeySignatureHeader(SECRET, Math.floor(Date.now() / 1000), Buffer.from(raw)) },
    body: raw,
  });
  return { status: res.status, body: await res.json() };
}

describe('ScaiKey deliveries through the embedded pipeline', () => {
  test("a delivery's audit event is readable at /v1/audit/logs for its tenant exactly once, though posted twice", async () => {
    const tenant = `tnt_sk_${randomBytes(4).toString('hex')}`;
    const other = `tnt_sk_${randomBytes(4).toString('hex')}`;
    const created = { id: `dlv_${randomBytes(6).toString('hex')}`, type: 'user.created', created_at: new Date().toISOString(), data: { id: 'usr_carol', email: 'carol@example.com', name: 'Carol', tenant_id: tenant } };
    expect(await deliver(created)).toEqual({ status: 200, body: { delivery_id: created.id, duplicate: false } });
    expect(await deliver(created)).toEqual({ status: 200, body: { delivery_id: created.id, duplicate: true } });

    const reader = await topo.token(tenant, 'audit:read');
    const auditId = deliveryAuditId(created.id);
    const first = await until(async () => {
      const r = await getLogs(topo.apiUrl(), reader, { request_id: created.id });
      return r.body.logs.length > 0 ? r.body.logs : undefined;
    }, 30_000, "the delivery's audit event");
    expect(first).toEqual([{
      id: auditId, timestamp: created.created_at, action: 'create', identity_type: 'service_account', identity_id: 'scaikey',
      secret_path: null, source_ip: '127.0.0.1', user_agent: expect.any(String), success: true, duration_ms: null, request_id: created.id,
      extra_data: { delivery_id: created.id, type: 'user.created', email: 'carol@example.com' },
    }]);

    // A second append of the very same event, as a second API node racing on the delivery would
    // make (through ingest: the same log, the same id), then a later delivery: once that one is
    // readable, everything appended before it for this tenant has been through the sink.
    const write = await topo.token(tenant, 'audit:write');
    const again = await ingest(topo.ingestUrl(), write, 'audit-events', [{
      id: auditId, event_time: created.created_at, event_type: 'scaikey.user.created', action: 'create', category: 'admin',
      actor: { id: 'scaikey', type: 'service_account', service_account: 'scaikey' }, resource: { type: 'user', id: 'usr_carol', name: 'Carol' },
      request_id: created.id,
    }]);
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    const deleted = { id: `dlv_${randomBytes(6).toString('hex')}`, type: 'user.deleted', created_at: new Date().toISOString(), data: { id: 'usr_carol', tenant_id: tenant } };
    expect((await deliver(deleted)).status).toBe(200);
    await until(async () => (await getLogs(topo.apiUrl(), reader, { request_id: deleted.id })).body.logs.length === 1, 30_000, 'the later delivery');

    const all = (await getLogs(topo.apiUrl(), reader, { limit: 100 })).body.logs;
    expect(all.map((l) => [l['id'], l['action']])).toEqual([[deliveryAuditId(deleted.id), 'delete'], [auditId, 'create']]);
    // Another tenant sees none of it.
    const outsider = await topo.token(other, 'audit:read');
    expect((await getLogs(topo.apiUrl(), outsider, { limit: 100 })).body.logs).toEqual([]);
  });
});
