// The Egnyte Events API on both stores: the cursor endpoint, every parameter of v1/v2 events, 204
// with no body, the window (30 days; the 500,000 rule at a small scale), tenant isolation, and the
// tail cache (head polls cost no store call, one store read per new batch however many poll).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TYPES, type EventFilter, type EventType, type MappedEvent } from '../api/egnyte/egnyte-event.ts';
import { EgnyteEventStream } from '../api/egnyte/event-stream.ts';
import { HighWater } from '../api/query/high-water.ts';
import type { Store } from '../infra/store/store.ts';
import { newTenant, readApp, startStores, type ChangeRow, type HarnessStore, type ReadApp, type Stores } from './support/read-api-harness.ts';

let stores: Stores;
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => { await stores?.stop(); });

/** The real store, counting the queries made through it. */
function counted(store: Store): { store: Store; queries: () => number } {
  let n = 0;
  return {
    queries: () => n,
    store: {
      kind: store.kind,
      command: (sql, params) => store.command(sql, params),
      query: (sql, params) => { n++; return store.query(sql, params); },
      insertJsonEachRow: (table, rows) => store.insertJsonEachRow(table, rows),
      stream: (sql, params, opts) => { n++; return store.stream(sql, params, opts); },
      close: () => store.close(),
    },
  };
}

const PERM = (over: Record<string, unknown> = {}) => JSON.stringify({
  permission_change: { changeGroupEvents: [], changePermissionEvent: { changedPermissions: [{ entry: { priv: 'READWRITE', subject: '/user/13' }, action: 'ADD' }] } },
  source_event_id: 'aud_x', action_source: 'WebUI', service_account: null, ...over,
});
const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();

describe.each(['chdb', 'http'] as const)('Egnyte events on %s', (name) => {
  const h = () => stores.list.find((s) => s.name === name)!;
  let api: ReadApp;
  beforeAll(async () => { api = await readApp(h()); });
  afterAll(async () => { await api?.close(); });
  const read = (tenant: string, extra?: Record<string, unknown>) => api.token(tenant, 'audit:read', extra);
  const ids = (body: { events: { id: number }[] }) => body.events.map((e) => e.id);

  it('the cursor: zeros for a tenant without events, then the latest and oldest ids and the latest timestamp', async () => {
    const tenant = newTenant();
    const tok = await read(tenant);
    const empty = await api.get('/pubapi/v1/events/cursor', tok);
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ latest_event_id: 0, oldest_event_id: 0 });
    expect(empty.body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    await h().rows.changes(tenant, [{}, {}, { changed_at: '2026-04-23T10:15:02.250Z' }]);
    const c = await api.get('/pubapi/v1/events/cursor', tok);
    expect(c.body).toEqual({ timestamp: '2026-04-23T10:15:02.250Z', latest_event_id: 3, oldest_event_id: 1 });
    expect((await api.get('/pubapi/v1/events/cursor?x=1', tok)).body.code).toBe('QUERY_INVALID');
    expect((await api.get('/pubapi/v1/events/cursor', await api.token(tenant, 'audit:write'))).status).toBe(403);
    expect(api.reads.records.filter((r) => r.tenantId === tenant).map((r) => r.what.resource)).toEqual(['egnyte.events.cursor', 'egnyte.events.cursor']);
  });

  it("lists events after the cursor in the document's response shape; 204 with no body when none follow", async () => {
    const tenant = newTenant();
    const tok = await read(tenant);
    await h().rows.changes(tenant, [
      { change_type: 'created', changed_by: '9967960066', changed_at: '2015-03-20T20:05:54.000Z', new_path: '/Shared/Documents/report.docx', metadata: '{"action_source":"PublicAPI"}' },
      { change_type: 'deleted', changed_by: '9967960066', changed_at: '2015-03-20T20:06:54.000Z', old_path: '/Shared/Documents/report.docx', new_path: null, metadata: '{"action_source":"PublicAPI"}' },
    ]);
    const r = await api.get('/pubapi/v1/events?id=1', tok);
    expect(r.status).toBe(200);
    expect(String(r.headers['content-type'])).toContain('application/json');
    expect(r.body).toEqual({
      count: 1,
      events: [{ id: 2, timestamp: '2015-03-20T20:06:54.000Z', actor: 9967960066, type: 'file_system', action: 'delete', data: { target_path: '/Shared/Documents/report.docx', is_folder: false }, action_source: 'PublicAPI' }],
      latest_id: 2,
    });
    expect(Object.keys(r.body)).toEqual(['count', 'events', 'latest_id']);
    const all = await api.get('/pubapi/v2/events?id=0', tok);
    expect(all.body).toMatchObject({ count: 2, latest_id: 2 });
    expect(all.body.events[0]).toMatchObject({ id: 1, action: 'create' });
    const before = api.reads.records.length;
    for (const id of [2, 99]) {
      const none = await api.get(`/pubapi/v1/events?id=${id}`, tok);
      expect(none.status).toBe(204);
      expect(none.raw).toBe('');
    }
    // A 204 discloses nothing, so it is not recorded.
    expect(api.reads.records.length).toBe(before);
    expect(api.reads.records.filter((x) => x.tenantId === tenant).map((x) => [x.what.resource, x.what.rows])).toEqual([['egnyte.events', 1], ['egnyte.events', 2]]);
  });

  it('refuses bad parameters with 400 QUERY_INVALID naming them', async () => {
    const tok = await read(newTenant());
    const bad: [string, string][] = [
      ['', 'id'], ['id=-1', 'id'], ['id=abc', 'id'], ['id=1&count=0', 'count'], ['id=1&count=101', 'count'], ['id=1&count=x', 'count'],
      ['id=1&reverse=2', 'reverse'], ['id=1&reverse=true', 'reverse'], ['id=1&suppress=others', 'suppress'], ['id=1&type=file_system|bogus', 'type'],
      ['id=1&folder=Shared', 'folder'], ['id=1&limit=5', 'limit'], ['id=1&id=2', 'id'],
    ];
    for (const [qs, param] of bad) {
      for (const v of ['v1', 'v2']) {
        const r = await api.get(`/pubapi/${v}/events?${qs}`, tok);
        expect(r.status, qs).toBe(400);
        expect(r.body.code).toBe('QUERY_INVALID');
        expect(r.body.details.map((d: { path: string }) => d.path)).toContain(param);
      }
    }
    expect((await api.get('/pubapi/v1/events?id=0', null)).status).toBe(401);
    expect((await api.get('/pubapi/v1/events?id=0', await api.token(newTenant(), 'drive:sync'))).status).toBe(403);
  });

  it('count: default 50, 1..100; reverse=1 walks back from the id (inclusive), reverse=0 is ignored', async () => {
    const tenant = newTenant();
    const tok = await read(tenant);
    await h().rows.changes(tenant, Array.from({ length: 120 }, (_, i) => ({ new_path: `/f/${i + 1}` })));
    const def = await api.get('/pubapi/v1/events?id=0', tok);
    expect(def.body.count).toBe(50);
    expect(ids(def.body)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(def.body.latest_id).toBe(50);
    const max = await api.get('/pubapi/v1/events?id=10&count=100', tok);
    expect(ids(max.body)).toEqual(Array.from({ length: 100 }, (_, i) => i + 11));
    expect((await api.get('/pubapi/v1/events?id=119&count=1', tok)).body).toMatchObject({ count: 1, latest_id: 120 });
    const back = await api.get('/pubapi/v1/events?id=5&count=3&reverse=1', tok);
    expect(ids(back.body)).toEqual([5, 4, 3]);
    expect(back.body.latest_id).toBe(5);
    expect(ids((await api.get('/pubapi/v1/events?id=2&count=3&reverse=1', tok)).body)).toEqual([2, 1]);
    expect(ids((await api.get('/pubapi/v1/events?id=1000&count=2&reverse=1', tok)).body)).toEqual([120, 119]);
    expect(ids((await api.get('/pubapi/v1/events?id=5&count=2&reverse=0', tok)).body)).toEqual([6, 7]);
    expect((await api.get('/pubapi/v1/events?id=0&reverse=1', tok)).status).toBe(204);
  });

  it('v1 returns file_system (and note) unless permission_change is asked for; v2 returns all; type filters', async () => {
    const tenant = newTenant();
    const tok = await read(tenant);
    await h().rows.changes(tenant, [
      { new_path: '/Shared/a.txt' },
      { change_type: 'updated', resource_type: 'folder', new_path: '/Shared/Documents', metadata: PERM() },
      { change_type: 'renamed', old_path: '/Shared/a.txt', new_path: '/Shared/b.txt' },
    ]);
    const v1 = await api.get('/pubapi/v1/events?id=0', tok);
    expect(ids(v1.body)).toEqual([1, 3]);
    expect(v1.body.events[1]).toMatchObject({ action: 'rename', data: { target_path: '/Shared/b.txt', source_path: '/Shared/a.txt' } });
    expect(ids((await api.get('/pubapi/v1/events?id=0&type=permission_change', tok)).body)).toEqual([2]);
    expect(ids((await api.get('/pubapi/v1/events?id=0&type=file_system|permission_change', tok)).body)).toEqual([1, 2, 3]);
    const v2 = await api.get('/pubapi/v2/events?id=0', tok);
    expect(ids(v2.body)).toEqual([1, 2, 3]);
    expect(v2.body.events[1]).toEqual({
      id: 2, timestamp: v2.body.events[1].timestamp, actor: v2.body.events[1].actor, type: 'permission_change', action: 'permission_change',
      data: { target_path: '/Shared/Documents', is_folder: false }, action_source: 'WebUI',
      eventTypeSpecificAttributes: { changeGroupEvents: [], changePermissionEvent: { changedPermissions: [{ entry: { priv: 'READWRITE', subject: '/user/13' }, action: 'ADD' }] } },
    });
    expect(ids((await api.get('/pubapi/v2/events?id=0&type=file_system|note', tok)).body)).toEqual([1, 3]);
    // Nothing produces notes.
    expect((await api.get('/pubapi/v2/events?id=0&type=note', tok)).status).toBe(204);
  });

  it("suppress=user leaves out the token's own changes, suppress=app those of its client (act.client_id)", async () => {
    const tenant = newTenant();
    await h().rows.changes(tenant, [
      { changed_by: 'usr_test' },
      { changed_by: 'usr_other', metadata: JSON.stringify({ service_account: 'app_1' }) },
      { changed_by: 'usr_other', metadata: PERM({ service_account: 'app_1' }) },
      { changed_by: 'usr_other', metadata: JSON.stringify({ service_account: 'app_2' }) },
    ]);
    const user = await read(tenant); // sub usr_test, no client
    const app = await read(tenant, { act: { client_id: 'app_1' } });
    const q = async (tok: string, s: string) => ids((await api.get(`/pubapi/v2/events?id=0&suppress=${s}`, tok)).body);
    expect(await q(user, 'none')).toEqual([1, 2, 3, 4]);
    expect(await q(user, 'user')).toEqual([2, 3, 4]);
    expect(await q(user, 'app')).toEqual([1, 2, 3, 4]);
    expect(await q(app, 'app')).toEqual([1, 4]);
  });

  it('folder: events whose new or old path is the folder or under it (not a sibling with the same prefix)', async () => {
    const tenant = newTenant();
    const tok = await read(tenant);
    await h().rows.changes(tenant, [
      { new_path: '/Shared/Docs' },
      { new_path: '/Shared/Docs/a/b.txt' },
      { new_path: '/Shared/Docs2/c.txt' },
      { change_type: 'moved', old_path: '/Shared/Docs/d.txt', new_path: '/Other/d.txt' },
      { change_type: 'deleted', old_path: '/Shared/Docs/e.txt', new_path: null },
      { new_path: '/Other/f.txt' },
    ]);
    for (const folder of ['/Shared/Docs', '/Shared/Docs/']) {
      expect(ids((await api.get(`/pubapi/v1/events?id=0&folder=${encodeURIComponent(folder)}`, tok)).body)).toEqual([1, 2, 4, 5]);
    }
    expect(ids((await api.get('/pubapi/v1/events?id=0&folder=/', tok)).body)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await api.get('/pubapi/v1/events?id=5&folder=/Shared/Docs', tok)).status).toBe(204);
  });

  it("stays in the token's tenant", async () => {
    const a = newTenant();
    const b = newTenant();
    await h().rows.changes(a, [{ new_path: '/a/1' }, { new_path: '/a/2' }]);
    await h().rows.changes(b, [{ new_path: '/b/1' }]);
    const ra = await api.get('/pubapi/v2/events?id=0', await read(a));
    const rb = await api.get('/pubapi/v2/events?id=0', await read(b));
    expect(ra.body.events.map((e: { data: { target_path: string } }) => e.data.target_path)).toEqual(['/a/1', '/a/2']);
    expect(rb.body.events.map((e: { data: { target_path: string } }) => e.data.target_path)).toEqual(['/b/1']);
    expect((await api.get('/pubapi/v1/events/cursor', await read(b))).body.latest_event_id).toBe(1);
  });

  it('the window: events received more than 30 days ago are gone; an older cursor reads from the oldest', async () => {
    const tenant = newTenant();
    const tok = await read(tenant);
    await h().rows.changes(tenant, [
      { received_at: daysAgo(45), changed_at: daysAgo(45) },
      { received_at: daysAgo(31), changed_at: daysAgo(31) },
    ]);
    expect((await api.get('/pubapi/v1/events/cursor', tok)).body).toMatchObject({ latest_event_id: 2, oldest_event_id: 2 });
    expect((await api.get('/pubapi/v1/events?id=0', tok)).status).toBe(204);
    await h().rows.changes(tenant, [{ received_at: daysAgo(29) }, {}]);
    expect((await api.get('/pubapi/v1/events/cursor', tok)).body).toMatchObject({ latest_event_id: 4, oldest_event_id: 3 });
    expect(ids((await api.get('/pubapi/v1/events?id=0', tok)).body)).toEqual([3, 4]);
    expect(ids((await api.get('/pubapi/v1/events?id=9&reverse=1', tok)).body)).toEqual([4, 3]);
  });

  it('a poll at the head costs no store call; the next poll sees exactly the new events; concurrent polls share one store read', async () => {
    const tenant = newTenant();
    const c = counted(h().store);
    const capp = await readApp({ ...h(), store: c.store } as HarnessStore);
    try {
      const tok = await capp.token(tenant, 'audit:read');
      const poll = async (id: number) => capp.get(`/pubapi/v2/events?id=${id}&count=100`, tok);
      await h().rows.changes(tenant, [{}, {}, {}]);
      const first = await poll(0);
      expect(ids(first.body)).toEqual([1, 2, 3]);
      let cursor = first.body.latest_id as number;
      const atHead = c.queries();
      for (let i = 0; i < 5; i++) expect((await poll(cursor)).status).toBe(204);
      expect(c.queries()).toBe(atHead);
      for (let round = 0; round < 3; round++) {
        const added = await h().rows.changes(tenant, Array.from({ length: round + 2 }, () => ({})));
        const before = c.queries();
        const polls = await Promise.all(Array.from({ length: 25 }, () => poll(cursor)));
        expect(c.queries() - before).toBe(1);
        for (const p of polls) expect(ids(p.body)).toEqual(added.map((r) => r.seq));
        cursor = polls[0]!.body.latest_id;
        expect((await poll(cursor)).status).toBe(204);
      }
      expect(cursor).toBe(3 + 2 + 3 + 4);
    } finally {
      await capp.close();
    }
  });

  it('memory and SQL agree: the same answer from the tail and from the store, for every filter and cursor', async () => {
    const tenant = newTenant();
    const rows: Partial<ChangeRow>[] = [];
    // Paths in, under, beside and out of /Shared/Docs, by new path, by old path only, and both.
    const shapes: Pick<ChangeRow, 'new_path' | 'old_path'>[] = [
      { new_path: '/Shared/Docs/a', old_path: null },
      { new_path: '/Shared/Docs', old_path: '/Shared/Docs2/b' },
      { new_path: null, old_path: '/Shared/Docs/x' },
      { new_path: '/Other/c', old_path: '/Shared/Docs' },
      { new_path: '/Shared/Docs2/b', old_path: null },
    ];
    for (let i = 0; i < 30; i++) {
      const perm = i % 4 === 1;
      rows.push({
        ...shapes[i % shapes.length]!,
        changed_by: i % 3 === 0 ? 'usr_me' : `usr_${i}`,
        change_type: perm ? 'updated' : (['created', 'moved', 'deleted', 'renamed'] as const)[i % 4],
        metadata: perm ? PERM({ service_account: i % 2 === 0 ? 'app_me' : null }) : JSON.stringify(i % 2 === 0 ? { service_account: 'app_me' } : {}),
      });
    }
    await h().rows.changes(tenant, rows);
    const hw = new HighWater(h().store, h().signal);
    const memory = new EgnyteEventStream(h().store, hw);
    const store = new EgnyteEventStream(h().store, hw, { perTenant: 1 });
    const filters: EventFilter[] = [];
    const typeSets: EventType[][] = [[...DEFAULT_TYPES.v1], [...DEFAULT_TYPES.v2], ['permission_change'], ['note', 'file_system']];
    for (const types of typeSets) {
      for (const folder of [undefined, '/Shared/Docs']) {
        for (const [notBy, notApp] of [[undefined, undefined], ['usr_me', undefined], [undefined, 'app_me']] as const) {
          filters.push({ types: new Set(types), folder, notBy, notApp });
        }
      }
    }
    const seqs = (es: MappedEvent[]) => es.map((e) => e.seq);
    let nonEmpty = 0;
    for (const filter of filters) {
      for (const reverse of [false, true]) {
        for (const id of [0, 3, 11, 20, 27]) {
          const r = { id, count: 4, reverse, filter };
          const fromMemory = await memory.list(tenant, r);
          const fromStore = await store.list(tenant, r);
          expect(seqs(fromStore), JSON.stringify({ ...r, filter: { ...filter, types: [...filter.types] } })).toEqual(seqs(fromMemory));
          expect(fromStore.map((e) => e.json)).toEqual(fromMemory.map((e) => e.json));
          if (fromMemory.length > 0) nonEmpty++;
        }
      }
    }
    expect(nonEmpty).toBeGreaterThan(100);
    expect(memory.stats.storeReads).toBe(0);
    expect(store.stats.storeReads).toBeGreaterThan(100);
  });

  it('the 500,000-event rule at a small scale: only the latest N ids are served, from memory or the store', async () => {
    const tenant = newTenant();
    await h().rows.changes(tenant, Array.from({ length: 8 }, () => ({})));
    const hw = new HighWater(h().store, h().signal);
    const all: EventFilter = { types: new Set(DEFAULT_TYPES.v2), folder: undefined, notBy: undefined, notApp: undefined };
    for (const perTenant of [1000, 2]) {
      const s = new EgnyteEventStream(h().store, hw, { window: { events: 5, ms: 30 * 86_400_000 }, perTenant });
      expect(await s.cursor(tenant)).toMatchObject({ latest_event_id: 8, oldest_event_id: 4 });
      expect((await s.list(tenant, { id: 0, count: 50, reverse: false, filter: all })).map((e) => e.seq)).toEqual([4, 5, 6, 7, 8]);
      expect((await s.list(tenant, { id: 6, count: 50, reverse: true, filter: all })).map((e) => e.seq)).toEqual([6, 5, 4]);
      expect(await s.list(tenant, { id: 3, count: 50, reverse: true, filter: all })).toEqual([]);
    }
  });
});

describe('the tail cache', () => {
  const h = () => stores.list[0]!;
  const all: EventFilter = { types: new Set(DEFAULT_TYPES.v2), folder: undefined, notBy: undefined, notApp: undefined };

  it('a burst larger than the tail resets it to the newest events; nothing is skipped or repeated across it', async () => {
    const tenant = newTenant();
    const s = new EgnyteEventStream(h().store, new HighWater(h().store, h().signal), { perTenant: 4 });
    await h().rows.changes(tenant, [{}, {}]);
    const seen: number[] = [];
    let cursor = 0;
    const drain = async () => {
      for (;;) {
        const page = await s.list(tenant, { id: cursor, count: 3, reverse: false, filter: all });
        if (page.length === 0) return;
        seen.push(...page.map((e) => e.seq));
        cursor = page[page.length - 1]!.seq;
      }
    };
    await drain();
    await h().rows.changes(tenant, Array.from({ length: 11 }, () => ({})));
    await drain();
    await h().rows.changes(tenant, [{}]);
    await drain();
    expect(seen).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
  });

  it('is bounded: past maxSize the least recently polled tenants are dropped and reload on their next poll', async () => {
    const tenants = [newTenant(), newTenant(), newTenant()];
    for (const t of tenants) await h().rows.changes(t, [{}, {}]);
    const s = new EgnyteEventStream(h().store, new HighWater(h().store, h().signal), { maxSize: 2000 });
    for (const t of tenants) expect((await s.list(t, { id: 0, count: 10, reverse: false, filter: all })).length).toBe(2);
    const loads = s.stats.tailLoads;
    // The newest tenant is still held; the first was dropped and is read again.
    await s.list(tenants[2]!, { id: 0, count: 10, reverse: false, filter: all });
    expect(s.stats.tailLoads).toBe(loads);
    expect((await s.list(tenants[0]!, { id: 0, count: 10, reverse: false, filter: all })).length).toBe(2);
    expect(s.stats.tailLoads).toBe(loads + 1);
  });
});
