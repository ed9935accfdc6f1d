// The store sink against the real embedded store (chDB) and the real embedded log: replay after a
// crash skips what is stored and keeps seq identical and contiguous; re-sent ids are dropped;
// poison goes to the dead letters; misrouted messages are re-keyed; a forged "log form" message
// whose insert fails is re-validated without losing its neighbours; the next batch fills while
// an insert is in flight, and a write that fails for good stops the partition.
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { ChdbStore } from '../infra/store/chdb-store.ts';
import { migrate } from '../infra/store/migrations.ts';
import { EmbeddedLog, EmbeddedLogConsumer, EmbeddedLogProducer } from '../infra/log/embedded-log.ts';
import type { LogMessage, PartitionHandler } from '../infra/log/log.ts';
import type { Store } from '../infra/store/store.ts';
import { AuditflowError } from '../infra/errors.ts';
import { partitionForKey } from '../infra/log/partitioner.ts';
import { StoreSink } from '../processors/store-sink.ts';
import { logHeaders } from '../schemas/log-headers.ts';
import { normalizeAudit } from '../schemas/normalize.ts';
import { jsonCodec } from '../schemas/message-codec.ts';

const TOPIC = 'audit';
const DLQ = 'dead';
const PARTITIONS = 2;
let dir: string;
let store: ChdbStore;
let log: EmbeddedLog;
let producer: EmbeddedLogProducer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'af-sink-'));
  store = new ChdbStore(path.join(dir, 'ch'));
  await migrate(store);
  log = new EmbeddedLog({ dir: path.join(dir, 'log'), partitions: PARTITIONS, segmentBytes: 1 << 20 });
  producer = new EmbeddedLogProducer(log);
});
afterAll(async () => {
  await store.close();
  log.close();
  rmSync(dir, { recursive: true, force: true });
});

const commits = new Map<string, bigint>();
function newSink(opts: { store?: Store; batchRows?: number; batchMs?: number; flushWhenQuiet?: boolean } = {}): StoreSink {
  return new StoreSink({
    store: opts.store ?? store, producer, codec: jsonCodec(),
    commit: async (t, p, o) => { commits.set(`${t}/${p}`, o); },
    topics: [{ topic: TOPIC, kind: 'audit', table: 'audit_events' }],
    deadLetterTopic: DLQ,
    batch: { batchRows: opts.batchRows ?? 1000, batchBytes: 1 << 24, batchMs: opts.batchMs ?? 60_000, flushWhenQuiet: opts.flushWhenQuiet ?? true },
    logger: pino({ level: 'silent' }),
  });
}

function audit(tenant: string, id: string) {
  const n = normalizeAudit({ id, event_time: '2026-04-01T00:00:00Z', event_type: 'x.y', action: 'read', category: 'file_access', actor: { id: 'u' } }, { tenantId: tenant });
  assert.ok(n.ok);
  return n.value;
}

let nextOffset = 0n;
function trusted(tenant: string, id: string, offset = nextOffset++): LogMessage {
  return { offset, key: tenant, value: Buffer.from(JSON.stringify(audit(tenant, id))), headers: logHeaders({ tenantId: tenant, id }), timestamp: Date.now() };
}
function raw(key: string | null, value: string, offset = nextOffset++): LogMessage {
  return { offset, key, value: Buffer.from(value), headers: {}, timestamp: Date.now() };
}

/** A tenant name that lives in the given partition. */
function tenantIn(partition: number, tag: string): string {
  for (let i = 0; ; i++) if (partitionForKey(`${tag}_${i}`, PARTITIONS) === partition) return `${tag}_${i}`;
}

async function rows(tenant: string): Promise<{ id: string; seq: number; log_offset: number }[]> {
  return store.query('SELECT id, seq, log_offset FROM audit_events WHERE tenant_id = {t:String} ORDER BY seq', { t: tenant });
}

/** Everything durable in a topic (all partitions, or one), read through a consumer group of its own. */
async function readTopic(topic: string, partition?: number): Promise<LogMessage[]> {
  const all: LogMessage[][] = Array.from({ length: PARTITIONS }, () => []);
  const c = new EmbeddedLogConsumer(log, { group: `reader-${Math.random()}`, topics: [topic] });
  const h: PartitionHandler = {
    onAssign: async () => undefined, onRevoke: async () => undefined, onTick: async () => undefined,
    onBatch: async (b) => { all[b.partition]!.push(...b.messages); },
  };
  await c.run(h);
  try {
    const deadline = Date.now() + 10_000;
    while (!all.every((got, p) => BigInt(got.length) === log.partition(topic, p).durableEnd)) {
      if (Date.now() > deadline) throw new Error(`could not read ${topic} to its end`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    await c.stop();
  }
  return partition === undefined ? all.flat() : all[partition]!;
}

test('a replay after a crash skips what is stored; seq is identical and contiguous', async () => {
  const p = 0;
  const t = tenantIn(p, 'replay');
  nextOffset = 0n;
  const first = [1, 2, 3, 4, 5].map((i) => trusted(t, `aud_r${i}`));
  const sink1 = newSink();
  await sink1.onAssign(TOPIC, p);
  await sink1.onBatch({ topic: TOPIC, partition: p, messages: first });
  await sink1.drain();
  assert.deepEqual((await rows(t)).map((r) => [r.id, r.seq]), [1, 2, 3, 4, 5].map((i) => [`aud_r${i}`, i]));
  assert.equal(commits.get(`${TOPIC}/${p}`), 5n);

  // "Crash" before the commit reached the log: a new sink re-reads offsets 0..4, then new ones.
  const sink2 = newSink();
  await sink2.onAssign(TOPIC, p);
  const more = [6, 7].map((i) => trusted(t, `aud_r${i}`));
  await sink2.onBatch({ topic: TOPIC, partition: p, messages: [...first, ...more] });
  await sink2.drain();
  assert.equal(sink2.stats.skippedReplayed, 5);
  assert.equal(sink2.stats.inserted, 2);
  const all = await rows(t);
  assert.deepEqual(all.map((r) => r.seq), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(all.map((r) => r.id), [1, 2, 3, 4, 5, 6, 7].map((i) => `aud_r${i}`));
  assert.deepEqual(all.map((r) => Number(r.log_offset)), [0, 1, 2, 3, 4, 5, 6]);
});

test('an id already stored is dropped before it takes a seq, also after a restart', async () => {
  const p = 1;
  const t = tenantIn(p, 'dup');
  nextOffset = 0n;
  const sink = newSink();
  await sink.onAssign(TOPIC, p);
  await sink.onBatch({ topic: TOPIC, partition: p, messages: [trusted(t, 'aud_a'), trusted(t, 'aud_b'), trusted(t, 'aud_a')] });
  await sink.drain();
  await sink.onBatch({ topic: TOPIC, partition: p, messages: [trusted(t, 'aud_b'), trusted(t, 'aud_c')] });
  await sink.drain();
  assert.equal(sink.stats.duplicates, 2);
  // A fresh sink loads the stored ids: the re-send is still recognised.
  const restarted = newSink();
  await restarted.onAssign(TOPIC, p);
  await restarted.onBatch({ topic: TOPIC, partition: p, messages: [trusted(t, 'aud_c'), trusted(t, 'aud_d')] });
  await restarted.drain();
  assert.equal(restarted.stats.duplicates, 1);
  assert.deepEqual((await rows(t)).map((r) => [r.id, r.seq]), [['aud_a', 1], ['aud_b', 2], ['aud_c', 3], ['aud_d', 4]]);
});

test('poison goes to the dead letters with its reason; misrouted messages are re-keyed; the partition moves on', async () => {
  const p = 0;
  const t = tenantIn(p, 'poison');
  const elsewhere = tenantIn(1, 'moved');
  nextOffset = 100n;
  const sink = newSink();
  await sink.onAssign(TOPIC, p);
  const good = audit(t, 'aud_ok');
  await sink.onBatch({
    topic: TOPIC, partition: p, messages: [
      raw(t, 'not json at all'),
      raw(null, JSON.stringify({ ...audit(t, 'aud_nokey'), tenant_id: undefined })),
      raw(t, JSON.stringify({ ...good, category: 'nonsense' })),
      raw(t, JSON.stringify(good)),
      raw(elsewhere, JSON.stringify({ timestamp: '2026-04-01T00:00:00Z', action: 'read', success: true, id: 'log_moved', tenant_id: elsewhere })),
    ],
  });
  await sink.drain();
  assert.deepEqual((await rows(t)).map((r) => r.id), ['aud_ok']);
  assert.equal(commits.get(`${TOPIC}/${p}`), 105n);
  const dead = await readTopic(DLQ);
  // Dead letters are keyed like their messages, so they spread over the partitions: by offset.
  const byOffset = new Map(dead.map((m) => [m.headers['af-dlq-offset'], m]));
  assert.equal(dead.length, 3);
  assert.equal(byOffset.get('100')!.value!.toString(), 'not json at all');
  assert.match(byOffset.get('100')!.headers['af-dlq-reason']!, /undecodable/);
  assert.match(byOffset.get('101')!.headers['af-dlq-reason']!, /no tenant/);
  assert.match(byOffset.get('102')!.headers['af-dlq-reason']!, /category/);
  assert.ok(dead.every((m) => m.headers['af-dlq-code'] && m.headers['af-dlq-topic'] === TOPIC && m.headers['af-dlq-partition'] === '0'));
  const moved = (await readTopic(TOPIC, 1)).filter((m) => m.key === elsewhere);
  assert.equal(moved.length, 1);
  assert.equal(moved[0]!.headers['af-id'], 'log_moved');
});

test('a message forged as the log form fails its insert, is re-validated and dead-lettered; its neighbours are stored', async () => {
  const p = 1;
  const t = tenantIn(p, 'forged');
  nextOffset = 500n;
  const sink = newSink();
  await sink.onAssign(TOPIC, p);
  const f1 = trusted(t, 'aud_f1');
  const forged: LogMessage = { offset: nextOffset++, key: t, value: Buffer.from('{"bogus_column":1}'), headers: logHeaders({ tenantId: t, id: 'aud_forged' }), timestamp: Date.now() };
  await sink.onBatch({ topic: TOPIC, partition: p, messages: [f1, forged, trusted(t, 'aud_f2')] });
  await sink.drain();
  assert.deepEqual((await rows(t)).map((r) => [r.id, r.seq]), [['aud_f1', 1], ['aud_f2', 2]]);
  const dead = (await readTopic(DLQ)).filter((m) => m.key === t);
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.headers['af-dlq-offset'], '501');
});

test('the same id under two tenants is two events; a tenant re-sending it within the batch is one', async () => {
  const p = 1;
  const t1 = tenantIn(p, 'twin-a');
  const t2 = tenantIn(p, 'twin-b');
  // Offsets go on from the tests before: this partition's stored offsets would be skipped as replayed.
  const sink = newSink();
  await sink.onAssign(TOPIC, p);
  await sink.onBatch({ topic: TOPIC, partition: p, messages: [trusted(t1, 'aud_same'), trusted(t2, 'aud_same'), trusted(t1, 'aud_same'), trusted(t2, 'aud_other')] });
  await sink.drain();
  assert.equal(sink.stats.duplicates, 1);
  assert.deepEqual((await rows(t1)).map((r) => [r.id, r.seq]), [['aud_same', 1]]);
  assert.deepEqual((await rows(t2)).map((r) => [r.id, r.seq]), [['aud_same', 1], ['aud_other', 2]]);
});

/** The real store, with inserts that wait for the test to let them through (or fail). */
function gatedStore() {
  let gate: { resolve: () => void; reject: (e: Error) => void } | null = null;
  const waiting: (() => void)[] = [];
  const g = {
    inserts: 0,
    store: {
      kind: store.kind,
      command: store.command.bind(store),
      query: store.query.bind(store),
      close: async () => undefined,
      insertJsonEachRow: async (table: string, rows: Buffer) => {
        g.inserts++;
        await new Promise<void>((resolve, reject) => { gate = { resolve, reject }; for (const w of waiting.splice(0)) w(); });
        await store.insertJsonEachRow(table, rows);
      },
    } as Store,
    release() { const x = gate; gate = null; x?.resolve(); },
    fail(e: Error) { const x = gate; gate = null; x?.reject(e); },
    /** Resolves once an insert is waiting at the gate. */
    held: () => (gate ? Promise.resolve() : new Promise<void>((r) => waiting.push(r))),
  };
  return g;
}

test('the next batch fills while an insert is in flight; a full batch waits for it; seq follows log order', async () => {
  const p = 0;
  const t = tenantIn(p, 'pipelined');
  nextOffset = 1000n;
  const gated = gatedStore();
  const sink = newSink({ store: gated.store, batchRows: 3 });
  await sink.onAssign(TOPIC, p);
  const before = commits.get(`${TOPIC}/${p}`);
  // Batch 1 is full: its insert starts and is held at the gate; onBatch returns anyway.
  await sink.onBatch({ topic: TOPIC, partition: p, messages: [1, 2, 3].map((i) => trusted(t, `aud_p${i}`)) });
  await gated.held();
  assert.equal(gated.inserts, 1);
  // Batch 2 fills while batch 1 is held; when it is full it must wait for batch 1.
  let second = false;
  const filling = sink.onBatch({ topic: TOPIC, partition: p, messages: [4, 5, 6].map((i) => trusted(t, `aud_p${i}`)) }).then(() => { second = true; });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(second, false, 'a full batch waits for the insert in flight');
  assert.equal(gated.inserts, 1, 'never two inserts of a partition at once');
  assert.equal(commits.get(`${TOPIC}/${p}`), before, 'nothing committed before its insert');
  gated.release();
  await filling;
  await gated.held();
  assert.equal(commits.get(`${TOPIC}/${p}`), 1003n, 'batch 1 committed once stored');
  gated.release();
  const draining = sink.drain();
  await draining;
  assert.equal(commits.get(`${TOPIC}/${p}`), 1006n);
  const got = await rows(t);
  assert.deepEqual(got.map((r) => [r.id, r.seq, Number(r.log_offset)]), [1, 2, 3, 4, 5, 6].map((i) => [`aud_p${i}`, i, 999 + i]));
});

test('a write that fails for good stops the partition: later calls fail with it and nothing after it is committed', async () => {
  const p = 1;
  const t = tenantIn(p, 'broken');
  nextOffset = 2000n;
  const gated = gatedStore();
  const sink = newSink({ store: gated.store, batchRows: 2 });
  await sink.onAssign(TOPIC, p);
  const before = commits.get(`${TOPIC}/${p}`);
  await sink.onBatch({ topic: TOPIC, partition: p, messages: [trusted(t, 'aud_x1'), trusted(t, 'aud_x2')] });
  await gated.held();
  gated.fail(new AuditflowError('STORE_QUERY_FAILED', 'disk full'));
  // Trusted rows refused: the sink re-validates them (they are valid) and tries once more.
  await gated.held();
  gated.fail(new AuditflowError('STORE_QUERY_FAILED', 'disk full'));
  // The failed write settles in the background; onTick reports it from then on.
  let reported: unknown;
  for (const deadline = Date.now() + 5000; reported === undefined && Date.now() < deadline;) {
    await sink.onTick().catch((e: unknown) => { reported = e; });
    if (reported === undefined) await new Promise((r) => setTimeout(r, 5));
  }
  assert.match(String(reported), /disk full/);
  await assert.rejects(sink.onTick(), /disk full/);
  await assert.rejects(sink.onBatch({ topic: TOPIC, partition: p, messages: [trusted(t, 'aud_x3'), trusted(t, 'aud_x4')] }), /disk full/);
  assert.equal(commits.get(`${TOPIC}/${p}`), before, 'nothing committed past the failed batch');
  assert.deepEqual(await rows(t), []);
  assert.equal(gated.inserts, 2);
});

test('a partition gone quiet is flushed on the next tick without waiting out SINK_BATCH_MS', async () => {
  const p = 0;
  const t = tenantIn(p, 'quiet');
  nextOffset = 3000n;
  const sink = newSink(); // SINK_BATCH_MS 60 s, 1,000 rows
  await sink.onAssign(TOPIC, p);
  await sink.onBatch({ topic: TOPIC, partition: p, messages: [trusted(t, 'aud_q1'), trusted(t, 'aud_q2')] });
  await sink.onTick(); // messages arrived since the previous tick: not quiet yet
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await rows(t), []);
  await sink.onTick(); // nothing new since the last tick, no write in flight
  const deadline = Date.now() + 5000;
  while ((await rows(t)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual((await rows(t)).map((r) => r.id), ['aud_q1', 'aud_q2']);
  assert.equal(sink.stats.batches, 1);
});

test('a batch that comes due during a write keeps filling, and goes as soon as the write ends', async () => {
  const p = 0;
  const t = tenantIn(p, 'due');
  nextOffset = 5000n; // above the offsets the tests before used on this partition
  const gated = gatedStore();
  const sink = newSink({ store: gated.store, batchRows: 2, batchMs: 1, flushWhenQuiet: false });
  await sink.onAssign(TOPIC, p);
  await sink.onBatch({ topic: TOPIC, partition: p, messages: [trusted(t, 'aud_d1'), trusted(t, 'aud_d2')] });
  await gated.held();
  // Batch 2 is past SINK_BATCH_MS while batch 1 is held: ticks and intake go on regardless.
  await sink.onBatch({ topic: TOPIC, partition: p, messages: [trusted(t, 'aud_d3')] });
  await new Promise((r) => setTimeout(r, 5));
  await sink.onTick();
  assert.equal(gated.inserts, 1, 'no second insert while the first is in flight');
  gated.release();
  // No tick: the end of the write flushes the due batch.
  await gated.held();
  assert.equal(gated.inserts, 2);
  gated.release();
  await sink.drain();
  assert.equal(commits.get(`${TOPIC}/${p}`), 5003n);
  assert.deepEqual((await rows(t)).map((r) => [r.id, r.seq]), [['aud_d1', 1], ['aud_d2', 2], ['aud_d3', 3]]);
});
