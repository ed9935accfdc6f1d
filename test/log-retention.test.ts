// The embedded log with several consumer groups: retention follows the slowest group within size
// and age bounds, a group out of retention is told (LOG_POSITION_OUT_OF_RETENTION) and counted,
// and LogAdmin (positions, bounds, offsetsForTime) answers from the files.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { parseConfig } from '../infra/config.ts';
import { isAuditflowError } from '../infra/errors.ts';
import { EmbeddedLog, EmbeddedLogAdmin, EmbeddedLogConsumer, EmbeddedLogProducer, type EmbeddedLogOptions } from '../infra/log/embedded-log.ts';
import type { LogBatch, LogMessage, PartitionHandler } from '../infra/log/log.ts';
import { segmentsToDelete } from '../infra/log/retention.ts';
import { Metrics } from '../infra/metrics.ts';

const KB = 1024;
const rec = (i: number) => ({ key: 'tenant', value: Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(200) })) });
const batchOf = (from: number, n: number) => Array.from({ length: n }, (_, k) => rec(from + k));

function collector(into: LogMessage[], onBatch?: (b: LogBatch) => Promise<void>): PartitionHandler {
  return {
    onAssign: async () => undefined,
    onBatch: async (b) => { into.push(...b.messages); await onBatch?.(b); },
    onRevoke: async () => undefined,
    onTick: async () => undefined,
  };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A log in a fresh directory; `clock.t` drives record timestamps and retention by age. */
function freshLog(opts: Partial<EmbeddedLogOptions> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'af-retention-'));
  const clock = { t: 1_700_000_000_000 };
  const log = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 64 * KB, now: () => clock.t, ...opts });
  const segments = () => readdirSync(path.join(dir, 't', '0')).filter((f) => f.endsWith('.seg')).sort();
  const segmentBytes = () => segments().reduce((n, f) => n + statSync(path.join(dir, 't', '0', f)).size, 0);
  return {
    dir, clock, log, producer: new EmbeddedLogProducer(log), admin: new EmbeddedLogAdmin(log), segments, segmentBytes,
    part: () => log.partition('t', 0),
    /** Closes this log and runs `fn` on the same directory opened again (nothing cached). */
    reopen: async (o: Partial<EmbeddedLogOptions>, fn: (reopened: EmbeddedLog) => Promise<void>) => {
      log.close();
      const reopened = new EmbeddedLog({ dir, partitions: 1, segmentBytes: 64 * KB, ...o });
      try {
        await fn(reopened);
      } finally {
        reopened.close();
      }
    },
    cleanup: () => { log.close(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Runs a consumer of `group` until it has `n` messages (or its done() settles), then stops it. */
async function consume(log: EmbeddedLog, group: string, n: number, extra: { outOfRetention?: 'stop' | 'continue' } = {}) {
  const got: LogMessage[] = [];
  const c = new EmbeddedLogConsumer(log, { group, topics: ['t'], ...extra });
  await c.run(collector(got, async (b) => { await c.commit(b.topic, b.partition, b.messages[b.messages.length - 1]!.offset + 1n); }));
  let failure: unknown = null;
  const settled = c.done().catch((e: unknown) => { failure = e; });
  await Promise.race([until(`${n} messages for ${group}`, () => got.length >= n), settled]);
  await c.stop();
  return { got, failure: failure as unknown };
}

test('segmentsToDelete: the slowest group holds the log; a bound passes it but never a protected group; never the active segment', () => {
  const seg = (base: number, newest: number) => ({ base: BigInt(base), bytes: 100, newestTimestamp: newest });
  const segs = [seg(0, 10), seg(10, 20), seg(20, 30), seg(30, 40)];
  const none = { maxBytes: Infinity, maxAgeMs: Infinity, protectedGroups: [] };
  assert.equal(segmentsToDelete(segs, new Map(), none, 100), 0, 'no group has committed: nothing is consumed');
  assert.equal(segmentsToDelete(segs, new Map([['a', 25n], ['b', 12n]]), none, 100), 1, 'only what the slowest (b, at 12) is past');
  assert.equal(segmentsToDelete(segs, new Map([['a', 1000n]]), none, 100), 3, 'never the active segment');
  assert.equal(segmentsToDelete(segs, new Map([['b', 0n]]), { ...none, maxBytes: 250 }, 100), 2, 'size: the oldest go until the rest fits');
  assert.equal(segmentsToDelete(segs, new Map([['b', 0n]]), { ...none, maxAgeMs: 75 }, 100), 2, 'age: newest record older than now - maxAgeMs (10 and 20 < 25)');
  assert.equal(segmentsToDelete(segs, new Map([['sink', 15n], ['b', 0n]]), { maxBytes: 100, maxAgeMs: Infinity, protectedGroups: ['sink'] }, 100), 1, 'a bound stops at the protected group');
  assert.equal(segmentsToDelete(segs, new Map([['b', 0n]]), { maxBytes: 100, maxAgeMs: Infinity, protectedGroups: ['sink'] }, 100), 3, 'a protected group that never committed holds nothing');
});

test('the slowest group holds the segments; a group that never committed holds none; deleteGroup releases them', async () => {
  const l = freshLog();
  try {
    for (let w = 0; w < 10; w++) await l.producer.send('t', batchOf(w * 100, 100)); // ~23 KB each: several 64 KB segments
    const end = l.part().durableEnd;
    assert.ok(l.segments().length >= 4, `several segments (${l.segments().length})`);
    await l.admin.setCommitted('fast', 't', [0n]);
    await l.admin.setCommitted('slow', 't', [350n]);
    assert.equal(l.part().earliestOffset(), 0n, 'fast, at 0, holds everything');
    const fast = await consume(l.log, 'fast', 1000);
    assert.equal(fast.got.length, 1000);
    assert.deepEqual(await l.admin.committed('fast', 't'), [end]);
    const earliest = l.part().earliestOffset();
    assert.ok(earliest > 0n && earliest <= 350n, `the segment holding offset 350 is kept (earliest ${earliest})`);
    // A reader without a commit file ('peek' never commits) holds nothing: the next commit of 'slow' frees more.
    const peek = new EmbeddedLogConsumer(l.log, { group: 'peek', topics: ['t'] });
    await peek.run(collector([]));
    const slow = await consume(l.log, 'slow', 650);
    assert.equal(slow.got[0]!.offset, 350n, 'slow resumes at its position');
    await peek.stop();
    assert.ok(l.part().earliestOffset() > earliest, 'once the slowest moved, what both are past was deleted');
    // 'laggard' pins where it is until it is deleted.
    for (let w = 10; w < 14; w++) await l.producer.send('t', batchOf(w * 100, 100));
    await l.admin.setCommitted('laggard', 't', [l.part().earliestOffset()]);
    const pinned = l.part().earliestOffset();
    await consume(l.log, 'fast', 400);
    await consume(l.log, 'slow', 400);
    assert.equal(l.part().earliestOffset(), pinned, 'the laggard holds the log');
    await l.admin.deleteGroup('laggard');
    assert.deepEqual(await l.admin.committed('laggard', 't'), [null]);
    assert.ok(l.part().earliestOffset() > pinned, 'deleting the group released its segments');
    assert.deepEqual(await l.admin.outOfRetention('slow', 't'), []);
  } finally {
    l.cleanup();
  }
});

test('the size bound deletes past a lagging group: its consumer gets LOG_POSITION_OUT_OF_RETENTION and the metrics move', async () => {
  const l = freshLog({ retention: { maxBytes: 200 * KB } });
  const metrics = new Metrics(new Registry(), { processMetrics: false });
  metrics.watchLogRetention(l.log.retentionStats);
  try {
    await l.admin.setCommitted('lagging', 't', [0n]);
    for (let w = 0; w < 40; w++) await l.producer.send('t', batchOf(w * 100, 100)); // ~900 KB
    await l.log.retainAll();
    const earliest = l.part().earliestOffset();
    assert.ok(earliest > 0n, 'the bound deleted unread segments');
    assert.ok(l.segmentBytes() <= 200 * KB + 64 * KB + 24 * KB, `the partition stays near the bound (${l.segmentBytes()} bytes)`);
    assert.deepEqual(await l.admin.outOfRetention('lagging', 't'), [{ group: 'lagging', topic: 't', partition: 0, position: 0n, earliest }]);

    const { got, failure } = await consume(l.log, 'lagging', 1);
    assert.equal(got.length, 0, 'nothing is handed over past the gap');
    assert.ok(isAuditflowError(failure) && failure.code === 'LOG_POSITION_OUT_OF_RETENTION', `explicit error, got ${String(failure)}`);
    assert.match(failure.message, new RegExp(`group lagging on t\\[0\\] is at offset 0, .* from ${earliest} only: ${earliest} record`));
    const text = await metrics.registry.metrics();
    assert.match(text, /auditflow_log_out_of_retention_total\{group="lagging",topic="t"\} 1\b/);
    assert.match(text, new RegExp(`auditflow_log_retention_lost_records_total\\{group="lagging",topic="t"\\} ${earliest}\\b`));

    // Told again at every start until its position moves; 'continue' reads on from the earliest offset.
    const again = await consume(l.log, 'lagging', 4000 - Number(earliest), { outOfRetention: 'continue' });
    assert.equal(again.failure, null);
    assert.equal(again.got[0]!.offset, earliest);
    assert.equal(again.got.length, 4000 - Number(earliest));
    assert.match(await metrics.registry.metrics(), /auditflow_log_out_of_retention_total\{group="lagging",topic="t"\} 2\b/);
  } finally {
    l.cleanup();
  }
});

test('a running reader overtaken by the bound is stopped with the error, not moved on silently', async () => {
  const l = freshLog({ retention: { maxBytes: 150 * KB } });
  try {
    await l.producer.send('t', batchOf(0, 100));
    const got: LogMessage[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const c = new EmbeddedLogConsumer(l.log, { group: 'stuck', topics: ['t'], maxBatchMessages: 50 });
    await c.run(collector(got, async () => { if (got.length === 50) await gate; }));
    await until('the first batch', () => got.length === 50);
    for (let w = 1; w < 40; w++) await l.producer.send('t', batchOf(w * 100, 100));
    await l.log.retainAll();
    assert.ok(l.part().earliestOffset() > 50n);
    release();
    await assert.rejects(c.done(), (e: unknown) => isAuditflowError(e) && e.code === 'LOG_POSITION_OUT_OF_RETENTION' && /at offset 50,/.test(e.message));
    assert.equal(got.length, 50, 'nothing after the gap was handed over');
    assert.equal(l.part().recent.readers.size, 0, 'the stopped reader no longer holds the tail');
    await c.stop();
  } finally {
    l.cleanup();
  }
});

test('the size bound never passes the protected group (the store sink): only what it committed goes', async () => {
  const l = freshLog({ retention: { maxBytes: 100 * KB, protectedGroups: ['sink'] } });
  try {
    await l.admin.setCommitted('sink', 't', [0n]);
    await l.admin.setCommitted('forwarder', 't', [0n]);
    for (let w = 0; w < 20; w++) await l.producer.send('t', batchOf(w * 100, 100));
    await l.log.retainAll();
    assert.equal(l.part().earliestOffset(), 0n, 'nothing the sink has not stored is deleted');
    await l.admin.setCommitted('sink', 't', [1000n]);
    const earliest = l.part().earliestOffset();
    assert.ok(earliest > 0n && earliest <= 1000n, `up to the sink's position (earliest ${earliest})`);
    assert.deepEqual((await l.admin.outOfRetention('forwarder', 't')).map((e) => e.position), [0n], 'the forwarder was passed');
  } finally {
    l.cleanup();
  }
});

test('the age bound deletes by the newest record of a segment, on a timer too (a paused group commits nothing), also after a restart', async () => {
  const day = 24 * 3600 * 1000;
  const l = freshLog({ retention: { maxAgeMs: 7 * day }, retentionCheckMs: 50 });
  try {
    await l.admin.setCommitted('paused', 't', [0n]);
    const t0 = l.clock.t;
    // Three sends (~23 KB each) fill a 64 KB segment: offsets 0-299, 300-599 at t0; 600-899 holds
    // one send at t0 and two at t0 + 3 days; 900-1199 (the active segment) t0 + 3 days.
    for (let w = 0; w < 7; w++) await l.producer.send('t', batchOf(w * 100, 100));
    l.clock.t = t0 + 3 * day;
    for (let w = 7; w < 12; w++) await l.producer.send('t', batchOf(w * 100, 100));
    assert.equal(l.segments().length, 4);
    l.clock.t = t0 + 8 * day; // t0 is past 7 days, t0 + 3 days is not
    await until('the timer to apply the age bound', () => l.part().earliestOffset() > 0n, 5_000);
    assert.equal(l.part().earliestOffset(), 600n, 'the segment holding records of both times stays: its newest record is young');
    assert.equal(l.segments().length, 2);
    assert.deepEqual((await l.admin.outOfRetention('paused', 't')).map((e) => e.earliest), [600n]);

    // Re-opened later: ages come from the files (the newest record of each segment).
    await l.reopen({ now: () => t0 + 11 * day, retention: { maxAgeMs: 7 * day } }, async (reopened) => {
      await reopened.retainAll();
      assert.equal(reopened.partition('t', 0).earliestOffset(), 900n, 'past 7 days now, all but the active segment');
      assert.equal(l.segments().length, 1);
    });
  } finally {
    l.cleanup();
  }
});

test('offsetsForTime: the first offset stamped at or after the time, within and across groups and segments, after retention and a restart', async () => {
  const l = freshLog();
  try {
    const stamps: number[] = []; // stamps[offset]
    const t0 = l.clock.t;
    for (let round = 0; round < 30; round++) {
      // Three sends queued together share one group commit, each with its own timestamp.
      const sends: Promise<void>[] = [];
      for (let k = 0; k < 3; k++) {
        l.clock.t = t0 + (round * 3 + k) * 1000;
        const n = 20 + k;
        sends.push(l.producer.send('t', batchOf(stamps.length, n)));
        for (let i = 0; i < n; i++) stamps.push(l.clock.t);
      }
      await Promise.all(sends);
    }
    assert.ok(l.segments().length >= 3);
    const expected = (t: number, from = 0): bigint => {
      const i = stamps.findIndex((s, o) => o >= from && s >= t);
      return BigInt(i < 0 ? stamps.length : i);
    };
    const probes = [t0 - 5000, t0, t0 + 1, t0 + 999, t0 + 1000, t0 + 41_500, t0 + 45_000, t0 + 60_000, t0 + 89_000, t0 + 89_001, t0 + 10 ** 9];
    for (const t of probes) assert.deepEqual(await l.admin.offsetsForTime('t', t), [expected(t)], `at ${t - t0}`);
    // After the oldest segments are gone, a time before the earliest record is the earliest offset.
    await l.admin.setCommitted('g', 't', [1000n]);
    const earliest = l.part().earliestOffset();
    assert.ok(earliest > 0n);
    assert.deepEqual(await l.admin.offsetsForTime('t', t0), [earliest]);
    assert.deepEqual(await l.admin.offsetsForTime('t', t0 + 60_000), [expected(t0 + 60_000, Number(earliest))]);
    await l.reopen({}, async (reopened) => {
      const admin = new EmbeddedLogAdmin(reopened);
      for (const t of probes.slice(5)) assert.deepEqual(await admin.offsetsForTime('t', t), [expected(t, Number(earliest))], `reopened, at ${t - t0}`);
      assert.deepEqual(await admin.end('t'), [BigInt(stamps.length)]);
      assert.deepEqual(await admin.earliest('t'), [earliest]);
    });
  } finally {
    l.cleanup();
  }
});

test('setCommitted and deleteGroup are refused while the group runs; a group without a commit starts at the earliest retained offset', async () => {
  const l = freshLog();
  try {
    for (let w = 0; w < 10; w++) await l.producer.send('t', batchOf(w * 100, 100));
    await consume(l.log, 'sink', 1000); // commits 1000: the segments behind it go
    const earliest = l.part().earliestOffset();
    assert.ok(earliest > 0n);
    const fresh = await consume(l.log, 'fresh', 1000 - Number(earliest));
    assert.equal(fresh.failure, null, 'no commit yet is not out of retention');
    assert.equal(fresh.got[0]!.offset, earliest, 'it starts at the earliest retained offset');

    const got: LogMessage[] = [];
    const running = new EmbeddedLogConsumer(l.log, { group: 'dest', topics: ['t'] });
    await running.run(collector(got));
    const active = (e: unknown) => isAuditflowError(e) && e.code === 'LOG_GROUP_ACTIVE';
    await assert.rejects(l.admin.setCommitted('dest', 't', [900n]), active);
    await assert.rejects(l.admin.deleteGroup('dest'), active);
    await assert.rejects(new EmbeddedLogConsumer(l.log, { group: 'dest', topics: ['t'] }).run(collector([])), active, 'one consumer per group');
    await running.stop();
    await l.admin.setCommitted('dest', 't', [900n]);
    await assert.rejects(l.admin.setCommitted('dest', 't', [1001n]), /outside t\[0\] \(0\.\.1000\)/);
    const resumed = await consume(l.log, 'dest', 100);
    assert.deepEqual([resumed.got[0]!.offset, resumed.got.length], [900n, 100]);
    assert.throws(() => new EmbeddedLogConsumer(l.log, { group: '../x', topics: ['t'] }), /consumer group name/);
  } finally {
    l.cleanup();
  }
});

test('groups started and stopped at different times share the tail; one far behind neither holds it nor misses anything', async () => {
  const l = freshLog({ tailBytes: 256 * KB, segmentBytes: 1 << 20 });
  try {
    const fast: LogMessage[] = [];
    const slow: LogMessage[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const a = new EmbeddedLogConsumer(l.log, { group: 'a', topics: ['t'] });
    const b = new EmbeddedLogConsumer(l.log, { group: 'b', topics: ['t'], maxBatchMessages: 100 });
    await a.run(collector(fast, async (x) => { await a.commit(x.topic, x.partition, x.messages[x.messages.length - 1]!.offset + 1n); }));
    await b.run(collector(slow, async () => { if (slow.length === 100) await gate; }));
    let maxTail = 0;
    for (let w = 0; w < 30; w++) {
      await l.producer.send('t', batchOf(w * 100, 100));
      await until('a to keep up', () => fast.length === (w + 1) * 100);
      maxTail = Math.max(maxTail, l.part().recent.size);
    }
    // b waits at offset 100, far behind: once the tail's bound (~890 records) left it behind, it holds
    // nothing there, and what a has read is gone from memory.
    assert.equal(slow.length, 100);
    assert.ok(maxTail < 1000, `the tail held up to ${maxTail} records`);
    assert.equal(l.part().recent.size, 0, 'a has read everything: nothing is kept for b, which reads the file');
    // c starts now, from the earliest offset (everything is in the active segment).
    const late: LogMessage[] = [];
    const c = new EmbeddedLogConsumer(l.log, { group: 'c', topics: ['t'] });
    await c.run(collector(late));
    release();
    await until('b and c to catch up', () => slow.length === 3000 && late.length === 3000, 20_000);
    await c.stop();
    await l.producer.send('t', batchOf(3000, 100));
    await until('a and b take the new records', () => fast.length === 3100 && slow.length === 3100);
    await b.stop();
    await a.stop();
    for (const got of [fast, slow, late]) assert.deepEqual(got.map((m) => Number(m.offset)), Array.from({ length: got.length }, (_, i) => i));
    assert.deepEqual(slow.map((m) => JSON.parse(m.value!.toString()).i), Array.from({ length: 3100 }, (_, i) => i));
    assert.equal(l.part().recent.readers.size, 0);
  } finally {
    l.cleanup();
  }
});

test('EMBEDDED_LOG_RETENTION_BYTES / _MS: 10 GiB and 7 days by default, 0 for no bound, bad values named', () => {
  const c = parseConfig({}, 'all').embeddedLog;
  assert.deepEqual([c.retentionBytes, c.retentionMs], [10 * 1024 ** 3, 7 * 24 * 3600 * 1000]);
  const none = parseConfig({ EMBEDDED_LOG_RETENTION_BYTES: '0', EMBEDDED_LOG_RETENTION_MS: '0' }, 'all').embeddedLog;
  assert.deepEqual([none.retentionBytes, none.retentionMs], [Infinity, Infinity]);
  assert.equal(parseConfig({ EMBEDDED_LOG_RETENTION_MS: '3600000' }, 'all').embeddedLog.retentionMs, 3_600_000);
  assert.throws(() => parseConfig({ EMBEDDED_LOG_RETENTION_BYTES: '10GiB' }, 'all'), /EMBEDDED_LOG_RETENTION_BYTES/);
});
