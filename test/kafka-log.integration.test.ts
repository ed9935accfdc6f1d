// KafkaLogProducer / KafkaLogConsumer against a real Kafka protocol implementation: librdkafka's
// mock cluster (3 brokers), started per test with a topic of its own. Rebalances on the mock take
// about sessionTimeout - 1 s, hence the short session timeout and generous deadlines.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { logLevel } from 'kafkajs';
import { isAuditflowError } from '../infra/errors.ts';
import { KafkaLogConsumer, KafkaLogProducer, type KafkaLogOptions } from '../infra/log/kafka-log.ts';
import type { LogBatch, LogMessage, PartitionHandler } from '../infra/log/log.ts';
import { startKafkaMock, type KafkaMock } from './support/kafka-mock.ts';

const CONSUMER_TUNING = { sessionTimeoutMs: 6000, maxWaitTimeInMs: 500, logLevel: logLevel.NOTHING } as const;

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function withKafka(partitions: number, fn: (mock: KafkaMock, topic: string) => Promise<void>): Promise<void> {
  const topic = `t-${randomUUID().slice(0, 8)}`;
  const mock = await startKafkaMock([{ name: topic, partitions }]);
  try {
    await fn(mock, topic);
  } finally {
    await mock.stop();
  }
}

type Event =
  | { type: 'assign' | 'revoke'; partition: number }
  | { type: 'batch'; partition: number; offsets: bigint[] }
  | { type: 'fail'; partition: number };

/** Records every call; optionally commits each batch, or fails some batches. */
class Recorder implements PartitionHandler {
  readonly events: Event[] = [];
  readonly messages: Array<LogMessage & { partition: number }> = [];
  ticks = 0;
  consumer: KafkaLogConsumer | null = null;
  constructor(private readonly opts: { commit?: boolean; failBatch?: (b: LogBatch) => boolean; failAfterMs?: number } = {}) {}

  async onAssign(_topic: string, partition: number): Promise<void> {
    this.events.push({ type: 'assign', partition });
  }
  async onRevoke(_topic: string, partition: number): Promise<void> {
    this.events.push({ type: 'revoke', partition });
  }
  async onTick(): Promise<void> {
    this.ticks++;
  }
  async onBatch(b: LogBatch): Promise<void> {
    if (this.opts.failBatch?.(b)) {
      this.events.push({ type: 'fail', partition: b.partition });
      // Fail slowly, so kafkajs has batches of other brokers' partitions queued by then.
      if (this.opts.failAfterMs) await new Promise((r) => setTimeout(r, this.opts.failAfterMs));
      throw new Error('injected handler failure');
    }
    this.events.push({ type: 'batch', partition: b.partition, offsets: b.messages.map((m) => m.offset) });
    for (const m of b.messages) this.messages.push({ ...m, partition: b.partition });
    const last = b.messages[b.messages.length - 1];
    if (this.opts.commit && last && this.consumer) await this.consumer.commit(b.topic, b.partition, last.offset + 1n);
  }
  values(): string[] {
    return this.messages.map((m) => m.value?.toString('utf8') ?? '');
  }
  offsetsOf(partition: number): bigint[] {
    return this.messages.filter((m) => m.partition === partition).map((m) => m.offset);
  }
}

function consumerFor(mock: KafkaMock, topic: string, groupId: string, extra: Partial<KafkaLogOptions> = {}): KafkaLogConsumer {
  return new KafkaLogConsumer({ brokers: mock.brokers, clientId: `c-${groupId}`, groupId, topics: [topic], ...CONSUMER_TUNING, ...extra });
}

function producerFor(mock: KafkaMock): KafkaLogProducer {
  return new KafkaLogProducer({ brokers: mock.brokers, clientId: 'test-producer', logLevel: logLevel.NOTHING });
}

/** JSON for assertion messages (bigint-safe). */
const show = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x));

const range = (from: number, to: number): bigint[] => Array.from({ length: to - from }, (_, i) => BigInt(from + i));

test('produce → consume: per-key order, keys in partitionFor\'s partition, headers, onAssign first, onTick', async () => {
  await withKafka(3, async (mock, topic) => {
    const producer = producerFor(mock);
    const consumer = consumerFor(mock, topic, 'g-roundtrip');
    const rec = new Recorder();
    try {
      const tenants = Array.from({ length: 12 }, (_, i) => `tenant-${i}`);
      const records = Array.from({ length: 120 }, (_, i) => ({
        key: tenants[i % tenants.length] as string,
        value: Buffer.from(`${tenants[i % tenants.length]}#${i}`),
        headers: { 'af-seq': String(i), 'af-kind': 'audit' },
      }));
      // Several sends, so the log holds several produce batches per partition.
      for (let i = 0; i < records.length; i += 40) await producer.send(topic, records.slice(i, i + 40));

      const expectedPartition = new Map<string, number>();
      for (const t of tenants) expectedPartition.set(t, await producer.partitionFor(topic, t));
      assert.ok(new Set(expectedPartition.values()).size > 1, 'the keys should spread over several partitions');
      for (const p of expectedPartition.values()) assert.ok(p >= 0 && p < 3);

      await consumer.run(rec);
      await waitFor('all 120 messages', () => rec.messages.length >= 120);
      await waitFor('onTick calls', () => rec.ticks >= 2, 5_000);

      assert.equal(rec.messages.length, 120, 'each message exactly once');
      for (const m of rec.messages) {
        assert.ok(m.key !== null);
        assert.equal(m.partition, expectedPartition.get(m.key), `key ${m.key} landed in partition ${m.partition}`);
        assert.equal(m.headers['af-kind'], 'audit');
        assert.equal(m.value?.toString('utf8'), `${m.key}#${m.headers['af-seq']}`);
        assert.equal(typeof m.offset, 'bigint');
        assert.ok(Number.isFinite(m.timestamp) && m.timestamp > 0);
      }
      // Offsets are contiguous from 0 in every partition, and each tenant's messages are in produce order.
      for (let p = 0; p < 3; p++) {
        const offs = rec.offsetsOf(p);
        assert.deepEqual(offs, range(0, offs.length), `partition ${p} offsets in order`);
      }
      for (const t of tenants) {
        const seqs = rec.messages.filter((m) => m.key === t).map((m) => Number(m.headers['af-seq']));
        assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `tenant ${t} in order`);
        assert.equal(seqs.length, 10);
      }
      // onAssign precedes the first batch of each partition, exactly once (no rebalance happened).
      for (let p = 0; p < 3; p++) {
        const evs = rec.events.filter((e) => e.partition === p);
        if (evs.length === 0) continue;
        assert.equal(evs[0]?.type, 'assign', `partition ${p}: ${show(evs.map((e) => e.type))}`);
        assert.equal(evs.filter((e) => e.type === 'assign').length, 1);
      }
      // Empty sends resolve without touching Kafka.
      await producer.send(topic, []);
    } finally {
      await consumer.stop();
      await producer.close();
    }
  });
});

test('uncommitted messages are redelivered to the group\'s next consumer; committed ones are not', async () => {
  await withKafka(2, async (mock, topic) => {
    const producer = producerFor(mock);
    const first = consumerFor(mock, topic, 'g-redeliver');
    const rec1 = new Recorder();
    let second: KafkaLogConsumer | null = null;
    try {
      // Keys chosen so both partitions get messages.
      const keys = ['k-a', 'k-b', 'k-c', 'k-d', 'k-e', 'k-f'];
      const parts = await Promise.all(keys.map((k) => producer.partitionFor(topic, k)));
      const k0 = keys[parts.indexOf(0)];
      const k1 = keys[parts.indexOf(1)];
      assert.ok(k0 && k1, `need a key per partition, got ${show(parts)}`);
      await producer.send(topic, Array.from({ length: 10 }, (_, i) => ({ key: k0, value: Buffer.from(`p0-${i}`) })));
      await producer.send(topic, Array.from({ length: 10 }, (_, i) => ({ key: k1, value: Buffer.from(`p1-${i}`) })));

      await first.run(rec1);
      await waitFor('first consumer to read 20', () => rec1.messages.length >= 20);
      await first.commit(topic, 0, 10n); // everything in partition 0
      await first.commit(topic, 1, 4n); //  partition 1 up to offset 3
      await assert.rejects(first.commit(topic, 7, 1n), (e) => isAuditflowError(e) && e.code === 'LOG_UNAVAILABLE');
      await first.stop();
      await assert.rejects(first.commit(topic, 0, 10n), (e) => isAuditflowError(e) && e.code === 'LOG_UNAVAILABLE');

      second = consumerFor(mock, topic, 'g-redeliver');
      const rec2 = new Recorder();
      await second.run(rec2);
      await producer.send(topic, [{ key: k0, value: Buffer.from('p0-new') }, { key: k1, value: Buffer.from('p1-new') }]);
      await waitFor('second consumer to read the new messages', () => rec2.values().includes('p0-new') && rec2.values().includes('p1-new'));

      assert.deepEqual(rec2.offsetsOf(0), [10n], 'partition 0 was committed: only the new message');
      assert.deepEqual(rec2.offsetsOf(1), range(4, 11), 'partition 1 resumes at the committed offset 4');
      assert.deepEqual(rec2.values().filter((v) => v.startsWith('p1-')), ['p1-4', 'p1-5', 'p1-6', 'p1-7', 'p1-8', 'p1-9', 'p1-new']);
    } finally {
      await first.stop();
      await second?.stop();
      await producer.close();
    }
  });
});

test('stop() lets the batch in progress finish and commit, then hands nothing more to the handler', async () => {
  await withKafka(1, async (mock, topic) => {
    const producer = producerFor(mock);
    const first = consumerFor(mock, topic, 'g-stop');
    let second: KafkaLogConsumer | null = null;
    try {
      await producer.send(topic, Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: Buffer.from(`m${i}`) })));
      let release!: () => void;
      const gate = new Promise<void>((r) => { release = r; });
      let inBatch = false;
      let commitResult: string | null = null;
      let callsAfterStop = 0;
      let stopped = false;
      await first.run({
        onAssign: async () => {}, onRevoke: async () => {},
        onTick: async () => { if (stopped) callsAfterStop++; },
        onBatch: async (b) => {
          if (stopped) callsAfterStop++;
          inBatch = true;
          await gate;
          const last = b.messages[b.messages.length - 1] as LogMessage;
          commitResult = await first.commit(b.topic, b.partition, last.offset + 1n).then(() => 'ok', (e: Error) => e.message);
        },
      });
      await waitFor('the first batch to be in progress', () => inBatch);
      const stopping = first.stop().then(() => { stopped = true; });
      release();
      await stopping;
      assert.equal(commitResult, 'ok', 'the in-progress batch could still commit');
      assert.equal(callsAfterStop, 0);

      second = consumerFor(mock, topic, 'g-stop');
      const rec = new Recorder();
      await second.run(rec);
      await producer.send(topic, [{ key: 'k', value: Buffer.from('after') }]);
      await waitFor('the new message', () => rec.values().includes('after'));
      assert.deepEqual(rec.values(), ['after'], 'what the stopped consumer committed is not delivered again');
      assert.equal(callsAfterStop, 0, 'the stopped consumer handled nothing more');
    } finally {
      await first.stop();
      await second?.stop();
      await producer.close();
    }
  });
});

test('a partition kept through a rebalance is revoked, re-assigned and re-read from its committed offset', async ({ annotate }) => {
  await withKafka(2, async (mock, topic) => {
    const producer = producerFor(mock);
    const a = consumerFor(mock, topic, 'g-rebalance');
    const b = consumerFor(mock, topic, 'g-rebalance');
    const recA = new Recorder();
    const recB = new Recorder();
    try {
      const keys = ['k-a', 'k-b', 'k-c', 'k-d', 'k-e', 'k-f'];
      const parts = await Promise.all(keys.map((k) => producer.partitionFor(topic, k)));
      const byPartition = [keys[parts.indexOf(0)], keys[parts.indexOf(1)]] as const;
      assert.ok(byPartition[0] && byPartition[1]);
      for (const p of [0, 1] as const) {
        await producer.send(topic, Array.from({ length: 8 }, (_, i) => ({ key: byPartition[p] as string, value: Buffer.from(`p${p}-${i}`) })));
      }
      await a.run(recA);
      await waitFor('A to read 16', () => recA.messages.length >= 16);
      await a.commit(topic, 0, 5n);
      await a.commit(topic, 1, 3n);
      const before = recA.events.length;

      await b.run(recB); // joins the group: A must give up one partition
      await waitFor('both consumers to hold a partition and re-read', () =>
        recB.messages.length > 0 && recA.events.slice(before).some((e) => e.type === 'batch'));

      // Asserted so that it holds however many rebalances the join takes (the mock sometimes needs
      // a second one, or a supervisor restart): nobody commits, so every (re)delivery of a partition
      // starts at its committed offset, right after an onAssign that follows an onRevoke.
      const committed = [5n, 3n];
      const afterJoin = recA.events.slice(before);
      for (const p of [0, 1]) {
        const first = afterJoin.find((e) => e.partition === p);
        assert.equal(first?.type, 'revoke', `A revokes partition ${p} at the join, kept or not: ${show(afterJoin)}`);
      }
      for (const [who, events] of [['A', afterJoin], ['B', recB.events]] as const) {
        events.forEach((e, i) => {
          if (e.type !== 'batch') return;
          const prev = events.slice(0, i).reverse().find((x) => x.partition === e.partition);
          assert.ok(prev && (prev.type === 'assign' || prev.type === 'batch'), `${who}: batch without assign: ${show(events)}`);
          if (prev.type === 'assign') {
            assert.equal(e.offsets[0], committed[e.partition], `${who} re-reads partition ${e.partition} from its committed offset: ${show(events)}`);
          }
        });
      }
      await annotate(`consumers re-created: A ${a.restarts}, B ${b.restarts}`);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await producer.close();
    }
  });
});

test('supervisor: a handler failure crashes the consumer, which is re-created and loses nothing', async () => {
  await withKafka(6, async (mock, topic) => {
    const producer = producerFor(mock);
    const consumer = consumerFor(mock, topic, 'g-crash');
    let failures = 0;
    // The first batch fails after the handler saw it; each later batch is committed.
    const rec = new Recorder({ commit: true, failBatch: () => failures++ === 0, failAfterMs: 1000 });
    rec.consumer = consumer;
    try {
      const values = Array.from({ length: 60 }, (_, i) => `v${i}`);
      await producer.send(topic, values.map((v, i) => ({ key: `tenant-${i % 20}`, value: Buffer.from(v) })));
      await consumer.run(rec);
      await waitFor('all 60 messages after the restart', () => new Set(rec.values()).size >= 60, 45_000);

      assert.equal(consumer.restarts, 1, 'the supervisor re-created the consumer once');
      const failIdx = rec.events.findIndex((e) => e.type === 'fail');
      assert.ok(failIdx >= 0);
      const failed = rec.events[failIdx] as { partition: number };
      const after = rec.events.slice(failIdx + 1);
      // After the failure nothing is handled until every partition handed to the handler is revoked
      // (kafkajs itself would go on delivering batches it already fetched from other brokers).
      const heldBefore = new Set(rec.events.slice(0, failIdx + 1).filter((e) => e.type === 'assign').map((e) => e.partition));
      const firstHandled = after.findIndex((e) => e.type !== 'revoke');
      assert.ok(firstHandled > 0, show(rec.events));
      assert.deepEqual(new Set(after.slice(0, firstHandled).map((e) => e.partition)), heldBefore, show(rec.events));
      assert.equal(after[firstHandled]?.type, 'assign', 'the new consumer assigns before its first batch');
      // The failed batch is delivered again from offset 0 (nothing of it was committed) and nothing is lost.
      assert.equal(rec.offsetsOf(failed.partition)[0], 0n);
      assert.deepEqual(new Set(rec.values()), new Set(values));
      assert.equal(rec.messages.length, 60, 'no message was handled twice');
    } finally {
      await consumer.stop();
      await producer.close();
    }
  });
});

// A consumer of the same group in another process: the member joining a running group is what
// makes kafkajs crash against the mock cluster (INVALID_REQUEST on SyncGroup, or a commit failing
// with REBALANCE_IN_PROGRESS that the handler rethrows); the supervisors must lose nothing.
const CHILD_CONSUMER = `
import { KafkaLogConsumer } from ${JSON.stringify(new URL('../infra/log/kafka-log.ts', import.meta.url).href)};
const [brokers, topic, groupId] = process.argv.slice(1);
const c = new KafkaLogConsumer({ brokers: brokers.split(','), clientId: 'child', groupId, topics: [topic],
  sessionTimeoutMs: 6000, maxWaitTimeInMs: 500, logLevel: 0 });
await c.run({
  onAssign: async () => {}, onRevoke: async () => {}, onTick: async () => {},
  onBatch: async (b) => {
    for (const m of b.messages) process.stdout.write(JSON.stringify({ p: b.partition, o: String(m.offset), v: m.value.toString() }) + '\\n');
    await c.commit(b.topic, b.partition, b.messages[b.messages.length - 1].offset + 1n);
  },
});
process.stdout.write('{"ready":true}\\n');
process.on('SIGTERM', () => { c.stop().then(() => process.exit(0)); });
`;

test('two processes in one group: after the second one joins, every message is still delivered', async ({ annotate }) => {
  await withKafka(4, async (mock, topic) => {
    const producer = producerFor(mock);
    const groupId = 'g-two-processes';
    const parent = consumerFor(mock, topic, groupId);
    const rec = new Recorder({ commit: true });
    rec.consumer = parent;
    const childValues: string[] = [];
    let childReady = false;
    let childErr = '';
    let child: ReturnType<typeof spawn> | null = null;
    let childExited: Promise<unknown> = Promise.resolve();
    const startChild = (): void => {
      const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD_CONSUMER, mock.brokers.join(','), topic, groupId], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_ENV: 'test' },
      });
      child = c;
      childExited = new Promise((resolve) => c.once('exit', resolve));
      createInterface({ input: c.stdout }).on('line', (line) => {
        let o: { ready?: boolean; v?: string };
        try {
          o = JSON.parse(line) as typeof o;
        } catch {
          childErr += `${line}\n`;
          return;
        }
        if (o.ready) childReady = true;
        if (o.v !== undefined) childValues.push(o.v);
      });
      c.stderr.on('data', (d: Buffer) => { childErr = (childErr + d.toString()).slice(-2000); });
    };
    try {
      const produced: string[] = [];
      let n = 0;
      const produce = async (count: number): Promise<void> => {
        const batch = Array.from({ length: count }, () => `v${n++}`);
        await producer.send(topic, batch.map((v) => ({ key: `tenant-${Number(v.slice(1)) % 13}`, value: Buffer.from(v) })));
        produced.push(...batch);
      };
      await produce(40);
      await parent.run(rec);
      await waitFor('the parent to read the first 40', () => rec.messages.length >= 40);
      startChild();
      // Keep producing while the child joins, until both have read messages produced after it did.
      const deadline = Date.now() + 60_000;
      let mark = -1;
      while (Date.now() < deadline) {
        await produce(8);
        if (childReady && mark < 0) mark = n;
        const late = (vs: string[]): boolean => mark >= 0 && vs.some((v) => Number(v.slice(1)) >= mark);
        if (late(childValues) && late(rec.values())) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const seen = (): Set<string> => new Set([...rec.values(), ...childValues]);
      await waitFor('every produced message to be delivered to one of the two', () => produced.every((v) => seen().has(v)), 30_000)
        .catch((e: Error) => {
          throw new Error(`${e.message}: missing ${show(produced.filter((v) => !seen().has(v)).slice(0, 20))}; child stderr: ${childErr}`);
        });
      assert.ok(childValues.length > 0, `the child got partitions: ${childErr}`);
      assert.ok(rec.values().some((v) => Number(v.slice(1)) >= mark), 'the parent kept consuming after the join');
      await annotate(`parent consumer re-created ${parent.restarts} time(s); ${produced.length} produced, ` +
        `${rec.messages.length + childValues.length - produced.length} delivered twice`);
    } finally {
      const c = child as ReturnType<typeof spawn> | null;
      c?.kill('SIGTERM');
      const killer = setTimeout(() => c?.kill('SIGKILL'), 10_000);
      await childExited;
      clearTimeout(killer);
      await parent.stop();
      await producer.close();
    }
  });
});

test('producer errors are LOG_UNAVAILABLE (retriable)', async () => {
  await withKafka(1, async (mock, topic) => {
    const producer = producerFor(mock);
    try {
      await producer.send(topic, [{ key: 'k', value: Buffer.from('x') }]);
      assert.equal(await producer.partitionFor(topic, 'k'), 0);
    } finally {
      await producer.close();
    }
    await mock.stop();
    const dead = new KafkaLogProducer({ brokers: mock.brokers, clientId: 'dead', logLevel: logLevel.NOTHING });
    try {
      await assert.rejects(dead.send(topic, [{ key: 'k', value: Buffer.from('x') }]), (e) => isAuditflowError(e) && e.code === 'LOG_UNAVAILABLE' && e.retriable);
    } finally {
      await dead.close();
    }
  });
});
