// The forwarded event through the real pipeline (distributed: Kafka mock cluster + ClickHouse over
// HTTP): events ingested in each producer's native shape are forwarded from the log's bytes (the
// live forwarder's path) and from the stored rows (replays) as the same JSON, byte for byte.
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseHttpStore } from '../infra/store/clickhouse-http-store.ts';
import { cefRecord } from '../processors/siem/cef.ts';
import { forwardedFromLog, forwardedFromRow } from '../processors/siem/forwarded-event.ts';
import { ingest } from './support/api-client.ts';
import { scaidriveAuditExample, scaivaultLogExample } from './fixtures/seed-examples.ts';
import { startDistributed, TOPICS, until, type Topology } from './support/topologies.ts';

const uniq = () => randomBytes(4).toString('hex');

describe('forwarded event: log form and stored row agree', () => {
  let topo: Topology;
  beforeAll(async () => { topo = await startDistributed(); });
  afterAll(async () => { await topo?.stop(); });

  it('ScaiDrive, ScaiVault and canonical events forward identically from the log and from the store', async () => {
    const tenant = `tnt_fwd_${uniq()}`;
    const events = [
      { ...scaidriveAuditExample, tenant_id: tenant, id: `aud_sd_${uniq()}`, details: { note: 'ünï | = ✓', nested: [1, { a: null }] } },
      { ...scaivaultLogExample, id: `log_sv_${uniq()}` },
      {
        id: `aud_cn_${uniq()}`, tenant_id: tenant, event_time: '2026-04-23T10:15:05.5Z', event_type: 'share.update', action: 'permission_change',
        category: 'sharing', severity: 'warning', outcome: 'denied',
        actor: { id: 'usr_9', type: 'user', email: 'bob@example.com' },
        resource: { type: 'share', id: 'shr_9', name: 'Q3 "board" deck', path: '/a\\b' }, source_ip: '2001:db8::7',
      },
    ];
    const res = await ingest(topo.ingestUrl(), await topo.token(tenant, 'audit:write'), 'audit-events', events);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const ids = res.body.ids!;

    const store = new ClickHouseHttpStore({ url: topo.clickhouseUrl! });
    try {
      const rows = await until(async () => {
        const r = await store.query('SELECT * FROM audit_events WHERE tenant_id = {t:String} ORDER BY seq', { t: tenant });
        return r.length === ids.length ? r : undefined;
      }, 60_000, 'the stored rows');

      const kafka = new Kafka({ brokers: topo.brokers!, clientId: 'siem-forwarded', logLevel: logLevel.NOTHING });
      const consumer = kafka.consumer({ groupId: `siem-forwarded-${uniq()}`, sessionTimeout: 6000, maxWaitTimeInMs: 500 });
      await consumer.connect();
      await consumer.subscribe({ topic: TOPICS.audit, fromBeginning: true });
      const logged = new Map<string, Buffer>();
      await consumer.run({
        eachMessage: async ({ message }) => {
          const id = message.headers?.['af-id']?.toString();
          if (message.key?.toString() === tenant && id && message.value && ids.includes(id)) logged.set(id, message.value);
        },
      });
      try {
        await until(async () => logged.size === ids.length, 60_000, 'the log records');
      } finally {
        await consumer.disconnect();
      }

      for (const row of rows) {
        const fromRow = forwardedFromRow(row);
        const fromLog = forwardedFromLog(logged.get(fromRow.id)!);
        expect(JSON.stringify(fromRow)).toBe(JSON.stringify(fromLog));
        expect(cefRecord(fromRow)).toBe(cefRecord(fromLog));
      }
      const byId = new Map(rows.map((r) => [String(r['id']), forwardedFromRow(r)]));
      const sd = byId.get(ids[0]!)!;
      expect(sd).toMatchObject({ tenant_id: tenant, event_type: 'file.create', source_ip: '203.0.113.7', success: true, service_account: '3seej56cg90454l845dt93rfilywskbw' });
      expect(sd.details).toEqual({ note: 'ünï | = ✓', nested: [1, { a: null }] });
      const sv = byId.get(ids[1]!)!;
      expect(sv).toMatchObject({ event_type: 'secret.read', duration_ms: 12, success: true, source_format: 'scaivault' });
      const cn = byId.get(ids[2]!)!;
      expect(cn).toMatchObject({ event_time: '2026-04-23T10:15:05.500Z', resource_name: 'Q3 "board" deck', resource_path: '/a\\b', duration_ms: null, service_account: null });
      expect(cefRecord(cn)).toContain('c6a2=2001:db8::7 c6a2Label=Source IPv6 Address');
    } finally {
      await store.close();
    }
  });
});
