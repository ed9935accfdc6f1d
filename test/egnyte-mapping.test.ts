// The Egnyte projection without services: the permission-change derivation (one pure function for
// both ways in), the row → event mapping against the document's samples, and the in-memory filter.
import { describe, expect, it } from 'vitest';
import { actorNumber, matches, toEgnyteEvent, type ChangeRow, type EventFilter } from '../api/egnyte/egnyte-event.ts';
import type { AuditEvent, ChangeEntry } from '../schemas/event-model.ts';
import { normalizeAudit } from '../schemas/normalize.ts';
import { isPermissionChange, permissionChangeAttributes, permissionChangeEntry, permissionChangeId } from '../processors/permission-change.ts';
import { processDecoded } from '../processors/event-processor.ts';

/** A ScaiDrive permission-change audit event as a producer sends it, normalised as ingest does. */
function permissionAudit(over: Record<string, unknown> = {}): AuditEvent {
  const n = normalizeAudit({
    id: 'aud_perm_1', tenant_id: 'tnt_1', event_type: 'share.permission_change', category: 'sharing', severity: 'info',
    user_id: '9967960066', user_email: 'alice@example.com', service_account: 'app_42', resource_type: 'folder',
    resource_id: 'fld_1', resource_name: 'Documents', resource_path: '/Shared/Documents', share_id: 'shr_1',
    action: 'permission_change', outcome: 'success', action_source: 'WebUI', event_time: '2017-09-28T17:56:33Z',
    details: { changedPermissions: [{ subject: '/user/13', priv: 'READWRITE', action: 'ADD' }, { subject: '/user/13', priv: 'MODIFY', action: 'DELETE' }] },
    ...over,
  }, { tenantId: 'tnt_1' });
  if (!n.ok) throw new Error(JSON.stringify(n.errors));
  return n.value;
}

/** A ChangeEntry as the sink stores it (seq, received_at, store time text). */
function stored(c: ChangeEntry, seq: number, receivedAt = '2026-01-01 00:00:00.000'): ChangeRow {
  return {
    seq: String(seq), resource_type: c.resource_type, change_type: c.change_type, changed_by: c.changed_by,
    changed_at: c.changed_at.replace('T', ' ').replace('Z', ''), received_at: receivedAt, metadata: c.metadata,
    old_path: c.old_path, new_path: c.new_path,
  };
}

function row(over: Partial<ChangeRow> = {}): ChangeRow {
  return {
    seq: 7, resource_type: 'file', change_type: 'created', changed_by: 'usr_1', changed_at: '2026-04-23 10:15:02.000',
    received_at: '2026-04-23 10:15:03.000', metadata: '{}', old_path: null, new_path: '/Shared/a.txt', ...over,
  };
}

const event = (r: ChangeRow) => JSON.parse(toEgnyteEvent(r).json) as Record<string, any>;

describe('permission-change derivation', () => {
  it('recognises a permission change by category and action or event_type, nothing else', () => {
    expect(isPermissionChange({ category: 'sharing', action: 'permission_change', event_type: 'x' })).toBe(true);
    expect(isPermissionChange({ category: 'sharing', action: 'update', event_type: 'share.permission_change' })).toBe(true);
    expect(isPermissionChange({ category: 'sharing', action: 'create', event_type: 'share.create' })).toBe(false);
    expect(isPermissionChange({ category: 'admin', action: 'permission_change', event_type: 'share.permission_change' })).toBe(false);
  });

  it('derives one ChangeLog row with an id that depends only on the audit id', () => {
    const e = permissionAudit();
    const c = permissionChangeEntry(e);
    expect(c.id).toBe(permissionChangeId('aud_perm_1'));
    expect(permissionChangeEntry(permissionAudit({ severity: 'notice' })).id).toBe(c.id);
    expect(permissionChangeEntry(permissionAudit({ id: 'aud_perm_2' })).id).not.toBe(c.id);
    expect(c.id).toMatch(/^chg_pc_[0-9a-f]{32}$/);
    expect({ ...c, metadata: JSON.parse(c.metadata) }).toEqual({
      id: c.id, tenant_id: 'tnt_1', resource_type: 'folder', resource_id: 'fld_1', change_type: 'updated',
      changed_by: '9967960066', changed_at: '2017-09-28T17:56:33.000Z', old_path: null, new_path: '/Shared/Documents',
      version_id: null, share_id: 'shr_1',
      metadata: {
        permission_change: {
          changeGroupEvents: [],
          changePermissionEvent: { changedPermissions: [
            { entry: { priv: 'READWRITE', subject: '/user/13' }, action: 'ADD' },
            { entry: { priv: 'MODIFY', subject: '/user/13' }, action: 'DELETE' },
          ] },
        },
        source_event_id: 'aud_perm_1', action_source: 'WebUI', service_account: 'app_42',
      },
    });
  });

  it('reads snake_case and Egnyte-shaped permission lists; a resource that is not file/folder/share is the share', () => {
    const egnyteShaped = { entry: { priv: 'VIEWER', subject: '/group/2' }, action: 'ADD' };
    expect(permissionChangeAttributes({ changed_permissions: [{ subject: '/user/1', priv: 'OWNER', action: 'ADD' }], change_group_events: [{ g: 1 }] }))
      .toEqual({ changeGroupEvents: [{ g: 1 }], changePermissionEvent: { changedPermissions: [{ entry: { priv: 'OWNER', subject: '/user/1' }, action: 'ADD' }] } });
    expect(permissionChangeAttributes({ changePermissionEvent: { changedPermissions: [egnyteShaped, 'junk', { priv: 5 }] } }).changePermissionEvent.changedPermissions)
      .toEqual([egnyteShaped, { entry: { priv: '', subject: '' }, action: '' }]);
    expect(permissionChangeAttributes('not an object')).toEqual({ changeGroupEvents: [], changePermissionEvent: { changedPermissions: [] } });
    const c = permissionChangeEntry(permissionAudit({ resource_type: 'acl', resource_id: undefined, resource_path: undefined }));
    expect([c.resource_type, c.resource_id, c.new_path]).toEqual(['share', 'shr_1', null]);
  });

  it('an audit event produced straight to the log carries its derived change; other events do not', () => {
    const msg = { offset: 0n, key: 'tnt_1', value: null, headers: {}, timestamp: 0 };
    const raw = { id: 'aud_perm_9', event_type: 'share.permission_change', category: 'sharing', action: 'permission_change', event_time: '2026-01-01T00:00:00Z', user_id: 'u' };
    const o = processDecoded('audit', msg, raw);
    expect(o.kind).toBe('ok');
    if (o.kind !== 'ok') return;
    expect(o.change?.id).toBe(permissionChangeId('aud_perm_9'));
    expect(JSON.parse(o.change!.body.toString())).toMatchObject({ tenant_id: 'tnt_1', change_type: 'updated', changed_by: 'u' });
    const plain = processDecoded('audit', msg, { ...raw, category: 'file_access', action: 'read', event_type: 'file.read' });
    expect(plain.kind === 'ok' && plain.change).toBe(undefined);
    expect(processDecoded('change', msg, { resource_type: 'file', resource_id: 'f', change_type: 'created', changed_by: 'u', changed_at: '2026-01-01T00:00:00Z' })).not.toHaveProperty('change');
  });
});

describe('ChangeLog row → Egnyte event', () => {
  it("maps a deleted file to the v1 sample's event exactly", () => {
    const r = row({ seq: '4686', change_type: 'deleted', changed_by: '9967960066', changed_at: '2015-03-20 20:05:54.000', new_path: null, old_path: '/Shared/Documents/report.docx', metadata: '{"action_source":"PublicAPI"}' });
    expect(event(r)).toEqual({
      id: 4686, timestamp: '2015-03-20T20:05:54.000Z', actor: 9967960066, type: 'file_system', action: 'delete',
      data: { target_path: '/Shared/Documents/report.docx', is_folder: false }, action_source: 'PublicAPI',
    });
  });

  it("maps a derived permission change to the v2 sample's event exactly", () => {
    expect(event(stored(permissionChangeEntry(permissionAudit()), 4686))).toEqual({
      data: { is_folder: false, target_path: '/Shared/Documents' },
      action_source: 'WebUI', action: 'permission_change', id: 4686, actor: 9967960066, timestamp: '2017-09-28T17:56:33.000Z',
      eventTypeSpecificAttributes: {
        changeGroupEvents: [],
        changePermissionEvent: { changedPermissions: [
          { entry: { priv: 'READWRITE', subject: '/user/13' }, action: 'ADD' },
          { entry: { priv: 'MODIFY', subject: '/user/13' }, action: 'DELETE' },
        ] },
      },
      type: 'permission_change',
    });
  });

  it('maps every change type, copies, moves and folders', () => {
    expect(event(row({ change_type: 'created' }))).toMatchObject({ action: 'create', data: { target_path: '/Shared/a.txt', is_folder: false }, action_source: 'Other' });
    expect(event(row({ change_type: 'updated', old_path: '/Shared/a.txt' }))['action']).toBe('create');
    expect(event(row({ change_type: 'created', metadata: '{"copied_from":"/Shared/orig.txt"}' }))).toMatchObject({ action: 'copy', data: { target_path: '/Shared/a.txt', source_path: '/Shared/orig.txt' } });
    expect(event(row({ change_type: 'moved', old_path: '/A/x', new_path: '/B/x' }))['data']).toEqual({ target_path: '/B/x', source_path: '/A/x', is_folder: false });
    expect(event(row({ change_type: 'renamed', resource_type: 'folder', old_path: '/A/old', new_path: '/A/new' }))).toMatchObject({ action: 'rename', data: { source_path: '/A/old', is_folder: true } });
    expect(event(row({ resource_type: 'share' }))['data']['is_folder']).toBe(true);
    expect(event(row({ change_type: 'deleted', resource_type: 'folder', new_path: null, old_path: '/Gone' }))).toMatchObject({ action: 'delete', data: { target_path: '/Gone', is_folder: true } });
    expect(event(row({ new_path: null, old_path: null }))['data']['target_path']).toBe('');
    expect(event(row({ metadata: 'not json' }))['type']).toBe('file_system');
  });

  it('actor: digits as the number, other ids as a stable 48-bit hash, none as 0', () => {
    expect(actorNumber('13')).toBe(13);
    expect(actorNumber('9007199254740991')).toBe(9007199254740991);
    const h = actorNumber('usr_01J3N');
    expect(h).toBe(actorNumber('usr_01J3N'));
    expect(h).not.toBe(actorNumber('usr_01J3M'));
    expect(Number.isSafeInteger(h) && h >= 0 && h < 2 ** 48).toBe(true);
    // Too large for a safe integer: hashed, not rounded.
    const big = actorNumber('99999999999999999');
    expect(big < 2 ** 48).toBe(true);
    expect(actorNumber('')).toBe(0);
  });
});

describe('the in-memory filter', () => {
  const all: EventFilter = { types: new Set(['file_system', 'note', 'permission_change']), folder: undefined, notBy: undefined, notApp: undefined };
  const m = (r: Partial<ChangeRow>, f: Partial<EventFilter>) => matches(toEgnyteEvent(row(r)), { ...all, ...f });

  it('types, suppress and folder', () => {
    const perm = { metadata: '{"permission_change":{},"service_account":"app_1"}' };
    expect(m(perm, { types: new Set(['file_system', 'note']) })).toBe(false);
    expect(m(perm, { types: new Set(['permission_change']) })).toBe(true);
    expect(m({}, { types: new Set(['permission_change']) })).toBe(false);
    expect(m({}, { types: new Set(['note']) })).toBe(false);
    expect(m({ changed_by: 'usr_9' }, { notBy: 'usr_9' })).toBe(false);
    expect(m({ changed_by: 'usr_8' }, { notBy: 'usr_9' })).toBe(true);
    expect(m(perm, { notApp: 'app_1' })).toBe(false);
    expect(m(perm, { notApp: 'app_2' })).toBe(true);
    expect(m({ new_path: '/Shared/Docs' }, { folder: '/Shared/Docs' })).toBe(true);
    expect(m({ new_path: '/Shared/Docs/a/b.txt' }, { folder: '/Shared/Docs' })).toBe(true);
    expect(m({ new_path: '/Shared/Docs2/b.txt' }, { folder: '/Shared/Docs' })).toBe(false);
    // A move out of the folder is an event at the folder too (its old path).
    expect(m({ change_type: 'moved', old_path: '/Shared/Docs/x', new_path: '/Other/x' }, { folder: '/Shared/Docs' })).toBe(true);
  });
});
