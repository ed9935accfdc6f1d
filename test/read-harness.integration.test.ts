// The read harness itself, and the shared query path under /v1/audit/logs, on both stores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, readApp, startStores, type Stores } from './support/read-api-harness.ts';

let stores: Stores;
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => { await stores?.stop(); });

describe.each(['chdb', 'http'] as const)('read path on %s', (name) => {
  const h = () => stores.list.find((s) => s.name === name)!;

  it('pages newest first with limit + 1, excludes internal events, and stays in the tenant', async () => {
    const tenant = newTenant();
    const other = newTenant();
    await h().rows.audit(tenant, [{ action: 'read' }, { action: 'write' }, { action: 'read', source_format: 'internal' }, { action: 'delete' }]);
    await h().rows.audit(other, [{ action: 'read' }]);
    const api = await readApp(h());
    const tok = await api.token(tenant, 'audit:read');
    const p1 = await api.get('/v1/audit/logs?limit=2', tok);
    expect(p1.status).toBe(200);
    expect(p1.body.logs.map((l: { action: string }) => l.action)).toEqual(['delete', 'write']);
    expect(p1.body.has_more).toBe(true);
    const p2 = await api.get(`/v1/audit/logs?limit=2&cursor=${p1.body.cursor}`, tok);
    expect(p2.body.logs.map((l: { action: string }) => l.action)).toEqual(['read']);
    expect(p2.body).toMatchObject({ has_more: false, cursor: null });
    expect(api.reads.records.map((r) => [r.tenantId, r.what.resource, r.what.rows])).toEqual([[tenant, 'scaivault.logs', 2], [tenant, 'scaivault.logs', 1]]);
    // Another tenant's cursor is refused, not read.
    const foreign = await api.get(`/v1/audit/logs?cursor=${p1.body.cursor}`, await api.token(other, 'audit:read'));
    expect(foreign.status).toBe(400);
    expect(foreign.body.code).toBe('CURSOR_INVALID');
    await api.close();
  });
});
