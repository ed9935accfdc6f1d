// GET /api/v1/sync/changes on both stores: the ChangeLog entry shape, oldest-first keyset paging
// that neither skips nor repeats while changes arrive, share access (claim, drive:all, share_id),
// tenant isolation, scopes, limits and cursor checks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeLogExample } from './fixtures/seed-examples.ts';
import { checkOpenApi3 } from './support/service-surface-checks.ts';
import { newTenant, readApp, startStores, type ChangeRow, type ReadApp, type Stores } from './support/read-api-harness.ts';

let stores: Stores;
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => { await stores?.stop(); });

interface SyncPage {
  changes: Record<string, unknown>[];
  cursor: string;
  has_more: boolean;
}

async function pull(api: ReadApp, token: string | null, query: Record<string, string | number> = {}) {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  return api.get(`/api/v1/sync/changes${qs ? `?${qs}` : ''}`, token);
}

async function page(api: ReadApp, token: string, query: Record<string, string | number> = {}): Promise<SyncPage> {
  const r = await pull(api, token, query);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as SyncPage;
}

const ids = (p: SyncPage) => p.changes.map((c) => c['id']);
const rowIds = (rows: ChangeRow[]) => rows.map((r) => r.id);

describe.each(['chdb', 'http'] as const)('GET /api/v1/sync/changes on %s', (name) => {
  const h = () => stores.list.find((s) => s.name === name)!;
  let api: ReadApp;
  beforeAll(async () => { api = await readApp(h()); });
  afterAll(async () => { await api?.close(); });
  const syncAll = (tenant: string) => api.token(tenant, 'drive:sync drive:all');

  it("returns each change exactly as the document's ChangeLog example, fields in its order", async () => {
    const tenant = newTenant();
    const { metadata, ...rest } = changeLogExample;
    await h().rows.changes(tenant, [
      { ...rest, metadata: JSON.stringify(metadata), changed_at: '2026-04-23T10:15:02.000Z', share_id: 'shr_01J3K' },
      { id: 'chg_new', change_type: 'created', old_path: null, new_path: '/a.txt', version_id: null, metadata: '"free text"', changed_at: '2026-04-23T10:15:03.250Z' },
    ]);
    const p = await page(api, await syncAll(tenant));
    expect(p.changes[0]).toEqual({ ...changeLogExample, changed_at: '2026-04-23T10:15:02.000Z' });
    expect(Object.keys(p.changes[0]!)).toEqual(Object.keys(changeLogExample));
    expect(p.changes[1]).toMatchObject({ id: 'chg_new', change_type: 'created', changed_at: '2026-04-23T10:15:03.250Z', old_path: null, version_id: null, metadata: { value: 'free text' } });
    expect(Object.keys(p)).toEqual(['changes', 'cursor', 'has_more']);
    expect(p.has_more).toBe(false);
  });

  it('pages oldest first; the cursor is returned at the end of the log and resumes there', async () => {
    const tenant = newTenant();
    const tok = await syncAll(tenant);
    const empty = await page(api, tok);
    expect(empty).toMatchObject({ changes: [], has_more: false });
    expect(typeof empty.cursor).toBe('string');
    const rows = await h().rows.changes(tenant, [{}, {}, {}, {}, {}]);
    const p1 = await page(api, tok, { limit: 2, cursor: empty.cursor });
    const p2 = await page(api, tok, { limit: 2, cursor: p1.cursor });
    const p3 = await page(api, tok, { limit: 2, cursor: p2.cursor });
    expect([ids(p1), ids(p2), ids(p3)]).toEqual([rowIds(rows.slice(0, 2)), rowIds(rows.slice(2, 4)), rowIds(rows.slice(4))]);
    expect([p1.has_more, p2.has_more, p3.has_more]).toEqual([true, true, false]);
    // At the end: nothing new, the same cursor back; later changes come from it.
    const idle = await page(api, tok, { limit: 2, cursor: p3.cursor });
    expect(idle).toEqual({ changes: [], cursor: p3.cursor, has_more: false });
    const later = await h().rows.changes(tenant, [{}]);
    expect(ids(await page(api, tok, { cursor: idle.cursor }))).toEqual(rowIds(later));
    // Without a cursor: from the start.
    expect(ids(await page(api, tok))).toEqual(rowIds([...rows, ...later]));
  });

  it('never skips or repeats a change while changes arrive between pages', async () => {
    const tenant = newTenant();
    const tok = await api.token(tenant, 'drive:sync', { shares: ['shr_a', 'shr_b'] });
    const expected: string[] = [];
    const seen: string[] = [];
    let cursor: string | undefined;
    const shareOf = ['shr_a', 'shr_c', 'shr_b'];
    for (let round = 0; round < 14; round++) {
      const n = round % 4; // 0..3 rows between pages, in shares the token may and may not read
      const rows = await h().rows.changes(tenant, Array.from({ length: n }, (_, i) => ({ share_id: shareOf[(round + i) % 3]! })));
      expected.push(...rowIds(rows.filter((r) => r.share_id !== 'shr_c')));
      const p = await page(api, tok, { limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...(ids(p) as string[]));
      cursor = p.cursor;
    }
    for (;;) {
      const p = await page(api, tok, { limit: 2, cursor: cursor! });
      seen.push(...(ids(p) as string[]));
      cursor = p.cursor;
      if (!p.has_more) break;
    }
    expect(expected.length).toBeGreaterThan(10);
    expect(seen).toEqual(expected);
  });

  it('lists only the shares the token may read: claim, drive:all, share_id; 403 outside', async () => {
    const tenant = newTenant();
    const rows = await h().rows.changes(tenant, [{ share_id: 'shr_a' }, { share_id: 'shr_b' }, { share_id: 'shr_c' }, { share_id: '' }, { share_id: 'shr_a' }]);
    const [a1, b, c, none, a2] = rows.map((r) => r.id);
    const claim = await api.token(tenant, 'drive:sync', { shares: ['shr_b', 'shr_a'] });
    expect(ids(await page(api, claim))).toEqual([a1, b, a2]);
    expect(ids(await page(api, claim, { share_id: 'shr_b' }))).toEqual([b]);
    const outside = await pull(api, claim, { share_id: 'shr_c' });
    expect(outside.status).toBe(403);
    expect(outside.body.code).toBe('SHARE_FORBIDDEN');
    // drive:all: every share of the tenant, changes without a share included; share_id narrows.
    const all = await syncAll(tenant);
    expect(ids(await page(api, all))).toEqual([a1, b, c, none, a2]);
    expect(ids(await page(api, all, { share_id: 'shr_c' }))).toEqual([c]);
    // Neither a shares claim nor drive:all: an empty log, with a cursor to resume from.
    const bare = await api.token(tenant, 'drive:sync');
    const nothing = await page(api, bare);
    expect(nothing.changes).toEqual([]);
    expect(typeof nothing.cursor).toBe('string');
    expect((await pull(api, bare, { share_id: 'shr_a' })).status).toBe(403);
    expect((await pull(api, bare, { cursor: nothing.cursor })).status).toBe(200);
  });

  it('binds the cursor to the shares read: same set in any claim order, another set refused', async () => {
    const tenant = newTenant();
    await h().rows.changes(tenant, [{ share_id: 'shr_a' }, { share_id: 'shr_b' }, { share_id: 'shr_a' }]);
    const ab = await api.token(tenant, 'drive:sync', { shares: ['shr_a', 'shr_b'] });
    const p = await page(api, ab, { limit: 1 });
    const ba = await api.token(tenant, 'drive:sync', { shares: ['shr_b', 'shr_a', 'shr_a'] });
    expect((await page(api, ba, { limit: 1, cursor: p.cursor })).changes).toHaveLength(1);
    const narrowed = await api.token(tenant, 'drive:sync', { shares: ['shr_a'] });
    const refused = await pull(api, narrowed, { cursor: p.cursor });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('CURSOR_INVALID');
    // A share_id cursor is bound to that share, not to the token's other shares.
    const one = await page(api, ab, { share_id: 'shr_a', limit: 1 });
    expect((await page(api, narrowed, { share_id: 'shr_a', cursor: one.cursor })).changes).toHaveLength(1);
    expect((await pull(api, ab, { cursor: one.cursor })).body.code).toBe('CURSOR_INVALID');
  });

  it("keeps tenants apart: another tenant's rows are never listed, its cursor is refused", async () => {
    const mine = newTenant();
    const theirs = newTenant();
    const own = await h().rows.changes(mine, [{ share_id: 'shr_a' }]);
    await h().rows.changes(theirs, [{ share_id: 'shr_a' }, { share_id: 'shr_a' }]);
    const tok = await api.token(mine, 'drive:sync', { shares: ['shr_a'] });
    const p = await page(api, tok);
    expect(ids(p)).toEqual(rowIds(own));
    expect(ids(await page(api, await syncAll(mine)))).toEqual(rowIds(own));
    const foreign = await pull(api, await api.token(theirs, 'drive:sync', { shares: ['shr_a'] }), { cursor: p.cursor });
    expect(foreign.status).toBe(400);
    expect(foreign.body.code).toBe('CURSOR_INVALID');
  });

  it('needs a token with drive:sync; records each read that returns changes (an empty poll is not recorded)', async () => {
    const tenant = newTenant();
    await h().rows.changes(tenant, [{ share_id: 'shr_a' }, { share_id: 'shr_b' }]);
    const before = api.reads.records.length;
    const anon = await pull(api, null);
    expect([anon.status, anon.body.code]).toEqual([401, 'AUTH_MISSING']);
    const noSync = await pull(api, await api.token(tenant, 'audit:read drive:all'));
    expect([noSync.status, noSync.body.code]).toEqual([403, 'AUTH_SCOPE']);
    const forbidden = await pull(api, await api.token(tenant, 'drive:sync', { shares: ['shr_a'] }), { share_id: 'shr_b' });
    expect(forbidden.status).toBe(403);
    expect(api.reads.records.length).toBe(before);
    const tok = await api.token(tenant, 'drive:sync', { shares: ['shr_a'] });
    const p = await page(api, tok, { limit: 5 });
    await page(api, tok, { share_id: 'shr_a', cursor: (await page(api, tok, { share_id: 'shr_a' })).cursor });
    const recs = api.reads.records.slice(before).filter((r) => r.tenantId === tenant);
    expect(recs.map((r) => [r.what.resource, r.what.rows])).toEqual([['drive.sync.changes', 1], ['drive.sync.changes', 1]]);
    expect(recs[0]!.what.filters).toEqual({ share_id: undefined, shares: ['shr_a'], limit: 5, cursor: false });
    expect(recs[1]!.what.filters).toEqual({ share_id: 'shr_a', shares: ['shr_a'], limit: 100, cursor: false });
    // A later change is read with the cursor, and that read is recorded.
    const resumed = await page(api, tok, { share_id: 'shr_a' });
    await h().rows.changes(tenant, [{ share_id: 'shr_a' }]);
    const next = await page(api, tok, { share_id: 'shr_a', cursor: resumed.cursor });
    expect(next.changes).toHaveLength(1);
    const last = api.reads.records.filter((r) => r.tenantId === tenant).at(-1)!;
    expect([last.what.rows, last.what.filters['cursor']]).toEqual([1, true]);
    expect(p.changes).toHaveLength(1);
  });

  it('bounds limit (default 100, 1 to 1000) and refuses bad or unknown parameters', async () => {
    const tenant = newTenant();
    const tok = await syncAll(tenant);
    await h().rows.changes(tenant, Array.from({ length: 1001 }, () => ({})));
    const dflt = await page(api, tok);
    expect([dflt.changes.length, dflt.has_more]).toEqual([100, true]);
    const max = await page(api, tok, { limit: 1000 });
    expect([max.changes.length, max.has_more]).toEqual([1000, true]);
    const rest = await page(api, tok, { limit: 1000, cursor: max.cursor });
    expect([rest.changes.length, rest.has_more]).toEqual([1, false]);
    const bads: Record<string, string | number>[] = [{ limit: 0 }, { limit: 1001 }, { limit: 'ten' }, { limit: '1.5' }, { since: '2026-01-01' }, { share_id: '' }];
    for (const bad of bads) {
      const r = await pull(api, tok, bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.code).toBe('QUERY_INVALID');
      expect(r.body.details[0].path).toBe(Object.keys(bad)[0]);
    }
    const twice = await api.get('/api/v1/sync/changes?limit=1&limit=2', tok);
    expect([twice.status, twice.body.code]).toEqual([400, 'QUERY_INVALID']);
  });

  it('refuses a cursor it did not issue', async () => {
    const tenant = newTenant();
    const tok = await syncAll(tenant);
    await h().rows.changes(tenant, [{}, {}]);
    const good = (await page(api, tok, { limit: 1 })).cursor;
    const doc = JSON.parse(Buffer.from(good, 'base64url').toString('utf8'));
    const forge = (d: unknown) => Buffer.from(JSON.stringify(d)).toString('base64url');
    const tampered = [
      'not-a-cursor', good.slice(0, -3), forge({ ...doc, h: 'AAAAAAAAAAAA' }), forge({ ...doc, v: 2 }),
      forge({ ...doc, s: -1 }), forge({ ...doc, s: 1.5 }), forge({ ...doc, s: '1' }), forge([doc]),
    ];
    for (const cursor of tampered) {
      const r = await pull(api, tok, { cursor });
      expect([r.status, r.body.code], cursor).toEqual([400, 'CURSOR_INVALID']);
    }
    // A cursor of the audit-log family is not a sync cursor, even for the same tenant.
    await h().rows.audit(tenant, [{}, {}]);
    const logs = await api.get('/v1/audit/logs?limit=1', await api.token(tenant, 'audit:read'));
    expect([logs.status, typeof logs.body.cursor]).toEqual([200, 'string']);
    expect((await pull(api, tok, { cursor: logs.body.cursor })).body.code).toBe('CURSOR_INVALID');
  });
});

describe('GET /api/v1/sync/changes in /openapi.json', () => {
  it('is documented: its parameters, the entry fields in order, the errors', async () => {
    const api = await readApp(stores.list[0]!);
    const res = await api.get('/openapi.json', null);
    await api.close();
    expect(res.status).toBe(200);
    const op = res.body.paths['/api/v1/sync/changes'].get;
    expect(checkOpenApi3({ ...res.body, paths: { '/api/v1/sync/changes': { get: op } } })).toEqual([]);
    expect(op.tags).toEqual(['sync']);
    expect(op.parameters.map((p: any) => `${p.name}:${p.schema.type}`)).toEqual(['cursor:string', 'limit:integer', 'share_id:string']);
    expect(op.parameters[1].schema).toMatchObject({ minimum: 1, maximum: 1000, default: 100 });
    const entry = op.responses['200'].content['application/json'].schema.properties.changes.items;
    expect(Object.keys(entry.properties)).toEqual(Object.keys(changeLogExample));
    expect(entry.properties.old_path).toMatchObject({ type: 'string', nullable: true });
    expect(Object.keys(op.responses).sort()).toEqual(['200', '400', '401', '403', '429']);
  });
});
