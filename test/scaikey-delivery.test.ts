// A ScaiKey delivery body → a checked delivery (every problem in details, unknown fields ignored),
// and the audit event that records it (its id a function of the delivery id alone).
import { describe, expect, it } from 'vitest';
import { AuditflowError } from '../infra/errors.ts';
import { normalizeAudit } from '../schemas/normalize.ts';
import { deliveryAuditEvent, deliveryAuditId, parseDelivery } from '../api/webhooks/scaikey-delivery.ts';
import { directoryVersion } from '../api/webhooks/scaikey-directory.ts';

const body = (o: unknown) => Buffer.from(JSON.stringify(o));
const user = { id: 'usr_01J3N', email: 'alice@example.com', name: 'Alice', tenant_id: 'tnt_01J3A' };

function details(raw: Buffer): { path: string; message: string }[] {
  try {
    parseDelivery(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(AuditflowError);
    expect((e as AuditflowError).code).toBe('VALIDATION_FAILED');
    return (e as AuditflowError).details ?? [];
  }
  throw new Error('expected VALIDATION_FAILED');
}

describe('parseDelivery', () => {
  it('reads a user delivery; created_at normalised to UTC with ms; unknown fields ignored', () => {
    const d = parseDelivery(body({ id: 'dlv_1', type: 'user.created', created_at: '2026-03-01T11:00:00+01:00', data: { ...user, avatar: 'x' }, api_version: 2 }));
    expect(d).toEqual({
      id: 'dlv_1', type: 'user.created', entity: 'user', change: 'created', createdAtMs: Date.parse('2026-03-01T10:00:00Z'),
      createdAt: '2026-03-01T10:00:00.000Z', tenantId: 'tnt_01J3A', subjectId: 'usr_01J3N', email: 'alice@example.com', name: 'Alice', members: [],
    });
  });

  it('reads a group with its members; a deletion needs only the ids', () => {
    const g = parseDelivery(body({ id: 'dlv_2', type: 'group.updated', created_at: '2026-03-01T10:00:00Z', data: { ...user, id: 'grp_1', members: ['usr_1', 'usr_2'] } }));
    expect(g).toMatchObject({ entity: 'group', change: 'updated', subjectId: 'grp_1', members: ['usr_1', 'usr_2'] });
    const del = parseDelivery(body({ id: 'dlv_3', type: 'user.deleted', created_at: '2026-03-01T10:00:00Z', data: { id: 'usr_1', tenant_id: 't' } }));
    expect(del).toMatchObject({ change: 'deleted', email: '', name: '', members: [] });
    expect(parseDelivery(body({ id: 'dlv_4', type: 'group.deleted', created_at: '2026-03-01T10:00:00Z', data: { id: 'grp_1', tenant_id: 't' } })).members).toEqual([]);
  });

  it('reports every problem with its path', () => {
    expect(details(body({ id: '', type: 'user.renamed', created_at: '2026-02-30T00:00:00Z', data: { id: 5, tenant_id: 'a b', email: 1 } }))).toEqual([
      { path: '/id', message: 'must be 1 to 256 characters' },
      { path: '/type', message: 'must be one of user.created, user.updated, user.deleted, group.created, group.updated, group.deleted' },
      { path: '/created_at', message: 'must be an RFC 3339 date-time' },
      { path: '/data/id', message: 'must be a string' },
      { path: '/data/tenant_id', message: 'must be letters, digits and _ . : -' },
      { path: '/data/email', message: 'must be a string' },
      { path: '/data/name', message: 'is required' },
    ]);
    expect(details(body({ type: 'user.created', data: user }))).toEqual([{ path: '/id', message: 'is required' }, { path: '/created_at', message: 'is required' }]);
    expect(details(body({ id: 'd', type: 'user.created', created_at: '2026-03-01T10:00:00Z' }))).toEqual([{ path: '/data', message: 'is required' }]);
    expect(details(body({ id: 'd', type: 'group.created', created_at: '2026-03-01T10:00:00Z', data: user }))).toEqual([{ path: '/data/members', message: 'is required for a group' }]);
    expect(details(body({ id: 'd', type: 'group.created', created_at: '2026-03-01T10:00:00Z', data: { ...user, members: ['ok', '', 7] } }))).toEqual([
      { path: '/data/members/1', message: 'must be a user id of 1 to 256 characters' },
      { path: '/data/members/2', message: 'must be a user id of 1 to 256 characters' },
    ]);
  });

  it('not JSON, or not an object: VALIDATION_FAILED with a detail at /', () => {
    expect(details(Buffer.from('{"id":'))[0]!.path).toBe('/');
    expect(details(Buffer.from('[]'))).toEqual([{ path: '/', message: 'must be a JSON object' }]);
    expect(details(Buffer.from(''))[0]!.path).toBe('/');
  });

  it('bytes that are not UTF-8: BODY_MALFORMED', () => {
    expect(() => parseDelivery(Buffer.from([0x7b, 0xff, 0x7d]))).toThrow(expect.objectContaining({ code: 'BODY_MALFORMED' }));
  });
});

describe('the audit event of a delivery', () => {
  const d = parseDelivery(body({ id: 'dlv_9', type: 'group.created', created_at: '2026-03-01T10:00:00Z', data: { ...user, id: 'grp_7', name: 'Ops', members: ['a', 'b'] } }));

  it('is an admin event by the ScaiKey service on the group, in its tenant, with the delivery in details', () => {
    const ev = deliveryAuditEvent(d, { sourceIp: '10.1.2.3', userAgent: 'ScaiKey-Webhooks/1.0' });
    expect(ev).toMatchObject({
      id: deliveryAuditId('dlv_9'), tenant_id: 'tnt_01J3A', event_time: '2026-03-01T10:00:00.000Z', event_type: 'scaikey.group.created',
      action: 'create', category: 'admin', actor_id: 'scaikey', actor_type: 'service_account', service_account: 'scaikey',
      resource_type: 'group', resource_id: 'grp_7', resource_name: 'Ops', request_id: 'dlv_9', source_ip: '10.1.2.3', source_format: 'canonical',
    });
    expect(JSON.parse(ev.details)).toEqual({ delivery_id: 'dlv_9', type: 'group.created', email: 'alice@example.com', members: 2 });
    // What the store sink does with anything not passed through as bytes (e.g. Avro): it must validate.
    const n = normalizeAudit(JSON.parse(JSON.stringify(ev)), { tenantId: ev.tenant_id });
    expect(n.ok && n.value).toEqual(ev);
  });

  it('has an aud_ id that depends on the delivery id only', () => {
    expect(deliveryAuditId('dlv_9')).toMatch(/^aud_sk_[0-9a-f]{32}$/);
    expect(deliveryAuditId('dlv_9')).toBe(deliveryAuditId('dlv_9'));
    expect(deliveryAuditId('dlv_10')).not.toBe(deliveryAuditId('dlv_9'));
  });
});

describe('directoryVersion', () => {
  it('orders by created_at, then created < updated < deleted within one millisecond', () => {
    const t = Date.parse('2026-03-01T10:00:00Z');
    expect(directoryVersion(t, 'created')).toBeLessThan(directoryVersion(t, 'updated'));
    expect(directoryVersion(t, 'updated')).toBeLessThan(directoryVersion(t, 'deleted'));
    expect(directoryVersion(t, 'deleted')).toBeLessThan(directoryVersion(t + 1, 'created'));
    expect(Number.isSafeInteger(directoryVersion(Date.parse('2299-12-31T23:59:59.999Z'), 'deleted'))).toBe(true);
  });
});
