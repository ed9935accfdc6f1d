// The Egnyte Events API end to end on both deployments: ChangeLog rows and a ScaiDrive
// `share.permission_change` audit event ingested over HTTP come back as Egnyte events with
// increasing ids (the permission change derived into the ChangeLog by ingest, stored once however
// often it is sent); on the distributed topology, permission changes produced straight to Kafka
// appear too (derived by the store sink), also when keyed to the wrong partition.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { partitionForKey } from '../infra/log/partitioner.ts';
import { ingest } from './support/api-client.ts';
import { startDistributed, startEmbedded, TOPICS, until, type Topology } from './support/topologies.ts';

const uniq = () => randomBytes(4).toString('hex');

interface EgnyteEvent {
  id: number;
  type: string;
  action: string;
  actor: number;
  data: { target_path: string; is_folder: boolean; source_path?: string };
  action_source: string;
  eventTypeSpecificAttributes?: unknown;
}

async function events(topo: Topology, token: string, qs: string): Promise<{ status: number; body: { count: number; events: EgnyteEvent[]; latest_id: number } | null }> {
  const res = await fetch(`${topo.apiUrl()}${qs}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text) };
}

/** Every event after id 0 once at least `n` are readable. */
async function atLeast(topo: Topology, token: string, n: number, what: string): Promise<EgnyteEvent[]> {
  return until(async () => {
    const r = await events(topo, token, '/pubapi/v2/events?id=0&count=100');
    if (r.status !== 200 && r.status !== 204) throw new Error(`events → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body !== null && r.body.events.length >= n ? r.body.events : undefined;
  }, 60_000, what);
}

function permissionChange(id: string, tenant: string, over: Record<string, unknown> = {}) {
  return {
    id, tenant_id: tenant, event_type: 'share.permission_change', category: 'sharing', severity: 'info',
    user_id: '13', user_email: 'alice@example.com', service_account: null, resource_type: 'folder', resource_id: 'fld_docs',
    resource_name: 'Documents', resource_path: '/Shared/Documents', share_id: 'shr_01J3K', action: 'permission_change',
    outcome: 'success', ip_address: '203.0.113.7', user_agent: 'ScaiDrive/1.0', action_source: 'WebUI',
    details: { changedPermissions: [{ subject: '/user/13', priv: 'READWRITE', action: 'ADD' }, { subject: '/user/13', priv: 'MODIFY', action: 'DELETE' }] },
    event_time: '2026-04-23T10:15:05Z', ...over,
  };
}

const change = (i: number, over: Record<string, unknown> = {}) => ({
  id: `chg_${uniq()}_${i}`, resource_type: 'file', resource_id: `fil_${i}`, change_type: 'created', changed_by: '9967960066',
  changed_at: `2026-04-23T10:15:0${i}Z`, metadata: { action_source: 'SyncEngine' }, old_path: null, new_path: `/Shared/Documents/f${i}.txt`, version_id: null, ...over,
});

for (const start of [startEmbedded, startDistributed]) {
  describe(`Egnyte events through the pipeline (${start === startEmbedded ? 'embedded' : 'Kafka + ClickHouse HTTP'})`, () => {
    let topo: Topology;
    beforeAll(async () => { topo = await start(); });
    afterAll(async () => { await topo?.stop(); });

    it('ingested changes and a permission-change audit event become Egnyte events with increasing ids, the permission change once', async () => {
      const tenant = `tnt_egn_${uniq()}`;
      const write = await topo.token(tenant, 'audit:write');
      const read = await topo.token(tenant, 'audit:read');
      expect((await ingest(topo.ingestUrl(), write, 'changes', [change(1)])).status).toBe(202);
      const audit = permissionChange(`aud_pc_${uniq()}`, tenant);
      const sent = await ingest(topo.ingestUrl(), write, 'audit-events', [audit]);
      expect(sent.status, JSON.stringify(sent.body)).toBe(202);
      // The response names the submitted events only.
      expect(sent.body).toEqual({ accepted: 1, ids: [audit.id] });
      await atLeast(topo, read, 2, 'the change and the permission change');
      // Sent again (a client retry): the same derived row, stored once. The change after it is on
      // the same partition of the changes topic, so once it is readable the re-send was handled.
      expect((await ingest(topo.ingestUrl(), write, 'audit-events', [audit])).status).toBe(202);
      expect((await ingest(topo.ingestUrl(), write, 'changes', [change(2, { change_type: 'moved', old_path: '/Shared/Documents/f1.txt' })])).status).toBe(202);
      const all = await atLeast(topo, read, 3, 'the change after the re-send');
      expect(all.map((e) => e.type)).toEqual(['file_system', 'permission_change', 'file_system']);
      expect(all.map((e) => e.id)).toEqual([1, 2, 3]);
      expect(all[1]).toMatchObject({
        action: 'permission_change', actor: 13, action_source: 'WebUI', data: { target_path: '/Shared/Documents', is_folder: false },
        eventTypeSpecificAttributes: {
          changeGroupEvents: [],
          changePermissionEvent: { changedPermissions: [
            { entry: { priv: 'READWRITE', subject: '/user/13' }, action: 'ADD' },
            { entry: { priv: 'MODIFY', subject: '/user/13' }, action: 'DELETE' },
          ] },
        },
      });
      expect(all[2]).toMatchObject({ action: 'move', actor: 9967960066, action_source: 'SyncEngine', data: { target_path: '/Shared/Documents/f2.txt', source_path: '/Shared/Documents/f1.txt' } });
      // v1 leaves permission changes out unless asked for them.
      const v1 = await events(topo, read, '/pubapi/v1/events?id=0');
      expect(v1.body?.events.map((e) => e.id)).toEqual([1, 3]);
      const cursor = await events(topo, read, '/pubapi/v1/events/cursor');
      expect(cursor.body).toMatchObject({ latest_event_id: 3, oldest_event_id: 1, timestamp: '2026-04-23T10:15:02.000Z' });
      expect((await events(topo, read, '/pubapi/v2/events?id=3')).status).toBe(204);
      // The audit event itself is stored once as well.
      const logs = await until(async () => {
        const r = await fetch(`${topo.apiUrl()}/v1/audit/logs`, { headers: { authorization: `Bearer ${read}` } });
        const l = ((await r.json()) as { logs: { id: string }[] }).logs;
        return l.length > 0 ? l : undefined;
      }, 30_000, 'the audit event');
      expect(logs.map((l) => l.id)).toEqual([audit.id]);
    });

    if (start === startDistributed) {
      it('permission changes produced straight to Kafka are derived by the sink, also when keyed to the wrong partition', async () => {
        const tenant = `tnt_egk_${uniq()}`;
        const read = await topo.token(tenant, 'audit:read');
        const write = await topo.token(tenant, 'audit:write');
        const home = partitionForKey(tenant, 3);
        let wrongKey = 'k0';
        for (let i = 1; partitionForKey(wrongKey, 3) === home; i++) wrongKey = `k${i}`;
        const kafka = new Kafka({ brokers: topo.brokers!, clientId: 'egnyte-test', logLevel: logLevel.NOTHING });
        const producer = kafka.producer();
        await producer.connect();
        try {
          await producer.send({
            topic: TOPICS.audit, acks: -1,
            messages: [
              { key: tenant, value: JSON.stringify(permissionChange(`aud_k1_${uniq()}`, tenant)) },
              { key: wrongKey, value: JSON.stringify(permissionChange(`aud_k2_${uniq()}`, tenant, { resource_path: '/Shared/Other', user_id: 'usr_01J3N' })) },
              { key: tenant, value: JSON.stringify({ ...permissionChange(`aud_k3_${uniq()}`, tenant), category: 'file_access', action: 'read', event_type: 'file.read' }) },
            ],
          });
        } finally {
          await producer.disconnect();
        }
        const pcs = await atLeast(topo, read, 2, 'both permission changes');
        expect(pcs.map((e) => e.type)).toEqual(['permission_change', 'permission_change']);
        expect(pcs.map((e) => e.data.target_path).sort()).toEqual(['/Shared/Documents', '/Shared/Other']);
        expect(pcs[0]!.id).toBeLessThan(pcs[1]!.id);
        // Nothing more arrives for them: a change ingested after them is the next id.
        expect((await ingest(topo.ingestUrl(), write, 'changes', [change(3)])).status).toBe(202);
        const all = await atLeast(topo, read, 3, 'the change after them');
        expect(all.map((e) => e.id)).toEqual([1, 2, 3]);
        expect(all[2]!.type).toBe('file_system');
      });
    }
  });
}
