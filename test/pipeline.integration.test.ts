// The same pipeline tests on both deployments: (a) embedded, (b) Kafka + ClickHouse over HTTP.
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { getAllLogs, getLogs, ingest } from './support/api-client.ts';
import { startDistributed, startEmbedded, until, type Topology } from './support/topologies.ts';
import { changeLogExample, scaidriveAuditExample, scaivaultLogExample } from './fixtures/seed-examples.ts';

const uniq = () => randomBytes(4).toString('hex');

function event(i: number, over: Record<string, unknown> = {}) {
  return {
    id: `aud_${uniq()}_${i}`,
    event_type: 'file.read', category: 'file_access', action: 'read',
    event_time: new Date(Date.UTC(2026, 3, 1, 0, 0, i)).toISOString(),
    actor: { id: `usr_${i % 3}`, type: i % 2 === 0 ? 'user' : 'service_account', email: `u${i % 3}@example.com` },
    resource: { type: 'file', id: `fil_${i}`, path: `/team-${i % 2}/doc-${i}.txt` },
    source_ip: `10.0.0.${i % 4}`, request_id: `req_${i}`, success: i % 5 !== 0, ...over,
  };
}

for (const start of [startEmbedded, startDistributed]) {
  describe(`pipeline (${start === startEmbedded ? 'embedded' : 'Kafka + ClickHouse HTTP'})`, () => {
    let topo: Topology;
    beforeAll(async () => { topo = await start(); });
    afterAll(async () => { await topo?.stop(); });

    const tokens = async (tenant: string) => ({
      write: await topo.token(tenant, 'audit:write'),
      read: await topo.token(tenant, 'audit:read'),
    });

    test('the seed documents\' native shapes are accepted as they stand and read back as ScaiVault logs', async () => {
      const tenant = 'tnt_01J3A';
      const t = await tokens(tenant);
      const canonical = event(1, { id: `aud_canon_${uniq()}` });
      const res = await ingest(topo.ingestUrl(), t.write, 'audit-events', [scaidriveAuditExample, scaivaultLogExample, canonical]);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.accepted, 3);
      assert.deepEqual(res.body.ids, ['aud_01J3L', 'log_abc', canonical.id]);
      const logs = await until(async () => {
        const r = await getLogs(topo.apiUrl(), t.read);
        return r.body.logs.length === 3 ? r.body.logs : undefined;
      }, 30_000, 'three logs');
      // Newest first (by arrival): the canonical event came last.
      assert.deepEqual(logs.map((l) => l['id']), [canonical.id, 'log_abc', 'aud_01J3L']);
      assert.deepEqual(logs[1], {
        id: 'log_abc', timestamp: '2026-04-23T10:16:00.000Z', action: 'read', identity_type: 'service_account',
        identity_id: 'sa:reporting', secret_path: 'integrations/salesforce/oauth', source_ip: '10.0.1.50',
        user_agent: 'scaivault-python/1.0', success: true, duration_ms: 12, request_id: 'req_xyz', extra_data: {},
      });
      assert.equal(logs[2]!['identity_id'], 'usr_01J3N');
      assert.equal(logs[2]!['source_ip'], '203.0.113.7');
      assert.deepEqual(logs[2]!['extra_data'], { version: 1, size: 22300000 });
    });

    test('NDJSON with gzip is accepted; ids are assigned where absent', async () => {
      const tenant = `tnt_nd_${uniq()}`;
      const t = await tokens(tenant);
      const events = [1, 2, 3].map((i) => { const e: Record<string, unknown> = event(i); delete e['id']; return e; });
      const res = await ingest(topo.ingestUrl(), t.write, 'audit-events', events, { ndjson: true, gzip: true });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.ids!.length, 3);
      for (const id of res.body.ids!) assert.match(id, /^aud_[0-9A-Z]{26}$/);
      const all = await until(async () => { const l = await getAllLogs(topo.apiUrl(), t.read); return l.length === 3 ? l : undefined; });
      assert.deepEqual(new Set(all.map((l) => l['id'])), new Set(res.body.ids));
    });

    test('one invalid event rejects the whole batch with per-index details; nothing is accepted', async () => {
      const tenant = `tnt_bad_${uniq()}`;
      const t = await tokens(tenant);
      const bad = await ingest(topo.ingestUrl(), t.write, 'audit-events', [event(1), { ...event(2), category: 'gossip' }, event(3), { nope: true }]);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 'VALIDATION_FAILED');
      assert.deepEqual([...new Set(bad.body.details!.map((d) => d.index))], [1, 3]);
      assert.ok(bad.body.details!.some((d) => d.index === 1 && d.path === '/category'));
      const sentinel = event(9);
      assert.equal((await ingest(topo.ingestUrl(), t.write, 'audit-events', [sentinel])).status, 202);
      const all = await until(async () => { const l = await getAllLogs(topo.apiUrl(), t.read); return l.length > 0 ? l : undefined; });
      assert.deepEqual(all.map((l) => l['id']), [sentinel.id]);

      const malformed = await ingest(topo.ingestUrl(), t.write, 'audit-events', [], { rawBody: '[{"a":' });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.code, 'BODY_MALFORMED');
      const badLine = await ingest(topo.ingestUrl(), t.write, 'audit-events', [], { rawBody: `${JSON.stringify(event(1))}\n{oops\n`, contentType: 'application/x-ndjson' });
      assert.equal(badLine.status, 400);
      assert.deepEqual(badLine.body.details!.map((d) => d.index), [1]);
      const wrongType = await ingest(topo.ingestUrl(), t.write, 'audit-events', [], { rawBody: 'x', contentType: 'text/plain' });
      assert.equal(wrongType.status, 415);
      assert.equal(wrongType.body.code, 'UNSUPPORTED_MEDIA_TYPE');
    });

    test('an event re-sent with the same id is stored once', async () => {
      const tenant = `tnt_dup_${uniq()}`;
      const t = await tokens(tenant);
      const batch = [event(1), event(2), event(3)];
      assert.equal((await ingest(topo.ingestUrl(), t.write, 'audit-events', batch)).status, 202);
      await until(async () => (await getAllLogs(topo.apiUrl(), t.read)).length === 3);
      // Again, and within one batch twice, then a sentinel to know the re-sends were processed.
      assert.equal((await ingest(topo.ingestUrl(), t.write, 'audit-events', [...batch, batch[0]])).status, 202);
      const sentinel = event(4);
      assert.equal((await ingest(topo.ingestUrl(), t.write, 'audit-events', [sentinel])).status, 202);
      const all = await until(async () => { const l = await getAllLogs(topo.apiUrl(), t.read); return l.some((x) => x['id'] === sentinel.id) ? l : undefined; });
      assert.deepEqual(all.map((l) => l['id']).sort(), [...batch, sentinel].map((e) => e.id).sort());
    });

    test('every documented filter, limit and the cursor walk the log without gaps or repeats', async () => {
      const tenant = `tnt_f_${uniq()}`;
      const t = await tokens(tenant);
      const events = Array.from({ length: 250 }, (_, i) => event(i));
      assert.equal((await ingest(topo.ingestUrl(), t.write, 'audit-events', events)).status, 202);
      await until(async () => (await getAllLogs(topo.apiUrl(), t.read)).length === 250, 30_000, '250 events');

      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const r = await getLogs(topo.apiUrl(), t.read, { limit: 100, ...(cursor ? { cursor } : {}) });
        assert.equal(r.status, 200);
        pages.push(r.body.logs.map((l) => l['id'] as string));
        cursor = r.body.has_more ? r.body.cursor : null;
        if (r.body.has_more) assert.ok(cursor);
      } while (cursor);
      assert.deepEqual(pages.map((p) => p.length), [100, 100, 50]);
      assert.deepEqual(pages.flat(), events.map((e) => e.id).reverse());
      assert.equal((await getLogs(topo.apiUrl(), t.read)).body.logs.length, 100, 'default limit is 100');

      const ids = async (q: Record<string, string | number | boolean>) => (await getAllLogs(topo.apiUrl(), t.read, q)).map((l) => l['id']).sort();
      const expect = (pred: (e: ReturnType<typeof event>, i: number) => boolean) => events.filter(pred).map((e) => e.id).sort();
      assert.deepEqual(await ids({ action: 'read' }), expect(() => true));
      assert.deepEqual(await ids({ action: 'write,delete' }), []);
      assert.deepEqual(await ids({ identity_id: 'usr_1' }), expect((_e, i) => i % 3 === 1));
      assert.deepEqual(await ids({ identity_type: 'service_account' }), expect((_e, i) => i % 2 === 1));
      assert.deepEqual(await ids({ path_prefix: '/team-1/' }), expect((_e, i) => i % 2 === 1));
      assert.deepEqual(await ids({ success: false }), expect((_e, i) => i % 5 === 0));
      assert.deepEqual(await ids({ source_ip: '10.0.0.3' }), expect((_e, i) => i % 4 === 3));
      assert.deepEqual(await ids({ request_id: 'req_42' }), [events[42]!.id]);
      assert.deepEqual(await ids({ from: events[10]!.event_time, to: events[20]!.event_time }), expect((_e, i) => i >= 10 && i < 20));
      assert.deepEqual(await ids({ identity_id: 'usr_2', success: true, path_prefix: '/team-0' }), expect((_e, i) => i % 3 === 2 && i % 5 !== 0 && i % 2 === 0));

      const first = await getLogs(topo.apiUrl(), t.read, { limit: 10, success: true });
      const reused = await getLogs(topo.apiUrl(), t.read, { limit: 10, success: false, cursor: first.body.cursor! });
      assert.equal(reused.status, 400);
      assert.equal(reused.body.code, 'CURSOR_INVALID');
      for (const q of <Record<string, string | number>[]>[{ limit: 0 }, { limit: 1001 }, { success: 'maybe' }, { identity_type: 'robot' }, { from: 'yesterday' }, { cursor: 'garbage' }, { colour: 'red' }]) {
        const r = await getLogs(topo.apiUrl(), t.read, q);
        assert.equal(r.status, 400, JSON.stringify(q));
        assert.ok(r.body.code === 'QUERY_INVALID' || r.body.code === 'CURSOR_INVALID');
      }
    });

    test('tenants never see each other\'s events; tokens and scopes are enforced', async () => {
      const a = await tokens(`tnt_a_${uniq()}`);
      const bTenant = `tnt_b_${uniq()}`;
      const b = await tokens(bTenant);
      assert.equal((await ingest(topo.ingestUrl(), a.write, 'audit-events', [event(1), event(2)])).status, 202);
      await until(async () => (await getAllLogs(topo.apiUrl(), a.read)).length === 2);
      assert.deepEqual((await getLogs(topo.apiUrl(), b.read)).body.logs, []);
      const crossCursor = (await getLogs(topo.apiUrl(), a.read, { limit: 1 })).body.cursor!;
      assert.equal((await getLogs(topo.apiUrl(), b.read, { limit: 1, cursor: crossCursor })).status, 400);

      const mismatch = await ingest(topo.ingestUrl(), b.write, 'audit-events', [{ ...scaidriveAuditExample, id: 'aud_x' }]);
      assert.equal(mismatch.status, 403);
      assert.equal(mismatch.body.code, 'TENANT_MISMATCH');
      assert.equal((await getLogs(topo.apiUrl(), null)).status, 401);
      assert.equal((await getLogs(topo.apiUrl(), 'not.a.jwt')).body.code, 'AUTH_INVALID');
      const wrongScope = await getLogs(topo.apiUrl(), b.write);
      assert.equal(wrongScope.status, 403);
      assert.equal(wrongScope.body.code, 'AUTH_SCOPE');
      assert.equal((await ingest(topo.ingestUrl(), b.read, 'audit-events', [event(1)])).status, 403);
    });

    test('ChangeLog rows are accepted as they stand', async () => {
      const t = await tokens(`tnt_chg_${uniq()}`);
      const res = await ingest(topo.ingestUrl(), t.write, 'changes', [changeLogExample, { ...changeLogExample, id: undefined, change_type: 'created', old_path: null }]);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.ids![0], 'chg_01J3L');
      assert.match(res.body.ids![1]!, /^chg_/);
      const bad = await ingest(topo.ingestUrl(), t.write, 'changes', [{ ...changeLogExample, change_type: 'exploded' }]);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.details![0]!.path, '/change_type');
    });
  });
}
