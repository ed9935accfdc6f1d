// GET /v1/audit/secrets/{path} and GET /v1/audit/identities/{identity_id}, on both stores:
// exact-subject trails (paths with `/` and encoded characters), paging without skip or repeat,
// the 30-day summary exactly, filters, tenant isolation, auth and bad parameters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, readApp, startStores, type ReadApp, type Stores } from './support/read-api-harness.ts';

let stores: Stores;
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => { await stores?.stop(); });

const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

/** Every page of a trail, following cursors; the ids in order and each page's size. */
async function pageAll(api: ReadApp, url: string, tok: string, limit: number): Promise<{ ids: string[]; sizes: number[] }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const sep = url.includes('?') ? '&' : '?';
    const res = await api.get(`${url}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, tok);
    expect(res.status).toBe(200);
    ids.push(...res.body.logs.map((l: { id: string }) => l.id));
    sizes.push(res.body.logs.length);
    expect(res.body.has_more).toBe(res.body.cursor !== null);
    if (!res.body.has_more) return { ids, sizes };
    cursor = res.body.cursor;
  }
  throw new Error('did not reach the end');
}

describe.each(['chdb', 'http'] as const)('ScaiVault trails on %s', (name) => {
  const h = () => stores.list.find((s) => s.name === name)!;

  it("lists exactly the secret's events, newest first, for a path with `/` sent raw or encoded", async () => {
    const tenant = newTenant();
    const other = newTenant();
    const path = 'integrations/salesforce/oauth';
    const rows = await h().rows.audit(tenant, [
      { resource_path: path, action: 'read' },
      { resource_path: `${path}/child`, action: 'read' }, // a longer path is another secret
      { resource_path: 'integrations/salesforce', action: 'read' },
      { resource_path: path, action: 'write', source_format: 'internal' }, // the API's own reads: never listed
      { resource_path: path, action: 'rotate' },
    ]);
    await h().rows.audit(other, [{ resource_path: path }]);
    const api = await readApp(h());
    const tok = await api.token(tenant, 'audit:read');
    const expected = [rows[4]!.id, rows[0]!.id];
    for (const url of [`/v1/audit/secrets/${path}`, `/v1/audit/secrets/${encodeURIComponent(path)}`]) {
      const res = await api.get(url, tok);
      expect(res.status).toBe(200);
      expect(res.body.secret_path).toBe(path);
      expect(res.body.logs.map((l: { id: string }) => l.id)).toEqual(expected);
      expect(res.body.logs[0]).toMatchObject({ action: 'rotate', secret_path: path, identity_id: 'usr_1', success: true, extra_data: {} });
      expect(res.body).toMatchObject({ has_more: false, cursor: null });
    }
    await api.close();
  });

  it('decodes percent-encoded characters once (space, %, +, non-ASCII)', async () => {
    const tenant = newTenant();
    const path = 'team a/50%+off/€uro';
    const rows = await h().rows.audit(tenant, [{ resource_path: path }, { resource_path: 'team a/50%25+off/€uro' }]);
    const api = await readApp(h());
    const tok = await api.token(tenant, 'audit:read');
    const res = await api.get(`/v1/audit/secrets/${path.split('/').map(encodeURIComponent).join('/')}`, tok);
    expect(res.status).toBe(200);
    expect(res.body.secret_path).toBe(path);
    expect(res.body.logs.map((l: { id: string }) => l.id)).toEqual([rows[0]!.id]);
    // The stored literal `%25` is reached by encoding it once more.
    const literal = await api.get(`/v1/audit/secrets/${encodeURIComponent('team a/50%25+off/€uro')}`, tok);
    expect(literal.body.logs.map((l: { id: string }) => l.id)).toEqual([rows[1]!.id]);
    await api.close();
  });

  it('pages without skip or repeat while new events arrive, and binds the cursor to tenant, subject and filters', async () => {
    const tenant = newTenant();
    const path = 'prod/db/password';
    const rows = await h().rows.audit(tenant, Array.from({ length: 7 }, (_, i) => ({ resource_path: i % 3 === 2 ? 'prod/other' : path })));
    const mine = rows.filter((r) => r.resource_path === path).map((r) => r.id).reverse();
    const api = await readApp(h());
    const tok = await api.token(tenant, 'audit:read');
    const p1 = await api.get(`/v1/audit/secrets/${path}?limit=2`, tok);
    expect(p1.body.logs.map((l: { id: string }) => l.id)).toEqual(mine.slice(0, 2));
    expect(p1.body.has_more).toBe(true);
    // Newer events arriving between pages never enter the pages behind the cursor.
    await h().rows.audit(tenant, [{ resource_path: path }]);
    const rest = await pageAll(api, `/v1/audit/secrets/${path}`, tok, 2);
    expect(rest.ids.slice(1)).toEqual(mine);
    const p2 = await api.get(`/v1/audit/secrets/${path}?limit=2&cursor=${p1.body.cursor}`, tok);
    const p3 = await api.get(`/v1/audit/secrets/${path}?limit=2&cursor=${p2.body.cursor}`, tok);
    expect([...p1.body.logs, ...p2.body.logs, ...p3.body.logs].map((l: { id: string }) => l.id)).toEqual(mine);
    expect(p3.body).toMatchObject({ has_more: false, cursor: null });
    // A cursor is refused on another secret, with other filters, by another tenant, on the identity trail.
    const refused = [
      `/v1/audit/secrets/prod/other?cursor=${p1.body.cursor}`,
      `/v1/audit/secrets/${path}?action=read&cursor=${p1.body.cursor}`,
      `/v1/audit/identities/usr_1?cursor=${p1.body.cursor}`,
      `/v1/audit/logs?cursor=${p1.body.cursor}`,
    ];
    for (const url of refused) expect((await api.get(url, tok)).body.code).toBe('CURSOR_INVALID');
    const foreign = await api.get(`/v1/audit/secrets/${path}?cursor=${p1.body.cursor}`, await api.token(newTenant(), 'audit:read'));
    expect(foreign).toMatchObject({ status: 400, body: { code: 'CURSOR_INVALID' } });
    await api.close();
  });

  it("summarises the secret's last 30 days exactly, whatever the listing's filters", async () => {
    const tenant = newTenant();
    const path = 'payments/stripe/key';
    const rows = await h().rows.audit(tenant, [
      { resource_path: path, action: 'read', actor_id: 'sa:a', event_time: ago(29 * DAY) },
      { resource_path: path, action: 'read', actor_id: 'sa:b', event_time: ago(2 * DAY) },
      { resource_path: path, action: 'read', actor_id: 'sa:a', success: false, event_time: ago(DAY) },
      { resource_path: path, action: 'write', actor_id: 'usr_9', event_time: ago(3 * DAY) },
      { resource_path: path, action: 'rotate', actor_id: '', event_time: ago(60_000) }, // no identity: counted, not distinct
      { resource_path: path, action: 'delete', actor_id: 'sa:old', event_time: ago(31 * DAY) }, // listed, outside the summary
      { resource_path: path, action: 'read', actor_id: 'sa:c', source_format: 'internal' },
      { resource_path: 'payments/other', action: 'read', actor_id: 'sa:d' },
    ]);
    const before = Date.now();
    const api = await readApp(h());
    const tok = await api.token(tenant, 'audit:read');
    const res = await api.get(`/v1/audit/secrets/${path}`, tok);
    expect(res.status).toBe(200);
    expect(res.body.logs).toHaveLength(6);
    const s = res.body.summary;
    expect(Object.keys(s).sort()).toEqual(['actions_breakdown', 'distinct_identities', 'failed_events', 'first_seen', 'from', 'last_seen', 'successful_events', 'to', 'total_events']);
    expect(s).toMatchObject({ total_events: 5, successful_events: 4, failed_events: 1, distinct_identities: 3 });
    expect(Object.entries(s.actions_breakdown)).toEqual([['read', 3], ['rotate', 1], ['write', 1]]);
    expect(s.first_seen).toBe(rows[0]!.event_time);
    expect(s.last_seen).toBe(rows[4]!.event_time);
    expect(Date.parse(s.to) - Date.parse(s.from)).toBe(30 * DAY);
    expect(Date.parse(s.to)).toBeGreaterThanOrEqual(before);
    // Filters narrow the listing only.
    const writes = await api.get(`/v1/audit/secrets/${path}?action=write,delete&success=true`, tok);
    expect(writes.body.logs.map((l: { id: string }) => l.id)).toEqual([rows[5]!.id, rows[3]!.id]);
    expect(writes.body.summary).toMatchObject({ total_events: 5, distinct_identities: 3 });
    const ranged = await api.get(`/v1/audit/secrets/${path}?from=${rows[3]!.event_time}&to=${rows[2]!.event_time}&identity_type=user`, tok);
    expect(ranged.body.logs.map((l: { id: string }) => l.id)).toEqual([rows[3]!.id, rows[1]!.id]);
    // A secret without events: an empty page and a zero summary.
    const none = await api.get('/v1/audit/secrets/nothing/here', tok);
    expect(none.body).toMatchObject({ logs: [], has_more: false, cursor: null });
    expect(none.body.summary).toMatchObject({ total_events: 0, successful_events: 0, failed_events: 0, actions_breakdown: {}, distinct_identities: 0, first_seen: null, last_seen: null });
    expect(api.reads.records.map((r) => [r.what.resource, r.what.rows])).toEqual([
      ['scaivault.secret_trail', 6], ['scaivault.secret_trail', 2], ['scaivault.secret_trail', 2], ['scaivault.secret_trail', 0],
    ]);
    expect(api.reads.records[1]!.what.filters).toMatchObject({ secret_path: path, actions: ['write', 'delete'], success: true, limit: 100, cursor: false });
    await api.close();
  });

  it("lists and summarises an identity's events, with distinct resources", async () => {
    const tenant = newTenant();
    const other = newTenant();
    const rows = await h().rows.audit(tenant, [
      { actor_id: 'sa:reporting', actor_type: 'service_account', resource_path: 'a/one', action: 'read' },
      { actor_id: 'sa:reporting', actor_type: 'service_account', resource_path: 'a/two', action: 'list', success: false },
      { actor_id: 'sa:reporting', actor_type: 'service_account', resource_path: '', action: 'identity_sync' },
      { actor_id: 'sa:reporting', actor_type: 'service_account', resource_path: 'a/one', action: 'read', event_time: ago(40 * DAY) },
      { actor_id: 'sa:reporting-2', resource_path: 'a/one' },
      { actor_id: 'group/eng', actor_type: 'group', resource_path: 'a/one' },
    ]);
    await h().rows.audit(other, [{ actor_id: 'sa:reporting' }]);
    const api = await readApp(h());
    const tok = await api.token(tenant, 'audit:read');
    const res = await api.get(`/v1/audit/identities/${encodeURIComponent('sa:reporting')}`, tok);
    expect(res.status).toBe(200);
    expect(res.body.identity_id).toBe('sa:reporting');
    expect(res.body.logs.map((l: { id: string }) => l.id)).toEqual([rows[3]!.id, rows[2]!.id, rows[1]!.id, rows[0]!.id]);
    expect(res.body.summary).toMatchObject({ total_events: 3, successful_events: 2, failed_events: 1, distinct_resources: 2, actions_breakdown: { identity_sync: 1, list: 1, read: 1 } });
    expect(res.body.summary).not.toHaveProperty('distinct_identities');
    const paged = await pageAll(api, '/v1/audit/identities/sa:reporting?path_prefix=a/', tok, 1);
    expect(paged).toEqual({ ids: [rows[3]!.id, rows[1]!.id, rows[0]!.id], sizes: [1, 1, 1] });
    for (const id of ['group/eng', encodeURIComponent('group/eng')]) {
      const group = await api.get(`/v1/audit/identities/${id}`, tok);
      expect(group.body).toMatchObject({ identity_id: 'group/eng', logs: [{ id: rows[5]!.id, identity_type: 'group' }] });
    }
    // Another tenant sees only its own event under the same identity.
    const theirs = await api.get('/v1/audit/identities/sa:reporting', await api.token(other, 'audit:read'));
    expect(theirs.body.logs).toHaveLength(1);
    expect(theirs.body.summary.total_events).toBe(1);
    expect(api.reads.records[0]!.what).toMatchObject({ resource: 'scaivault.identity_trail', rows: 4, filters: { identity_id: 'sa:reporting' } });
    await api.close();
  });

  it('keeps every trail to the token tenant', async () => {
    const tenant = newTenant();
    const other = newTenant();
    await h().rows.audit(other, [{ resource_path: 'shared/name', actor_id: 'sa:x' }]);
    const api = await readApp(h());
    const tok = await api.token(tenant, 'audit:read', { partner_id: 'p1' });
    for (const url of ['/v1/audit/secrets/shared/name', '/v1/audit/identities/sa:x']) {
      const res = await api.get(url, tok);
      expect(res.status).toBe(200);
      expect(res.body.logs).toEqual([]);
      expect(res.body.summary.total_events).toBe(0);
    }
    await api.close();
  });

  it('refuses missing auth (401), a token without audit:read (403) and bad parameters (400 QUERY_INVALID)', async () => {
    const tenant = newTenant();
    const api = await readApp(h());
    const tok = await api.token(tenant, 'audit:read');
    const writer = await api.token(tenant, 'audit:write audit:export');
    for (const url of ['/v1/audit/secrets/a/b', '/v1/audit/identities/sa:x']) {
      expect((await api.get(url, null)).status).toBe(401);
      expect((await api.get(url, 'not-a-jwt')).status).toBe(401);
      expect(await api.get(url, writer)).toMatchObject({ status: 403, body: { code: 'AUTH_SCOPE' } });
    }
    const bad = [
      '/v1/audit/secrets/',
      `/v1/audit/secrets/${'x'.repeat(4097)}`,
      '/v1/audit/secrets/a/b?path_prefix=a', // the subject is the path
      '/v1/audit/secrets/a/b?limit=0',
      '/v1/audit/secrets/a/b?limit=1001',
      '/v1/audit/secrets/a/b?from=yesterday',
      '/v1/audit/secrets/a/b?success=maybe',
      '/v1/audit/secrets/a/b?identity_type=robot',
      '/v1/audit/secrets/a/b?colour=red',
      '/v1/audit/identities/sa:x?identity_id=sa:y', // the subject is the identity
      '/v1/audit/identities/sa:x?limit=ten',
      '/v1/audit/identities/',
      `/v1/audit/identities/${'i'.repeat(257)}`,
    ];
    for (const url of bad) {
      const res = await api.get(url, tok);
      expect({ url, status: res.status, code: res.body?.code }).toEqual({ url, status: 400, code: 'QUERY_INVALID' });
    }
    expect(api.reads.records).toEqual([]);
    await api.close();
  });
});
