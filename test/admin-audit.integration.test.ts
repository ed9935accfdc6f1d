// The Admin audit API on both stores: the list (every filter, newest-first order, offset paging
// and total), /actions, /resource-types, /stats, /{log_id}; 422 HTTPValidationError bodies for
// every kind of bad parameter; 401/403 catalogue bodies; tenant, partner and platform reach; the
// tenant directory; and what each read records in the self-audit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreTenantDirectory } from '../api/admin-audit/tenant-directory.ts';
import { newTenant, readApp, startStores, type AuditRow, type ReadApp, type Stores } from './support/read-api-harness.ts';

let stores: Stores;
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => { await stores?.stop(); });

const BASE = '/api/v1/admin/audit';
const url = (path: string, query: Record<string, string | number | string[]> = {}) => {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, String(x));
  const s = qs.toString();
  return `${BASE}${path}${s ? `?${s}` : ''}`;
};
const ids = (body: { items: { id: string }[] }) => body.items.map((i) => i.id);
const at = (minute: number, second = 0) => new Date(Date.UTC(2026, 3, 23, 10, minute, second)).toISOString();

describe.each(['chdb', 'http'] as const)('admin audit API on %s', (name) => {
  const h = () => stores.list.find((s) => s.name === name)!;
  let api: ReadApp;
  beforeAll(async () => { api = await readApp(h()); });
  afterAll(async () => { await api?.close(); });
  const admin = (tenant: string, extra: Record<string, unknown> = {}) => api.token(tenant, 'audit:admin', extra);
  const ok = async (path: string, token: string, query: Record<string, string | number | string[]> = {}) => {
    const r = await api.get(url(path, query), token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };

  /** Two tenants of partner P, one of partner Q, one without a partner; each with a few events. */
  async function world() {
    const P = newTenant('prt');
    const Q = newTenant('prt');
    const [a1, a2, b1, c] = [newTenant('a1'), newTenant('a2'), newTenant('b1'), newTenant('c')];
    const actor = newTenant('usr');
    const rows = {
      a1: await h().rows.audit(a1, [
        { partner_id: P, action: 'read', event_time: at(1), actor_id: actor, resource_type: 'secret' },
        { partner_id: P, action: 'write', event_time: at(2), actor_id: actor, resource_type: 'file' },
        // A self-audit event of a tenant-only admin names no partner: the directory still says P.
        { partner_id: '', action: 'read', event_time: at(3), source_format: 'internal', resource_type: 'audit_log' },
      ]),
      a2: await h().rows.audit(a2, [{ partner_id: P, action: 'login', event_time: at(4), actor_id: actor, resource_type: 'session' }]),
      b1: await h().rows.audit(b1, [{ partner_id: Q, action: 'delete', event_time: at(5), actor_id: actor, resource_type: 'file' }]),
      c: await h().rows.audit(c, [{ action: 'share', event_time: at(6), actor_id: actor, resource_type: 'share' }]),
    };
    return { P, Q, a1, a2, b1, c, actor, rows };
  }

  it('lists the tenant\'s events newest first, each with full details, internal ones marked', async () => {
    const tenant = newTenant();
    const [full] = await h().rows.audit(tenant, [{
      partner_id: 'prt_x', event_time: '2026-04-23T10:15:05.000Z', received_at: '2026-04-23T10:15:06.250Z', event_type: 'file.create',
      action: 'create', category: 'file_modification', severity: 'info', outcome: 'success', success: true, actor_id: 'usr_01J3N',
      actor_type: 'user', actor_email: 'alice@example.com', service_account: '3seej56cg90454l845dt93rfilywskbw', resource_type: 'file',
      resource_id: 'fil_01J3M', resource_name: 'scaispeak_job_42.mp3', resource_path: '/Shared/scaispeak_job_42.mp3', share_id: 'shr_01J3K',
      source_ip: '203.0.113.7', user_agent: 'ScaiSpeak/1.0', request_id: 'req_abc', duration_ms: 12, action_source: 'PublicAPI',
      details: '{"version":1,"size":22300000}',
    }]);
    // Same event_time: the later seq comes first. The internal one is listed, marked.
    const [older, newer] = await h().rows.audit(tenant, [
      { event_time: '2026-04-23T11:00:00.000Z', actor_email: '', share_id: '', duration_ms: null },
      { event_time: '2026-04-23T11:00:00.000Z', source_format: 'internal' },
    ]);
    const body = await ok('/', await admin(tenant));
    expect(ids(body)).toEqual([newer!.id, older!.id, full!.id]);
    expect(body).toMatchObject({ total: 3, page: 1, per_page: 50, pages: 1 });
    expect(Object.keys(body)).toEqual(['items', 'total', 'page', 'per_page', 'pages']);
    expect(body.items[2]).toEqual({
      id: full!.id, tenant_id: tenant, partner_id: 'prt_x', timestamp: '2026-04-23T10:15:05.000Z', received_at: '2026-04-23T10:15:06.250Z',
      event_type: 'file.create', action: 'create', category: 'file_modification', severity: 'info', result: 'success', success: true,
      actor_id: 'usr_01J3N', actor_email: 'alice@example.com', actor_type: 'user', service_account: '3seej56cg90454l845dt93rfilywskbw',
      resource_type: 'file', resource_id: 'fil_01J3M', resource_name: 'scaispeak_job_42.mp3', resource_path: '/Shared/scaispeak_job_42.mp3',
      share_id: 'shr_01J3K', ip_address: '203.0.113.7', user_agent: 'ScaiSpeak/1.0', request_id: 'req_abc', duration_ms: 12,
      action_source: 'PublicAPI', details: { version: 1, size: 22300000 }, is_internal: false,
    });
    expect(body.items[1]).toMatchObject({ actor_email: null, share_id: null, duration_ms: null, partner_id: null, is_internal: false });
    expect(body.items[0].is_internal).toBe(true);
    // The slash-less path answers the same.
    expect(ids(await ok('', await admin(tenant)))).toEqual(ids(body));
  });

  it('applies every filter: exact matches, result on the outcome, start inclusive and end exclusive', async () => {
    const tenant = newTenant();
    const rows = await h().rows.audit(tenant, [
      { event_time: at(0), actor_id: 'usr_a', actor_email: 'a@example.com', action: 'read', resource_type: 'secret', resource_id: 'sec_1', outcome: 'success', source_ip: '10.0.0.1' },
      { event_time: at(1), actor_id: 'usr_b', actor_email: 'b@example.com', action: 'write', resource_type: 'file', resource_id: 'fil_1', outcome: 'denied', source_ip: '10.0.0.2' },
      { event_time: at(2), actor_id: 'usr_a', actor_email: 'a@example.com', action: 'write', resource_type: 'secret', resource_id: 'sec_2', outcome: 'failure', source_ip: '10.0.0.1' },
      { event_time: at(3), actor_id: 'usr_c', actor_email: 'c@example.com', action: 'read', resource_type: 'file', resource_id: 'fil_1', outcome: 'success', source_ip: '10.0.0.3' },
    ]);
    const [r0, r1, r2, r3] = rows.map((r) => r.id);
    const tok = await admin(tenant);
    const cases: [Record<string, string>, (string | undefined)[]][] = [
      [{ actor_id: 'usr_a' }, [r2, r0]],
      [{ actor_email: 'b@example.com' }, [r1]],
      [{ action: 'write' }, [r2, r1]],
      [{ resource_type: 'file' }, [r3, r1]],
      [{ resource_id: 'fil_1' }, [r3, r1]],
      [{ result: 'success' }, [r3, r0]],
      [{ ip_address: '10.0.0.1' }, [r2, r0]],
      [{ start_time: at(1) }, [r3, r2, r1]],
      [{ end_time: at(2) }, [r1, r0]],
      [{ start_time: '2026-04-23T12:01:00+02:00', end_time: '2026-04-23T10:03:00.000Z' }, [r2, r1]],
      [{ action: 'write', actor_id: 'usr_a', result: 'failure' }, [r2]],
      [{ action: 'nothing-like-it' }, []],
      [{ tenant_id: tenant, resource_type: 'secret' }, [r2, r0]],
    ];
    for (const [query, want] of cases) {
      const body = await ok('/', tok, query);
      expect(ids(body), JSON.stringify(query)).toEqual(want);
      expect(body.total, JSON.stringify(query)).toBe(want.length);
    }
  });

  it('pages with page/per_page: total counts every match, pages = ceil(total / per_page), no row skipped or repeated', async () => {
    const tenant = newTenant();
    const rows = await h().rows.audit(tenant, Array.from({ length: 7 }, (_, i) => ({ event_time: at(i), action: i % 2 ? 'odd' : 'even' })));
    const newestFirst = rows.map((r) => r.id).reverse();
    const tok = await admin(tenant);
    const seen: string[] = [];
    for (const page of [1, 2, 3]) {
      const body = await ok('/', tok, { page, per_page: 3 });
      expect(body).toMatchObject({ total: 7, page, per_page: 3, pages: 3 });
      expect(body.items).toHaveLength(page < 3 ? 3 : 1);
      seen.push(...ids(body));
    }
    expect(seen).toEqual(newestFirst);
    expect(await ok('/', tok, { page: 4, per_page: 3 })).toMatchObject({ items: [], total: 7, pages: 3 });
    expect(await ok('/', tok, { per_page: 500, action: 'odd' })).toMatchObject({ total: 3, pages: 1, per_page: 500 });
    expect(await ok('/', tok, { action: 'none' })).toMatchObject({ items: [], total: 0, pages: 0 });
  });

  it('answers every kind of bad parameter with a 422 HTTPValidationError body, in parameter order, unknown ones last', async () => {
    const tok = await admin(newTenant());
    const recorded = api.reads.records.length;
    const bad = async (path: string, query: Record<string, string | string[]>) => {
      const r = await api.get(url(path, query), tok);
      expect(r.status, JSON.stringify(r.body)).toBe(422);
      expect(Object.keys(r.body)).toEqual(['detail']);
      return r.body.detail;
    };
    expect(await bad('/', { per_page: 'ten' })).toEqual([
      { type: 'int_parsing', loc: ['query', 'per_page'], msg: 'Input should be a valid integer, unable to parse string as an integer', input: 'ten' },
    ]);
    expect(await bad('/', { page: '0', per_page: '501', foo: 'bar' })).toEqual([
      { type: 'greater_than_equal', loc: ['query', 'page'], msg: 'Input should be greater than or equal to 1', input: '0', ctx: { ge: 1 } },
      { type: 'less_than_equal', loc: ['query', 'per_page'], msg: 'Input should be less than or equal to 500', input: '501', ctx: { le: 500 } },
      { type: 'extra_forbidden', loc: ['query', 'foo'], msg: 'Extra inputs are not permitted', input: 'bar' },
    ]);
    expect(await bad('/', { page: '10001' })).toEqual([
      { type: 'less_than_equal', loc: ['query', 'page'], msg: 'Input should be less than or equal to 10000', input: '10001', ctx: { le: 10000 } },
    ]);
    expect(await bad('/', { per_page: ['10', '20'], action: ['read', 'write'] })).toEqual([
      { type: 'int_type', loc: ['query', 'per_page'], msg: 'Input should be a valid integer', input: ['10', '20'] },
      { type: 'string_type', loc: ['query', 'action'], msg: 'Input should be a valid string', input: ['read', 'write'] },
    ]);
    expect(await bad('/', { actor_id: '', resource_id: 'x'.repeat(1025) })).toEqual([
      { type: 'string_too_short', loc: ['query', 'actor_id'], msg: 'String should have at least 1 character', input: '', ctx: { min_length: 1 } },
      { type: 'string_too_long', loc: ['query', 'resource_id'], msg: 'String should have at most 1024 characters', input: 'x'.repeat(1025), ctx: { max_length: 1024 } },
    ]);
    const parsing = (param: string, input: string, error: string) =>
      ({ type: 'datetime_from_date_parsing', loc: ['query', param], msg: `Input should be a valid datetime or date, ${error}`, input, ctx: { error } });
    const times: [string, object][] = [
      ['yesterday', parsing('start_time', 'yesterday', 'input is too short')],
      ['2026/04/01T00:00:00Z', parsing('start_time', '2026/04/01T00:00:00Z', 'invalid date separator, expected `-`')],
      ['20x6-04-01T00:00:00Z', parsing('start_time', '20x6-04-01T00:00:00Z', 'invalid character in year')],
      ['2026-13-01T00:00:00Z', parsing('start_time', '2026-13-01T00:00:00Z', 'month value is outside expected range of 1-12')],
      ['2026-02-30T00:00:00Z', parsing('start_time', '2026-02-30T00:00:00Z', 'day value is outside expected range')],
      ['2026-04-01T25:00:00Z', parsing('start_time', '2026-04-01T25:00:00Z', 'unexpected extra characters at the end of the input')],
      ['1700000000', parsing('start_time', '1700000000', 'invalid date separator, expected `-`')],
      ['2026-04-01T10:00:00', { type: 'timezone_aware', loc: ['query', 'start_time'], msg: 'Input should have timezone info', input: '2026-04-01T10:00:00' }],
      ['2026-04-01', { type: 'timezone_aware', loc: ['query', 'start_time'], msg: 'Input should have timezone info', input: '2026-04-01' }],
      ['1850-01-01T00:00:00Z', { type: 'greater_than_equal', loc: ['query', 'start_time'], msg: 'Input should be greater than or equal to 1900-01-01T00:00:00Z', input: '1850-01-01T00:00:00Z', ctx: { ge: '1900-01-01T00:00:00Z' } }],
    ];
    for (const [input, want] of times) expect(await bad('/', { start_time: input }), input).toEqual([want]);
    // The other routes: their own parameters, and no others.
    expect(await bad('/stats', { end_time: 'soon', partner_id: 'p' })).toEqual([
      parsing('end_time', 'soon', 'input is too short'),
      { type: 'extra_forbidden', loc: ['query', 'partner_id'], msg: 'Extra inputs are not permitted', input: 'p' },
    ]);
    for (const path of ['/actions', '/resource-types', '/aud_anything']) {
      expect(await bad(path, { tenant_id: 't' }), path).toEqual([{ type: 'extra_forbidden', loc: ['query', 'tenant_id'], msg: 'Extra inputs are not permitted', input: 't' }]);
    }
    // Nothing was read, so nothing was recorded.
    expect(api.reads.records.length).toBe(recorded);
  });

  it('keeps the catalogue body for 401 and 403, which come before parameter checks; other families keep their 400', async () => {
    const tenant = newTenant();
    for (const path of ['/', '/actions', '/resource-types', '/stats', '/aud_x']) {
      const none = await api.get(url(path, { per_page: 'x' }), null);
      expect(none.status).toBe(401);
      expect(none.body).toEqual({ error: 'missing bearer token', code: 'AUTH_MISSING' });
      const forged = await api.get(url(path), 'not.a.jwt');
      expect(forged.status).toBe(401);
      expect(forged.body.code).toBe('AUTH_INVALID');
      const reader = await api.get(url(path, { per_page: 'x' }), await api.token(tenant, 'audit:read audit:export'));
      expect(reader.status).toBe(403);
      expect(reader.body).toEqual({ error: 'this operation needs the audit:admin scope', code: 'AUTH_SCOPE' });
    }
    const scaivault = await api.get('/v1/audit/logs?limit=x', await api.token(tenant, 'audit:read'));
    expect(scaivault.status).toBe(400);
    expect(scaivault.body).toMatchObject({ code: 'QUERY_INVALID', details: [{ path: 'limit', message: 'must be an integer', type: 'int_parsing' }] });
  });

  it('confines a tenant admin to its own tenant: another tenant_id or any partner_id is 403, never an empty page', async () => {
    const w = await world();
    const tok = await admin(w.a1);
    expect(ids(await ok('/', tok))).toEqual(w.rows.a1.map((r) => r.id).reverse());
    expect((await ok('/', tok, { tenant_id: w.a1 })).total).toBe(3);
    for (const query of [{ tenant_id: w.a2 }, { tenant_id: w.b1 }, { tenant_id: 'no_such_tenant' }, { partner_id: w.P }] as Record<string, string>[]) {
      const r = await api.get(url('/', query), tok);
      expect(r.status, JSON.stringify(query)).toBe(403);
      expect(r.body.code).toBe('TENANT_MISMATCH');
    }
    const stats = await api.get(url('/stats', { tenant_id: w.c }), tok);
    expect(stats.status).toBe(403);
    expect(stats.body.code).toBe('TENANT_MISMATCH');
  });

  it('gives a partner admin every tenant of its partner, and 403 for another partner or its tenants', async () => {
    const w = await world();
    const tok = await admin(w.a1, { partner_id: w.P });
    // Events naming P, across its tenants; newest first across tenants.
    expect(ids(await ok('/', tok))).toEqual([w.rows.a2[0]!.id, w.rows.a1[1]!.id, w.rows.a1[0]!.id]);
    expect(ids(await ok('/', tok, { partner_id: w.P, actor_id: w.actor }))).toEqual([w.rows.a2[0]!.id, w.rows.a1[1]!.id, w.rows.a1[0]!.id]);
    // A tenant of P (known from its events), including its events that name no partner.
    expect(ids(await ok('/', tok, { tenant_id: w.a2 }))).toEqual([w.rows.a2[0]!.id]);
    expect((await ok('/', tok, { tenant_id: w.a1 })).total).toBe(3);
    for (const query of [{ tenant_id: w.b1 }, { tenant_id: w.c }, { partner_id: w.Q }, { tenant_id: 'no_such_tenant' }] as Record<string, string>[]) {
      const r = await api.get(url('/', query), tok);
      expect(r.status, JSON.stringify(query)).toBe(403);
      expect(r.body.code).toBe('TENANT_MISMATCH');
    }
    const other = await api.get(url(`/${w.rows.b1[0]!.id}`), tok);
    expect(other.status).toBe(404);
    expect((await ok(`/${w.rows.a2[0]!.id}`, tok)).tenant_id).toBe(w.a2);
  });

  it('gives a platform admin every tenant, narrowed by tenant_id or partner_id', async () => {
    const w = await world();
    const tok = await admin(newTenant('ops'), { platform: true });
    const all = await ok('/', tok, { actor_id: w.actor });
    expect(ids(all)).toEqual([w.rows.c[0]!.id, w.rows.b1[0]!.id, w.rows.a2[0]!.id, w.rows.a1[1]!.id, w.rows.a1[0]!.id]);
    expect(new Set(all.items.map((i: { tenant_id: string }) => i.tenant_id))).toEqual(new Set([w.a1, w.a2, w.b1, w.c]));
    expect(ids(await ok('/', tok, { partner_id: w.Q }))).toEqual([w.rows.b1[0]!.id]);
    expect(ids(await ok('/', tok, { tenant_id: w.c }))).toEqual([w.rows.c[0]!.id]);
    expect(ids(await ok('/', tok, { tenant_id: w.a1, partner_id: w.Q }))).toEqual([]);
    expect((await ok(`/${w.rows.b1[0]!.id}`, tok)).tenant_id).toBe(w.b1);
  });

  it('lists distinct actions and resource types in the token\'s reach, sorted', async () => {
    const w = await world();
    const own = await admin(w.a1);
    expect(await ok('/actions', own)).toEqual({ actions: ['read', 'write'] });
    expect(await ok('/resource-types', own)).toEqual({ resource_types: ['audit_log', 'file', 'secret'] });
    const partner = await admin(w.a1, { partner_id: w.P });
    expect(await ok('/actions', partner)).toEqual({ actions: ['login', 'read', 'write'] });
    expect(await ok('/resource-types', partner)).toEqual({ resource_types: ['file', 'secret', 'session'] });
  });

  it('computes stats over the reach and window in one answer', async () => {
    const tenant = newTenant();
    await h().rows.audit(tenant, [
      { event_time: at(0), action: 'read', category: 'security', severity: 'info', outcome: 'success', resource_type: 'secret', actor_id: 'usr_a', actor_email: 'a@example.com' },
      { event_time: at(1), action: 'read', category: 'security', severity: 'warning', outcome: 'denied', resource_type: 'secret', actor_id: 'usr_b', actor_email: 'b@example.com' },
      { event_time: at(2), action: 'write', category: 'file_modification', severity: 'info', outcome: 'success', resource_type: 'file', actor_id: 'usr_a', actor_email: 'a2@example.com' },
      { event_time: at(3), action: 'read', category: 'compliance', severity: 'info', outcome: 'success', resource_type: 'audit_log', actor_id: 'usr_a', actor_email: 'a3@example.com', source_format: 'internal' },
      { event_time: at(4), action: 'login', category: 'authentication', severity: 'info', outcome: 'failure', resource_type: '', actor_id: '', actor_email: '' },
    ]);
    const tok = await admin(tenant);
    expect(await ok('/stats', tok)).toEqual({
      total: 5, tenants: 1, unique_actors: 2, internal_events: 1,
      first_event_time: at(0), last_event_time: at(4),
      by_result: { success: 3, denied: 1, failure: 1 },
      by_action: { read: 3, write: 1, login: 1 },
      by_category: { security: 2, file_modification: 1, compliance: 1, authentication: 1 },
      by_severity: { info: 4, warning: 1 },
      by_resource_type: { secret: 2, file: 1, audit_log: 1, '': 1 },
      top_actors: [
        // The actor's email as its newest event gives it.
        { tenant_id: tenant, actor_id: 'usr_a', actor_email: 'a3@example.com', count: 3 },
        { tenant_id: tenant, actor_id: 'usr_b', actor_email: 'b@example.com', count: 1 },
      ],
      tenant_id: null, start_time: null, end_time: null,
    });
    const window = await ok('/stats', tok, { tenant_id: tenant, start_time: at(1), end_time: at(3) });
    expect(window).toMatchObject({ total: 2, by_action: { read: 1, write: 1 }, first_event_time: at(1), last_event_time: at(2), tenant_id: tenant, start_time: at(1), end_time: at(3) });
    expect(await ok('/stats', tok, { start_time: at(30) })).toMatchObject({ total: 0, tenants: 0, first_event_time: null, last_event_time: null, by_action: {}, top_actors: [] });
  });

  it('returns one entry by id, and 404 for an id absent or of another tenant', async () => {
    const a = newTenant();
    const b = newTenant();
    const [mine] = await h().rows.audit(a, [{ action: 'read', details: '{"k":"v"}' }]);
    const [theirs] = await h().rows.audit(b, [{ action: 'read' }]);
    const tok = await admin(a);
    const entry = await ok(`/${mine!.id}`, tok);
    expect(entry).toMatchObject({ id: mine!.id, tenant_id: a, action: 'read', details: { k: 'v' }, is_internal: false });
    expect(entry).toEqual((await ok('/', tok)).items[0]);
    for (const id of [theirs!.id, 'aud_does_not_exist']) {
      const r = await api.get(url(`/${id}`), tok);
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ error: `audit log ${id} not found`, code: 'NOT_FOUND' });
    }
  });

  it('records every successful read with its filters, reach and row count; refusals are not recorded', async () => {
    const tenant = newTenant();
    const [row] = await h().rows.audit(tenant, [{ action: 'read' }, { action: 'write' }]);
    const tok = await admin(tenant);
    const before = api.reads.records.length;
    await ok('/', tok, { action: 'read', per_page: 10 });
    await ok('/stats', tok, { start_time: at(0) });
    await ok('/actions', tok);
    await ok('/resource-types', tok);
    await ok(`/${row!.id}`, tok);
    await api.get(url('/', { per_page: 'x' }), tok);
    await api.get(url('/', { tenant_id: newTenant() }), tok);
    await api.get(url('/aud_nope'), tok);
    const mine = api.reads.records.slice(before).map((r) => ({ tenant: r.tenantId, ...r.what }));
    const reach = `tenant:${tenant}`;
    // (toEqual passes over the filters left undefined; the self-audit drops them.)
    expect(mine).toEqual([
      { tenant, resource: 'admin.audit.list', eventType: 'admin.audit.list', rows: 1, filters: { page: 1, per_page: 10, action: 'read', scope: reach } },
      { tenant, resource: 'admin.audit.stats', eventType: 'admin.audit.stats', rows: 2, filters: { start_time: at(0), scope: reach } },
      { tenant, resource: 'admin.audit.actions', eventType: 'admin.audit.actions', rows: 2, filters: { scope: reach } },
      { tenant, resource: 'admin.audit.resource_types', eventType: 'admin.audit.resource_types', rows: 1, filters: { scope: reach } },
      { tenant, resource: 'admin.audit.get', eventType: 'admin.audit.get', rows: 1, filters: { log_id: row!.id, scope: reach } },
    ]);
  });

  it('knows a tenant\'s partner from its newest event that names one, remembered for the TTL', async () => {
    const tenant = newTenant();
    let now = 1_000_000;
    const dir = new StoreTenantDirectory(h().store, 30_000, 100, () => now);
    expect(await dir.partnerOf(tenant)).toBeUndefined();
    const put = (rows: Partial<AuditRow>[]) => h().rows.audit(tenant, rows);
    await put([{ partner_id: '' }]);
    expect(await dir.partnerOf(tenant)).toBeUndefined(); // remembered: no events, a moment ago
    now += 30_000;
    expect(await dir.partnerOf(tenant)).toBe('');
    await put([{ partner_id: 'prt_old' }, { partner_id: 'prt_new' }, { partner_id: '' }]);
    now += 30_000;
    expect(await dir.partnerOf(tenant)).toBe('prt_new');
  });
});
