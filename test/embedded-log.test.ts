import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmbeddedLog, EmbeddedLogConsumer, EmbeddedLogProducer } from '../infra/log/embedded-log.ts';
import type { LogBatch, LogMessage, PartitionHandler } from '../infra/log/log.ts';
import { isGroupMagic } from '../infra/log/log-format.ts';
import { partitionForKey } from '../infra/log/partitioner.ts';

const rec = (key: string, i: number) => ({ key, value: Buffer.from(JSON.stringify({ i })), headers: { h: String(i) } });

function collector(into: LogMessage[], partitions: Set<number> = new Set()): PartitionHandler {
  return {
    onAssign: async () => undefined,
    onBatch: async (b: LogBatch) => { into.push(...b.messages); partitions.add(b.partition); },
    onRevoke: async () => undefined,
    onTick: async () => undefined,
  };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const tmp = () => mkdtempSync(path.join(tmpdir(), 'af-log-'));

test('records come back in order with keys, headers and offsets, across segment rolls', async () => {
  const dir = tmp();
  const log = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 100 * 1024 });
  const producer = new EmbeddedLogProducer(log);
  // ~225 kB per send against 100 kB segments: forces several segments.
  for (let w = 0; w < 4; w++) await producer.send('t', Array.from({ length: 5000 }, (_, i) => rec('tenant', w * 5000 + i)));
  assert.ok(readdirSync(path.join(dir, 't', '0')).filter((f) => f.endsWith('.seg')).length >= 2, 'expected several segments');
  const got: LogMessage[] = [];
  const consumer = new EmbeddedLogConsumer(log, { group: 'g', topics: ['t'], maxBatchMessages: 777 });
  await consumer.run(collector(got));
  await until(() => got.length === 20000);
  await consumer.stop();
  got.forEach((m, i) => {
    assert.equal(m.offset, BigInt(i));
    assert.equal(JSON.parse(m.value!.toString()).i, i);
    assert.equal(m.headers['h'], String(i));
    assert.equal(m.key, 'tenant');
  });
  log.close();
  rmSync(dir, { recursive: true });
});

test('a consumer resumes after its committed offset; concurrent sends are group-committed in order', async () => {
  const dir = tmp();
  const log = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 64 * 1024 * 1024 });
  const producer = new EmbeddedLogProducer(log);
  await Promise.all(Array.from({ length: 50 }, (_, i) => producer.send('t', [rec('k', i)])));
  const c1 = new EmbeddedLogConsumer(log, { group: 'g', topics: ['t'] });
  const first: LogMessage[] = [];
  await c1.run(collector(first));
  await until(() => first.length === 50);
  await c1.commit('t', 0, 30n);
  await c1.stop();
  const values = first.map((m) => JSON.parse(m.value!.toString()).i as number).sort((a, b) => a - b);
  assert.deepEqual(values, Array.from({ length: 50 }, (_, i) => i));
  log.close();

  const reopened = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 64 * 1024 * 1024 });
  const c2 = new EmbeddedLogConsumer(reopened, { group: 'g', topics: ['t'] });
  const second: LogMessage[] = [];
  await c2.run(collector(second));
  await until(() => second.length === 20);
  await c2.stop();
  assert.equal(second[0]!.offset, 30n);
  assert.equal(second.length, 20);
  reopened.close();
  rmSync(dir, { recursive: true });
});

test('a torn tail left by a crash is truncated on open and appends continue after it', async () => {
  const dir = tmp();
  const log = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 64 * 1024 * 1024 });
  await new EmbeddedLogProducer(log).send('t', [rec('k', 0), rec('k', 1)]);
  log.close();
  const seg = path.join(dir, 't', '0', '00000000000000000000.seg');
  const size = statSync(seg).size;
  appendFileSync(seg, Buffer.from([0x41, 0x46, 0x47, 0x31, 0xff, 0, 0, 0, 1, 0]));
  const reopened = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 64 * 1024 * 1024 });
  await new EmbeddedLogProducer(reopened).send('t', [rec('k', 2)]);
  assert.ok(statSync(seg).size > size);
  const got: LogMessage[] = [];
  const c = new EmbeddedLogConsumer(reopened, { group: 'g', topics: ['t'] });
  await c.run(collector(got));
  await until(() => got.length === 3);
  await c.stop();
  assert.deepEqual(got.map((m) => JSON.parse(m.value!.toString()).i), [0, 1, 2]);
  reopened.close();
  rmSync(dir, { recursive: true });
});

test('keys are partitioned like Kafka and the partition count cannot change under a log', async () => {
  const dir = tmp();
  const log = new EmbeddedLog({ dir, partitions: 4, segmentBytes: 64 * 1024 * 1024 });
  const producer = new EmbeddedLogProducer(log);
  const tenants = Array.from({ length: 20 }, (_, i) => `tnt_${i}`);
  await producer.send('t', tenants.map((k, i) => rec(k, i)));
  const got: LogMessage[] = [];
  const seen = new Set<number>();
  const c = new EmbeddedLogConsumer(log, { group: 'g', topics: ['t'] });
  const handler = collector(got, seen);
  const byPartition = new Map<string, number>();
  handler.onBatch = async (b) => { for (const m of b.messages) byPartition.set(m.key!, b.partition); got.push(...b.messages); };
  await c.run(handler);
  await until(() => got.length === 20);
  await c.stop();
  for (const t of tenants) assert.equal(byPartition.get(t), partitionForKey(t, 4));
  assert.ok(new Set(byPartition.values()).size > 1);
  log.close();
  assert.throws(() => new EmbeddedLog({ dir, partitions: 2, segmentBytes: 64 * 1024 * 1024 }), /EMBEDDED_LOG_PARTITIONS/);
  rmSync(dir, { recursive: true });
});

test('a reader crosses segment boundaries while commits delete the segments behind it', async () => {
  const dir = tmp();
  const log = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 64 * 1024 });
  const producer = new EmbeddedLogProducer(log);
  const got: LogMessage[] = [];
  const c = new EmbeddedLogConsumer(log, { group: 'g', topics: ['t'], maxBatchMessages: 300 });
  const handler = collector(got);
  // Commit everything handed over, as the sink does after each write: segments behind the reader go.
  handler.onBatch = async (b) => { got.push(...b.messages); await c.commit(b.topic, b.partition, b.messages[b.messages.length - 1]!.offset + 1n); };
  await c.run(handler);
  try {
    for (let w = 0; w < 20; w++) await producer.send('t', Array.from({ length: 1000 }, (_, i) => rec('k', w * 1000 + i)));
    await until(() => got.length === 20000, 10_000);
  } finally {
    await c.stop();
  }
  assert.deepEqual(got.map((m) => Number(m.offset)), Array.from({ length: 20000 }, (_, i) => i));
  assert.ok(readdirSync(path.join(dir, 't', '0')).filter((f) => f.endsWith('.seg')).length <= 2, 'consumed segments are deleted');
  log.close();
  rmSync(dir, { recursive: true });
});

test('damage before the tail is corruption: the log refuses to open rather than drop acknowledged records', async () => {
  const dir = tmp();
  const log = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 64 * 1024 * 1024 });
  const producer = new EmbeddedLogProducer(log);
  for (let g = 0; g < 3; g++) await producer.send('t', [rec('k', g)]);
  log.close();
  const seg = path.join(dir, 't', '0', '00000000000000000000.seg');
  const bytes = readFileSync(seg);
  // A torn last group (header complete, body cut short) is truncated: the first two survive.
  const groupLen = bytes.length / 3;
  writeFileSync(seg, bytes.subarray(0, bytes.length - 3));
  const torn = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 64 * 1024 * 1024 });
  const got: LogMessage[] = [];
  const c = new EmbeddedLogConsumer(torn, { group: 'g', topics: ['t'] });
  await c.run(collector(got));
  await until(() => got.length === 2);
  await c.stop();
  torn.close();
  assert.equal(statSync(seg).size, 2 * groupLen);
  // A flipped byte in the first group, with an intact group after it, is corruption.
  const damaged = readFileSync(seg);
  damaged[20] = damaged[20]! ^ 0xff;
  writeFileSync(seg, damaged);
  const reopened = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 64 * 1024 * 1024 });
  assert.throws(() => reopened.partition('t', 0), (e: { code?: string; message?: string }) => e.code === 'LOG_UNAVAILABLE' && /corrupt/.test(e.message ?? ''));
  assert.equal(statSync(seg).size, 2 * groupLen, 'nothing was truncated');
  rmSync(dir, { recursive: true });
});

test('a consumer that falls behind the in-memory tail reads the file, in order, without gaps', async () => {
  const dir = tmp();
  const log = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 32 * 1024, tailBytes: 8 * 1024 });
  const producer = new EmbeddedLogProducer(log);
  const got: LogMessage[] = [];
  const c = new EmbeddedLogConsumer(log, { group: 'g', topics: ['t'], maxBatchMessages: 50 });
  const handler = collector(got);
  // A slow consumer: the producer runs far ahead, out of the small tail, and back again.
  handler.onBatch = async (b) => { got.push(...b.messages); await new Promise((r) => setTimeout(r, 5)); };
  await c.run(handler);
  try {
    for (let w = 0; w < 40; w++) await producer.send('t', Array.from({ length: 100 }, (_, i) => rec('k', w * 100 + i)));
    await until(() => got.length === 4000, 20_000);
  } finally {
    await c.stop();
  }
  assert.deepEqual(got.map((m) => JSON.parse(m.value!.toString()).i), Array.from({ length: 4000 }, (_, i) => i));
  assert.deepEqual(got.map((m) => Number(m.offset)), Array.from({ length: 4000 }, (_, i) => i));
  // A reader out of the tail finds its place from the index of recent groups: each send of 100
  // records is one group, so offset 3456 is in the group that starts at 3400, and the segment
  // file holds a group header at the indexed position.
  const part = log.partition('t', 0);
  const g = part.locate(3456n);
  assert.ok(g, 'a recent offset is in the group index');
  assert.equal(g.first, 3400n);
  assert.ok(isGroupMagic(readFileSync(g.seg.file).readUInt32LE(g.pos)), 'the indexed position is the start of a group');
  assert.equal(part.locate(4000n), null, 'nothing past the durable end');
  // Commits delete segments behind them; offsets in a deleted segment are not located there.
  await c.commit('t', 0, 4000n);
  assert.equal(part.locate(0n), null);
  log.close();
  rmSync(dir, { recursive: true });
});

test('text values and non-ASCII keys and headers are written as UTF-8 and read back as bytes', async () => {
  const dir = tmp();
  const log = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 1 << 20 });
  const producer = new EmbeddedLogProducer(log);
  const long = 'é'.repeat(100); // longer than the short-string path, and multi-byte
  await producer.send('t', [
    { key: 'tenant-ü', value: '{"text":"Grüße ✓ 🚀"}', headers: { 'af-id': 'aud_ÿ', [long]: long } },
    { key: 'plain', value: Buffer.from([0x00, 0xff, 0x10]), headers: {} },
  ]);
  log.close();
  // Re-opened: read from the file, not the in-memory tail.
  const reopened = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 1 << 20 });
  const got: LogMessage[] = [];
  const consumer = new EmbeddedLogConsumer(reopened, { group: 'g', topics: ['t'] });
  await consumer.run(collector(got));
  await until(() => got.length === 2);
  await consumer.stop();
  assert.equal(got[0]!.key, 'tenant-ü');
  assert.equal(got[0]!.value!.toString('utf8'), '{"text":"Grüße ✓ 🚀"}');
  assert.deepEqual(got[0]!.headers, { 'af-id': 'aud_ÿ', [long]: long });
  assert.deepEqual([...got[1]!.value!], [0x00, 0xff, 0x10]);
  reopened.close();
  rmSync(dir, { recursive: true, force: true });
});

test('segments written in the earlier group format (AFG1, SHA-1 checksums) are still read and appended to', async () => {
  const dir = tmp();
  const partDir = path.join(dir, 't', '0');
  const frame = (i: number): Buffer => {
    const key = Buffer.from('k');
    const value = Buffer.from(`{"old":${i}}`);
    const payload = Buffer.alloc(8 + 2 + key.length + 2 + value.length);
    let o = payload.writeDoubleLE(1_700_000_000_000, 0);
    o = payload.writeUInt16LE(key.length, o);
    o += key.copy(payload, o);
    o = payload.writeUInt16LE(0, o);
    value.copy(payload, o);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(payload.length);
    return Buffer.concat([len, payload]);
  };
  const body = Buffer.concat([frame(0), frame(1)]);
  const header = Buffer.alloc(16);
  header.writeUInt32LE(0x31474641, 0); // "AFG1"
  header.writeUInt32LE(body.length, 4);
  header.writeUInt32LE(2, 8);
  header.writeUInt32LE(createHash('sha1').update(body).digest().readUInt32LE(0), 12);
  mkdirSync(partDir, { recursive: true });
  writeFileSync(path.join(dir, 'partitions'), '1');
  writeFileSync(path.join(partDir, `${'0'.padStart(20, '0')}.seg`), Buffer.concat([header, body]));

  const log = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 1 << 20 });
  await new EmbeddedLogProducer(log).send('t', [{ key: 'k', value: '{"new":2}' }]);
  log.close();
  const reopened = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 1 << 20 });
  const got: LogMessage[] = [];
  const consumer = new EmbeddedLogConsumer(reopened, { group: 'g', topics: ['t'] });
  await consumer.run(collector(got));
  await until(() => got.length === 3);
  await consumer.stop();
  assert.deepEqual(got.map((m) => [m.offset, m.value!.toString()]), [[0n, '{"old":0}'], [1n, '{"old":1}'], [2n, '{"new":2}']]);
  reopened.close();
  rmSync(dir, { recursive: true, force: true });
});

test('records leave the in-memory tail once the reader has them; a second reader behind it reads the file', async () => {
  const dir = tmp();
  const log = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 1 << 20 });
  const producer = new EmbeddedLogProducer(log);
  const first: LogMessage[] = [];
  const c1 = new EmbeddedLogConsumer(log, { group: 'a', topics: ['t'] });
  await c1.run(collector(first));
  for (let w = 0; w < 5; w++) await producer.send('t', Array.from({ length: 100 }, (_, i) => rec('k', w * 100 + i)));
  await until(() => first.length === 500);
  assert.equal(log.partition('t', 0).fromTail(499n, 1), null, 'read records are no longer held');
  const second: LogMessage[] = [];
  const c2 = new EmbeddedLogConsumer(log, { group: 'b', topics: ['t'] });
  await c2.run(collector(second));
  await until(() => second.length === 500);
  assert.deepEqual(second.map((m) => Number(m.offset)), Array.from({ length: 500 }, (_, i) => i));
  assert.deepEqual(second.map((m) => JSON.parse(m.value!.toString()).i), Array.from({ length: 500 }, (_, i) => i));
  await c1.stop();
  await c2.stop();
  log.close();
  rmSync(dir, { recursive: true, force: true });
});
