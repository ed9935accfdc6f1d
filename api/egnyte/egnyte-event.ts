// The Egnyte projection of the ChangeLog (egnyte-events-api.txt): a change_log row becomes an
// Egnyte event whose id is the row's seq, and a request's filters (type, folder, suppress) apply
// the same way in memory (the tail cache) and in SQL (older cursors). Pure: no I/O.
import { createHash } from 'node:crypto';
import { PERMISSION_CHANGE_KEY, type PermissionChangeAttributes } from '../../processors/permission-change.ts';
import { isoFromStore, type Filter, type ScopedQuery } from '../query/scoped-query.ts';

export const EVENT_TYPES = ['file_system', 'note', 'permission_change'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** v1 returns permission changes only when asked for them; v2 returns every type (the document). */
export const DEFAULT_TYPES: Record<'v1' | 'v2', readonly EventType[]> = {
  v1: ['file_system', 'note'],
  v2: ['file_system', 'note', 'permission_change'],
};

/** ChangeLog change_type → Egnyte action (`created` with metadata.copied_from is a copy). */
export const ACTIONS: Readonly<Record<string, string>> = {
  created: 'create',
  // Egnyte reports an upload of a new version as a create.
  updated: 'create',
  deleted: 'delete',
  moved: 'move',
  renamed: 'rename',
};

/** When a change names no action_source (metadata.action_source): Egnyte's catch-all. */
export const DEFAULT_ACTION_SOURCE = 'Other';

export const ROW_COLUMNS = 'seq, resource_type, change_type, changed_by, changed_at, received_at, metadata, old_path, new_path';

/** A change_log row as the stores return it (UInt64 may come quoted). */
export interface ChangeRow {
  seq: number | string;
  resource_type: string;
  change_type: string;
  changed_by: string;
  changed_at: string;
  received_at: string;
  metadata: string;
  old_path: string | null;
  new_path: string | null;
}

/** An Egnyte event, mapped once, with what the filters and the window test kept beside it. */
export interface MappedEvent {
  seq: number;
  /** The event's `timestamp` (changed_at, ISO 8601 with ms and Z). */
  timestamp: string;
  /** received_at in ms (the 30-day window). */
  receivedAt: number;
  type: Exclude<EventType, 'note'>;
  changedBy: string;
  /** metadata.service_account ('' when none): the app that made the change. */
  serviceAccount: string;
  newPath: string | null;
  oldPath: string | null;
  /** The event's JSON text, as it goes out. */
  json: string;
}

const MAX_SAFE_DIGITS = /^\d{1,16}$/;

/**
 * Egnyte's `actor` is numeric. A changed_by of digits (a safe integer) is that number; any other
 * id is the first 48 bits of its sha256 (stable, so one user is one actor across polls and
 * replays); none is 0.
 */
export function actorNumber(changedBy: string): number {
  if (changedBy === '') return 0;
  if (MAX_SAFE_DIGITS.test(changedBy)) {
    const n = Number(changedBy);
    if (Number.isSafeInteger(n)) return n;
  }
  return createHash('sha256').update(changedBy).digest().readUIntBE(0, 6);
}

function parseMetadata(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function emptyAttributes(): PermissionChangeAttributes {
  return { changeGroupEvents: [], changePermissionEvent: { changedPermissions: [] } };
}

/** A stored row → the Egnyte event (and its filter attributes). */
export function toEgnyteEvent(r: ChangeRow): MappedEvent {
  const seq = Number(r.seq);
  const meta = parseMetadata(r.metadata);
  const permission = Object.hasOwn(meta, PERMISSION_CHANGE_KEY);
  const targetPath = r.new_path ?? r.old_path ?? '';
  let event: Record<string, unknown>;
  const timestamp = isoFromStore(r.changed_at);
  const head = { id: seq, timestamp, actor: actorNumber(r.changed_by) };
  const actionSource = str(meta['action_source']) || DEFAULT_ACTION_SOURCE;
  if (permission) {
    const attrs = meta[PERMISSION_CHANGE_KEY];
    event = {
      ...head, type: 'permission_change', action: 'permission_change',
      // The document: is_folder of a permission change is always false (it is not a folder event).
      data: { target_path: targetPath, is_folder: false },
      action_source: actionSource,
      eventTypeSpecificAttributes: attrs !== null && typeof attrs === 'object' ? attrs : emptyAttributes(),
    };
  } else {
    const copiedFrom = r.change_type === 'created' ? str(meta['copied_from']) : '';
    const action = copiedFrom !== '' ? 'copy' : ACTIONS[r.change_type] ?? r.change_type;
    const data: Record<string, unknown> = { target_path: targetPath, is_folder: r.resource_type === 'folder' || r.resource_type === 'share' };
    if ((action === 'move' || action === 'rename') && r.old_path !== null) data['source_path'] = r.old_path;
    if (action === 'copy') data['source_path'] = copiedFrom;
    event = { ...head, type: 'file_system', action, data, action_source: actionSource };
  }
  return {
    seq,
    timestamp,
    receivedAt: Date.parse(isoFromStore(r.received_at)),
    type: permission ? 'permission_change' : 'file_system',
    changedBy: r.changed_by,
    serviceAccount: str(meta['service_account']),
    newPath: r.new_path,
    oldPath: r.old_path,
    json: JSON.stringify(event),
  };
}

/** A request's filters, resolved against the caller (suppress → the values to leave out). */
export interface EventFilter {
  types: ReadonlySet<EventType>;
  /** Normalised: starts with '/', no trailing '/'; undefined: every path. */
  folder: string | undefined;
  /** Leave out changes by this user (suppress=user: the token's sub). */
  notBy: string | undefined;
  /** Leave out changes by this app (suppress=app: the token's act.client_id). */
  notApp: string | undefined;
}

/** True when no stored row can match (only `note` asked for: nothing produces notes). */
export function matchesNothing(f: EventFilter): boolean {
  return !f.types.has('file_system') && !f.types.has('permission_change');
}

const under = (path: string | null, folder: string): boolean => path !== null && (path === folder || path.startsWith(`${folder}/`));

/** The filter on a mapped event (the tail cache). Must agree with applyEventFilter. */
export function matches(e: MappedEvent, f: EventFilter): boolean {
  if (!f.types.has(e.type)) return false;
  if (f.notBy !== undefined && e.changedBy === f.notBy) return false;
  if (f.notApp !== undefined && e.serviceAccount === f.notApp) return false;
  if (f.folder !== undefined && !under(e.newPath, f.folder) && !under(e.oldPath, f.folder)) return false;
  return true;
}

/** The same filter compiled onto a change_log query (older cursors). */
export function applyEventFilter(q: ScopedQuery, f: EventFilter): ScopedQuery {
  const fs = f.types.has('file_system');
  const pc = f.types.has('permission_change');
  if (fs !== pc) q.where({ column: 'metadata', op: pc ? 'jsonHas' : 'jsonLacks', value: PERMISSION_CHANGE_KEY });
  q.ne('changed_by', 'String', f.notBy);
  if (f.notApp !== undefined) q.where({ column: 'metadata', op: 'jsonNe', key: 'service_account', value: f.notApp });
  if (f.folder !== undefined) {
    const folder = f.folder;
    const at = (column: string): Filter[] => [
      { column, op: '=', type: 'String', value: folder },
      { column, op: 'startsWith', value: `${folder}/` },
    ];
    q.where({ op: 'anyOf', value: [...at('new_path'), ...at('old_path')] });
  }
  return q;
}
