// KafkaLogAdmin and the consumer's retention check against librdkafka's mock cluster, which lacks
// DescribeGroups, DeleteGroups and ListOffsets by timestamp (it answers the end): each test goes
// through the way round that infra/log/kafka-admin.ts takes there, with its own topic and groups.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { isAuditflowError } from '../infra/errors.ts';
import { KafkaLogAdmin, KafkaLogConsumer, KafkaLogProducer } from '../infra/log/kafka-log.ts';
import type { LogBatch, LogMessage, PartitionHandler } from '../infra/log/log.ts';
import { RetentionStats } from '../infra/log/retention.ts';
import { startKafkaMock, type KafkaMock } from './support/kafka-mock.ts';

const TUNING = { sessionTimeoutMs: 6000, maxWaitTimeInMs: 500, logLevel: logLevel.NOTHING } as const;

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function withKafka(partitions: number, fn: (mock: KafkaMock, topic: string, admin: KafkaLogAdmin) => Promise<void>): Promise<void> {
  const topic = `t-${randomUUID().slice(0, 8)}`;
  const mock = await startKafkaMock([{ name: topic, partitions }]);
  const admin = new KafkaLogAdmin({ brokers: mock.brokers, clientId: 'admin', ...TUNING });
  try {
    await fn(mock, topic, admin);
  } finally {
    await admin.close();
    await mock.stop();
  }
}

/** Collects batches; commits each when `consumer` is set. */
class Collector implements PartitionHandler {
  readonly messages: LogMessage[] = [];
  consumer: KafkaLogConsumer | null = null;
  async onAssign(): Promise<void> {}
  async onRevoke(): Promise<void> {}
  async onTick(): Promise<void> {}
  async onBatch(b: LogBatch): Promise<void> {
    this.messages.push(...b.messages);
    const last = b.messages[b.messages.length - 1];
    if (this.consumer && last) await this.consumer.commit(b.topic, b.partition, last.offset + 1n);
  }
}

async function runConsumer(mock: KafkaMock, topic: string, group: string, extra: { outOfRetention?: 'stop' | 'continue'; retentionStats?: RetentionStats } = {}) {
  const consumer = new KafkaLogConsumer({ brokers: mock.brokers, clientId: `c-${group}`, groupId: group, topics: [topic], ...TUNING, ...extra });
  const handler = new Collector();
  handler.consumer = consumer;
  await consumer.run(handler);
  return { consumer, handler };
}

const groupActive = (e: unknown) => isAuditflowError(e) && e.code === 'LOG_GROUP_ACTIVE';

test('bounds, positions and offsetsForTime (the mock ignores the timestamp: its answer is checked and replaced by a search)', async () => {
  await withKafka(2, async (mock, topic, admin) => {
    const kafka = new Kafka({ brokers: mock.brokers, clientId: 'stamper', logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const t0 = 1_700_000_000_000;
    // Partition 0: 50 records stamped t0 + i s, in batches of 10 (each send one record batch); partition 1: 5.
    for (let b = 0; b < 5; b++) {
      await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, k) => ({ partition: 0, value: `p0-${b * 10 + k}`, timestamp: String(t0 + (b * 10 + k) * 1000) })) });
    }
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 5 }, (_, k) => ({ partition: 1, value: `p1-${k}`, timestamp: String(t0 + k * 10_000) })) });
    await producer.disconnect();

    assert.deepEqual(await admin.earliest(topic), [0n, 0n]);
    assert.deepEqual(await admin.end(topic), [50n, 5n]);
    const first = (stamps: number[], t: number) => BigInt(((i) => (i < 0 ? stamps.length : i))(stamps.findIndex((s) => s >= t)));
    const p0 = Array.from({ length: 50 }, (_, i) => t0 + i * 1000);
    const p1 = Array.from({ length: 5 }, (_, i) => t0 + i * 10_000);
    for (const t of [t0 - 1, t0, t0 + 1, t0 + 9_500, t0 + 10_000, t0 + 25_000, t0 + 40_001, t0 + 49_000, t0 + 49_001, t0 + 10 ** 9]) {
      assert.deepEqual(await admin.offsetsForTime(topic, t), [first(p0, t), first(p1, t)], `at t0 + ${t - t0} ms`);
    }

    const group = `g-${randomUUID().slice(0, 6)}`;
    assert.deepEqual(await admin.committed(group, topic), [null, null]);
    await admin.setCommitted(group, topic, [20n, 5n]);
    assert.deepEqual(await admin.committed(group, topic), [20n, 5n]);
    await assert.rejects(admin.setCommitted(group, topic, [51n, 0n]), /offset 51 is outside .*\[0\] \(0\.\.50\)/);
    assert.deepEqual(await admin.outOfRetention(group, topic), []);
  });
});

test('a consumer starts where setCommitted put it; while it runs setCommitted is refused; afterwards setCommitted and deleteGroup work (the mock: as the sole member)', async () => {
  await withKafka(1, async (mock, topic, admin) => {
    const producer = new KafkaLogProducer({ brokers: mock.brokers, clientId: 'p', logLevel: logLevel.NOTHING });
    await producer.send(topic, Array.from({ length: 30 }, (_, i) => ({ key: 'tenant', value: `v${i}` })));
    const group = `g-${randomUUID().slice(0, 6)}`;
    await admin.setCommitted(group, topic, [10n]);
    const { consumer, handler } = await runConsumer(mock, topic, group);
    try {
      await waitFor('20 messages', () => handler.messages.length >= 20);
      assert.deepEqual(handler.messages.map((m) => Number(m.offset)), Array.from({ length: 20 }, (_, i) => 10 + i));
      await assert.rejects(admin.setCommitted(group, topic, [0n]), groupActive);
    } finally {
      await consumer.stop();
    }
    await consumer.done();
    assert.deepEqual(await admin.committed(group, topic), [30n]);
    await admin.setCommitted(group, topic, [5n]);
    assert.deepEqual(await admin.committed(group, topic), [5n]);
    await admin.deleteGroup(group);
    assert.deepEqual(await admin.committed(group, topic), [null]);
    await admin.deleteGroup(`never-${randomUUID().slice(0, 6)}`); // an unknown group is no error

    // Deleted: the group starts afresh, from the beginning.
    const again = await runConsumer(mock, topic, group);
    try {
      await waitFor('all 30 again', () => again.handler.messages.length >= 30);
      assert.equal(again.handler.messages[0]!.offset, 0n);
    } finally {
      await again.consumer.stop();
    }
    await producer.close();
  });
});

test('a committed offset below the low watermark: the consumer stops with LOG_POSITION_OUT_OF_RETENTION instead of kafkajs resetting silently; counted; continue reads on from the low watermark', async () => {
  await withKafka(1, async (mock, topic, admin) => {
    const producer = new KafkaLogProducer({ brokers: mock.brokers, clientId: 'p', logLevel: logLevel.NOTHING });
    await producer.send(topic, Array.from({ length: 5 }, (_, i) => ({ key: 'tenant', value: `small-${i}` })));
    const group = `g-${randomUUID().slice(0, 6)}`;
    await admin.setCommitted(group, topic, [2n]);
    // The mock keeps about the last 5 MiB of a partition: 8 MiB more moves its low watermark.
    const big = 'x'.repeat(100_000);
    for (let i = 0; i < 80; i++) await producer.send(topic, [{ key: 'tenant', value: big }]);
    await producer.close();
    const [earliest] = await admin.earliest(topic);
    assert.ok(earliest !== undefined && earliest > 2n, `the low watermark moved (${earliest})`);
    assert.deepEqual(await admin.outOfRetention(group, topic), [{ group, topic, partition: 0, position: 2n, earliest }]);

    const stopped = await runConsumer(mock, topic, group);
    const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms))]);
    await assert.rejects(within(stopped.consumer.done(), 30_000), (e: unknown) =>
      isAuditflowError(e) && e.code === 'LOG_POSITION_OUT_OF_RETENTION' && e.message.includes(`group ${group} on ${topic}[0] is at offset 2,`) && e.message.includes(`from ${earliest} only`));
    assert.equal(stopped.handler.messages.length, 0, 'nothing past the gap was handed over');
    assert.deepEqual(stopped.consumer.retentionStats.counts(), [{ group, topic, outOfRetention: 1, lostRecords: 0 }]);
    assert.deepEqual(await admin.committed(group, topic), [2n], 'the position is left as it was, for its owner to decide');

    const stats = new RetentionStats();
    const reading = await runConsumer(mock, topic, group, { outOfRetention: 'continue', retentionStats: stats });
    try {
      await waitFor('records from the low watermark', () => reading.handler.messages.length > 0);
      assert.equal(reading.handler.messages[0]!.offset, earliest);
      assert.equal(stats.counts()[0]?.outOfRetention, 1);
    } finally {
      await reading.consumer.stop();
    }
  });
});

test('retention overtaking a running consumer (kafkajs resets its fetch position) stops it with the error naming where it was', async () => {
  await withKafka(1, async (mock, topic, admin) => {
    const producer = new KafkaLogProducer({ brokers: mock.brokers, clientId: 'p', logLevel: logLevel.NOTHING });
    await producer.send(topic, Array.from({ length: 5 }, (_, i) => ({ key: 'tenant', value: `small-${i}` })));
    const group = `g-${randomUUID().slice(0, 6)}`;
    const consumer = new KafkaLogConsumer({ brokers: mock.brokers, clientId: `c-${group}`, groupId: group, topics: [topic], ...TUNING });
    const got: LogMessage[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    await consumer.run({
      onAssign: async () => undefined, onRevoke: async () => undefined, onTick: async () => undefined,
      onBatch: async (b) => { got.push(...b.messages); await gate; },
    });
    try {
      await waitFor('the first batch', () => got.length === 5);
      const big = 'x'.repeat(100_000);
      for (let i = 0; i < 80; i++) await producer.send(topic, [{ key: 'tenant', value: big }]);
      const [earliest] = await admin.earliest(topic);
      assert.ok(earliest !== undefined && earliest > 5n);
      release();
      const settled = await Promise.race([consumer.done().then(() => null, (e: unknown) => e), new Promise((r) => setTimeout(() => r('not settled'), 30_000))]);
      assert.ok(isAuditflowError(settled) && settled.code === 'LOG_POSITION_OUT_OF_RETENTION', `got ${String(settled)}`);
      assert.match(settled.message, new RegExp(`on ${topic}\\[0\\] is at offset 5, but the log holds offsets from \\d+ only`));
      assert.equal(got.length, 5, 'what came after the gap was not handed over');
      assert.equal(consumer.retentionStats.counts()[0]?.outOfRetention, 1);
    } finally {
      release();
      await consumer.stop();
      await producer.close();
    }
  });
});
