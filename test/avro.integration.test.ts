// With a schema registry configured, the log carries Avro in the Confluent wire format: our
// ingest writes it, and a service producing Avro straight to the topic is handled the same.
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { getAllLogs, ingest } from './support/api-client.ts';
import { startDistributed, TOPICS, until, type Topology } from './support/topologies.ts';
import { avroSchemaText } from '../schemas/message-codec.ts';
import { normalizeAudit } from '../schemas/normalize.ts';
import { scaidriveAuditExample } from './fixtures/seed-examples.ts';

const uniq = () => randomBytes(4).toString('hex');

describe('Kafka + Avro (Confluent wire format through a schema registry)', () => {
  let topo: Topology;
  beforeAll(async () => { topo = await startDistributed({}, { schemaRegistry: true }); });
  afterAll(async () => { await topo?.stop(); });

  test('ingest writes Avro to the log and the processor stores it', async () => {
    const tenant = `tnt_avro_${uniq()}`;
    const res = await ingest(topo.ingestUrl(), await topo.token(tenant, 'audit:write'), 'audit-events', [{ ...scaidriveAuditExample, tenant_id: tenant, id: `aud_${uniq()}` }]);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const logs = await until(async () => { const l = await getAllLogs(topo.apiUrl(), await topo.token(tenant, 'audit:read')); return l.length === 1 ? l : undefined; });
    assert.equal(logs[0]!['id'], res.body.ids![0]);
    assert.deepEqual(logs[0]!['extra_data'], { version: 1, size: 22300000 });

    // The bytes on the topic are Confluent-framed Avro: magic 0 and a registered schema id.
    const kafka = new Kafka({ brokers: topo.brokers!, clientId: 'avro-reader', logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `avro-reader-${uniq()}`, sessionTimeout: 6000, maxWaitTimeInMs: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.audit, fromBeginning: true });
    let seen: Buffer | null = null;
    // The first message under the tenant's key is the ingested event; the self-audit record of the
    // read above follows it on the same partition (as JSON), so later ones must not overwrite it.
    await consumer.run({ eachMessage: async ({ message }) => { if (message.key?.toString() === tenant) seen ??= message.value; } });
    try {
      await until(async () => seen !== null, 30_000, 'the message on the topic');
    } finally {
      await consumer.disconnect();
    }
    const bytes = seen as unknown as Buffer;
    assert.equal(bytes[0], 0);
    const registry = new SchemaRegistry({ host: topo.schemaRegistryUrl! });
    const decoded = await registry.decode(bytes) as Record<string, unknown>;
    assert.equal(decoded['id'], res.body.ids![0]);
    assert.equal(decoded['source_format'], 'scaidrive');
  });

  test('a service producing Avro straight to the topic is handled the same', async () => {
    const tenant = `tnt_svc_${uniq()}`;
    const registry = new SchemaRegistry({ host: topo.schemaRegistryUrl! });
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: avroSchemaText('audit') }, { subject: `${TOPICS.audit}-value` });
    const n = normalizeAudit({ ...scaidriveAuditExample, tenant_id: tenant, id: `aud_svc_${uniq()}` }, { tenantId: tenant });
    assert.ok(n.ok);
    const kafka = new Kafka({ brokers: topo.brokers!, clientId: 'avro-service', logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: TOPICS.audit, acks: -1, messages: [{ key: tenant, value: await registry.encode(id, n.value) }] });
    await producer.disconnect();
    const logs = await until(async () => { const l = await getAllLogs(topo.apiUrl(), await topo.token(tenant, 'audit:read')); return l.length === 1 ? l : undefined; });
    assert.equal(logs[0]!['id'], n.value.id);
    assert.equal(logs[0]!['identity_id'], 'usr_01J3N');
  });
});
