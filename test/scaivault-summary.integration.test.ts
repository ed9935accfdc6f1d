// GET /v1/audit/summary on both stores: exactly the documented fields, exact numbers, tops order
// and size, the default 30-day window, totals equal to /v1/audit/logs paged to the end over the
// same from/to, tenant isolation, auth and bad parameters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, readApp, startStores, type AuditRow, type ReadApp, type Stores } from './support/read-api-harness.ts';

let stores: Stores;
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => { await stores?.stop(); });

const DAY = 86_400_000;
const at = (ms: number) => new Date(ms).toISOString();
const FIELDS = ['actions_breakdown', 'failed_events', 'successful_events', 'top_identities', 'top_resources', 'total_events'];

/** Count per key, most first, ties by key ascending, empty keys left out, at most `n`. */
function tops(keys: (string | null)[], n = 10): [string, number][] {
  const m = new Map<string, number>();
  for (const k of keys) if (k) m.set(k, (m.get(k) ?? 0) + 1);
  return [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n);
}

/** Everything /v1/audit/logs lists for a query, following cursors to the end. */
async function allLogs(api: ReadApp, tok: string, query: string): Promise<{ action: string; success: boolean; identity_id: string | null; secret_path: string | null }[]> {
  const out = [];
  let cursor: string | null = null;
  do {
    const res = await api.get(`/v1/audit/logs?${query}&limit=7${cursor ? `&cursor=${cursor}` : ''}`, tok);
    expect(res.status).toBe(200);
    out.push(...res.body.logs);
    cursor = res.body.has_more ? res.body.cursor : null;
  } while (cursor !== null);
  return out;
}

describe.each(['chdb', 'http'] as const)('ScaiVault summary on %s', (name) => {
  const h = () => stores.list.find((s) => s.name === name)!;

  it('returns exactly the documented fields with exact counts, tops by count then key, empty identities and paths left out', async () => {
    const tenant = newTenant();
    const now = Date.now();
    const rows: Partial<AuditRow>[] = [];
    const add = (n: number, r: Partial<AuditRow>) => { for (let i = 0; i < n; i++) rows.push({ event_time: at(now - DAY - i * 1000), ...r }); };
    add(5, { actor_id: 'sa:a', resource_path: 'p/x', action: 'read' });
    add(3, { actor_id: 'sa:c', resource_path: 'p/z', action: 'write' });
    add(3, { actor_id: 'sa:b', resource_path: 'p/y', action: 'read', success: false });
    for (let i = 1; i <= 12; i++) add(1, { actor_id: `u${String(i).padStart(2, '0')}`, resource_path: `q/${13 - i}`, action: 'list' });
    add(4, { actor_id: '', resource_path: '', action: 'rotate' }); // 4 events: more than most, but no one's top
    add(2, { actor_id: 'sa:a', source_format: 'internal' }); // the API's own reads: not counted
    await h().rows.audit(tenant, rows);
    const api = await readApp(h());
    const res = await api.get('/v1/audit/summary', await api.token(tenant, 'audit:read'));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(FIELDS);
    expect(res.body).toMatchObject({ total_events: 27, successful_events: 24, failed_events: 3 });
    expect(Object.entries(res.body.actions_breakdown)).toEqual([['list', 12], ['read', 8], ['rotate', 4], ['write', 3]]);
    expect(res.body.top_identities).toEqual([
      { identity_id: 'sa:a', count: 5 }, { identity_id: 'sa:b', count: 3 }, { identity_id: 'sa:c', count: 3 },
      ...['u01', 'u02', 'u03', 'u04', 'u05', 'u06', 'u07'].map((identity_id) => ({ identity_id, count: 1 })),
    ]);
    expect(res.body.top_resources).toEqual([
      { path: 'p/x', count: 5 }, { path: 'p/y', count: 3 }, { path: 'p/z', count: 3 },
      ...['q/1', 'q/10', 'q/11', 'q/12', 'q/2', 'q/3', 'q/4'].map((path) => ({ path, count: 1 })),
    ]);
    expect(api.reads.records).toHaveLength(1);
    expect(api.reads.records[0]!.what).toMatchObject({ resource: 'scaivault.summary', rows: 4 + 10 + 10 });
    const w = api.reads.records[0]!.what.filters as { from: string; to: string };
    expect(Date.parse(w.to) - Date.parse(w.from)).toBe(30 * DAY);
    await api.close();
  });

  it('covers the last 30 days by default: older events and events dated after now are left out', async () => {
    const tenant = newTenant();
    const now = Date.now();
    await h().rows.audit(tenant, [
      { action: 'read', event_time: at(now - 31 * DAY) },
      { action: 'read', event_time: at(now - 30 * DAY - 60_000) },
      { action: 'write', event_time: at(now - 30 * DAY + 60_000) },
      { action: 'delete', event_time: at(now - 60_000) },
      { action: 'list', event_time: at(now + 3_600_000) }, // a producer's clock ahead of ours
    ]);
    const api = await readApp(h());
    const tok = await api.token(tenant, 'audit:read');
    const res = await api.get('/v1/audit/summary', tok);
    expect(res.body).toMatchObject({ total_events: 2, actions_breakdown: { write: 1, delete: 1 } });
    // `to` alone: the 30 days before it; `from` alone: from it until now.
    const before = await api.get(`/v1/audit/summary?to=${at(now - 29 * DAY)}`, tok);
    expect(before.body).toMatchObject({ total_events: 3, actions_breakdown: { read: 2, write: 1 } });
    const since = await api.get(`/v1/audit/summary?from=${at(now - 40 * DAY)}`, tok);
    expect(since.body.total_events).toBe(4);
    const all = await api.get(`/v1/audit/summary?from=${at(now - 40 * DAY)}&to=${at(now + DAY)}`, tok);
    expect(all.body.total_events).toBe(5);
    await api.close();
  });

  it('agrees with /v1/audit/logs paged to the end over the same from/to (from inclusive, to exclusive)', async () => {
    const tenant = newTenant();
    const t0 = Date.parse('2026-03-01T00:00:00.000Z');
    const from = at(t0);
    const to = at(t0 + 10 * DAY);
    const actions = ['read', 'write', 'delete', 'list', 'rotate', 'pki_issue'];
    const rows: Partial<AuditRow>[] = [
      { event_time: at(t0 - 1), action: 'read' }, // just before from
      { event_time: from, action: 'write', actor_id: 'edge', resource_path: 'edge/from' }, // at from: in
      { event_time: to, action: 'delete', actor_id: 'edge', resource_path: 'edge/to' }, // at to: out
    ];
    for (let i = 0; i < 61; i++) {
      rows.push({
        event_time: at(t0 + ((i * 7919) % (10 * DAY / 1000)) * 1000), action: actions[(i * i) % actions.length]!,
        success: i % 5 !== 0, actor_id: i % 9 === 0 ? '' : `id${(i * 3) % 14}`, resource_path: i % 11 === 0 ? '' : `s/${(i * 5) % 17}`,
        source_format: i % 13 === 0 ? 'internal' : 'scaivault',
      });
    }
    await h().rows.audit(tenant, rows);
    await h().rows.audit(newTenant(), rows.slice(0, 20));
    const api = await readApp(h());
    const tok = await api.token(tenant, 'audit:read');
    const window = `from=${from}&to=${to}`;
    const agree = async () => {
      const logs = await allLogs(api, tok, window);
      const sum = (await api.get(`/v1/audit/summary?${window}`, tok)).body;
      expect(sum.total_events).toBe(logs.length);
      expect(sum.successful_events).toBe(logs.filter((l) => l.success).length);
      expect(sum.failed_events).toBe(logs.filter((l) => !l.success).length);
      expect(Object.entries(sum.actions_breakdown)).toEqual(tops(logs.map((l) => l.action), 100));
      expect(sum.top_identities.map((t: { identity_id: string; count: number }) => [t.identity_id, t.count])).toEqual(tops(logs.map((l) => l.identity_id)));
      expect(sum.top_resources.map((t: { path: string; count: number }) => [t.path, t.count])).toEqual(tops(logs.map((l) => l.secret_path)));
      expect(sum.top_identities).toHaveLength(10);
      return logs;
    };
    const logs = await agree();
    expect(logs.length).toBeGreaterThan(40);
    expect(logs.filter((l) => l.identity_id === 'edge').map((l) => l.secret_path)).toEqual(['edge/from']);
    // Back-dated events arrive after the first summary (which the app keeps): both still agree.
    await h().rows.audit(tenant, [
      ...rows.slice(3, 20).map((r) => ({ ...r, actor_id: 'late', resource_path: 'late/one' })),
      { event_time: from, action: 'write' }, { event_time: to, action: 'write' },
    ]);
    const after = await agree();
    expect(after.length).toBe(logs.length + 1 + rows.slice(3, 20).filter((r) => r.source_format !== 'internal').length);
    expect((await api.get(`/v1/audit/summary?${window}`, tok)).body.top_identities[0]).toMatchObject({ identity_id: 'late' });
    await api.close();
  });

  it("stays in the token's tenant: another tenant's events are never counted", async () => {
    const tenant = newTenant();
    const other = newTenant();
    await h().rows.audit(other, [{ actor_id: 'sa:theirs', resource_path: 'their/secret' }, { action: 'write' }]);
    await h().rows.audit(tenant, [{ actor_id: 'sa:mine', resource_path: 'my/secret' }]);
    const api = await readApp(h());
    const mine = await api.get('/v1/audit/summary', await api.token(tenant, 'audit:read', { partner_id: 'p1' }));
    expect(mine.body).toEqual({
      total_events: 1, successful_events: 1, failed_events: 0, actions_breakdown: { read: 1 },
      top_identities: [{ identity_id: 'sa:mine', count: 1 }], top_resources: [{ path: 'my/secret', count: 1 }],
    });
    const empty = await api.get('/v1/audit/summary', await api.token(newTenant(), 'audit:read'));
    expect(empty.body).toEqual({ total_events: 0, successful_events: 0, failed_events: 0, actions_breakdown: {}, top_identities: [], top_resources: [] });
    await api.close();
  });

  it('refuses missing auth (401), a token without audit:read (403) and bad parameters (400 QUERY_INVALID)', async () => {
    const tenant = newTenant();
    const api = await readApp(h());
    const tok = await api.token(tenant, 'audit:read');
    expect((await api.get('/v1/audit/summary', null)).status).toBe(401);
    expect(await api.get('/v1/audit/summary', await api.token(tenant, 'audit:admin audit:write'))).toMatchObject({ status: 403, body: { code: 'AUTH_SCOPE' } });
    for (const q of ['from=last-week', 'to=2026-13-01T00:00:00Z', 'action=read', 'limit=10', 'from=2026-01-01T00:00:00Z&from=2026-02-01T00:00:00Z']) {
      const res = await api.get(`/v1/audit/summary?${q}`, tok);
      expect({ q, status: res.status, code: res.body?.code }).toEqual({ q, status: 400, code: 'QUERY_INVALID' });
    }
    expect(api.reads.records).toEqual([]);
    await api.close();
  });
});
