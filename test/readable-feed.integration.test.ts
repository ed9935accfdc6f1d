// The realtime edge's source on both stores (api/realtime/readable-feed.ts) and the readable
// topic's records (processors/readable-topic.ts): a lost batch is healed from the store in
// order, a batch seen twice is dropped, a batch larger than a record crosses in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadableFeed, type LiveRow } from '../api/realtime/readable-feed.ts';
import { batchRecords, noticeRecord, ReadableTopicReader, type EdgeNotice } from '../processors/readable-topic.ts';
import { WriteSignal, type WrittenBatch } from '../processors/write-signal.ts';
import { newTenant, RowWriter, startStores, type Stores } from './support/read-api-harness.ts';

let stores: Stores;
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => { await stores?.stop(); });

/** What the sink would announce for these rows. */
function batchOf(rows: { tenant_id: string; seq: number }[]): WrittenBatch {
  return {
    table: 'audit_events', partition: 0,
    ranges: [{ tenantId: rows[0]!.tenant_id, firstSeq: rows[0]!.seq, lastSeq: rows[rows.length - 1]!.seq }],
    rows: Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join('')),
  };
}

describe.each(['chdb', 'http'] as const)('ReadableFeed on %s', (name) => {
  it('heals a lost batch from the store and drops a repeated one', async () => {
    const h = stores.list.find((s) => s.name === name)!;
    const writer = new RowWriter(h.store); // announces nothing: the test decides what the feed hears
    const signal = new WriteSignal();
    const feed = new ReadableFeed(signal, h.store, { warn: () => undefined });
    await feed.start();
    const got: LiveRow[] = [];
    feed.on('audit_events', (rows) => got.push(...rows));
    const t = newTenant();
    const a = await writer.audit(t, [{}, {}]);
    const lost = await writer.audit(t, [{}, {}, {}]);
    const c = await writer.audit(t, [{}]);
    signal.publish(batchOf(a));
    signal.publish(batchOf(c)); // the three before it never announced
    signal.publish(batchOf(c)); // and this one twice
    await feed.settled();
    expect(got.map((r) => r['id'])).toEqual([...a, ...lost, ...c].map((r) => r.id));
    expect(got.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(feed.stats).toMatchObject({ healed: 3, duplicates: 1 });
    // Rows from the store and from the sink look the same to listeners (numbers, ISO times).
    expect(typeof got[2]!.log_offset).toBe('number');
    expect(got[2]!['event_time']).toMatch(/Z$/);
    expect(feed.position().get(0)).toBe(c[0]!.log_offset);
    feed.close();
  });
});

describe('the readable topic records', () => {
  it('split a large batch on row boundaries and carry the ranges on the last record', () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({ tenant_id: 't', seq: i + 1, log_partition: 0, log_offset: i, blob: 'x'.repeat(4000) }));
    const b = batchOf(rows);
    const records = batchRecords(b);
    expect(records.length).toBeGreaterThan(1);
    const signal = new WriteSignal();
    const seen: WrittenBatch[] = [];
    signal.subscribe((x) => seen.push(x));
    const notices: EdgeNotice[] = [];
    const reader = new ReadableTopicReader(signal, (n) => notices.push(n));
    const asMessages = [...records, noticeRecord({ kind: 'force_sync', tenantId: 't', shareId: 's' })].map((r, i) => ({
      offset: BigInt(i), key: r.key, value: Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value), headers: r.headers ?? {}, timestamp: 0,
    }));
    void reader.onBatch({ topic: 'readable', partition: 0, messages: asMessages });
    expect(Buffer.concat(seen.map((x) => x.rows)).equals(b.rows)).toBe(true);
    expect(seen.slice(0, -1).every((x) => x.ranges.length === 0)).toBe(true);
    expect(seen[seen.length - 1]!.ranges).toEqual(b.ranges);
    expect(notices).toEqual([{ kind: 'force_sync', tenantId: 't', shareId: 's' }]);
  });
});
