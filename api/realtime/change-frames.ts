// Stored change_log rows → the frames of the two WebSockets (scaidrive-events-and-realtime.txt).
//  - sync: `{"event_type": "change", "share_id", "data": <ChangeLog entry>}` — the entry exactly
//    as GET /api/v1/sync/changes returns it; the client still pulls (the socket only nudges).
//  - ui: full metadata so a UI updates without a re-fetch. Decided where the document is silent:
//    a file's updated, moved and renamed are `file_updated`; a folder's are `folder_updated` (a
//    frame the document does not list: a UI must hear of a renamed folder); deletions carry only
//    the id, as documented; share changes have no UI frame (the sync socket carries them).
import { toChangeEntry, type ChangeRow } from '../sync/change-entry.ts';
import type { LiveRow } from './readable-feed.ts';

const asChangeRow = (row: LiveRow) => row as unknown as ChangeRow;

export function syncChangeFrame(row: LiveRow): string {
  return JSON.stringify({ event_type: 'change', share_id: row['share_id'], data: toChangeEntry(asChangeRow(row)) });
}

export type UiFrameType = 'file_created' | 'file_updated' | 'file_deleted' | 'folder_created' | 'folder_updated' | 'folder_deleted';

export function uiFrameType(resourceType: unknown, changeType: unknown): UiFrameType | null {
  if (resourceType !== 'file' && resourceType !== 'folder') return null;
  switch (changeType) {
    case 'created':
      return `${resourceType}_created`;
    case 'deleted':
      return `${resourceType}_deleted`;
    case 'updated':
    case 'moved':
    case 'renamed':
      return `${resourceType}_updated`;
    default:
      return null;
  }
}

/** The UI frame for a row, or null when the row has none. */
export function uiChangeFrame(row: LiveRow): string | null {
  const type = uiFrameType(row['resource_type'], row['change_type']);
  if (type === null) return null;
  const e = toChangeEntry(asChangeRow(row));
  const idKey = e.resource_type === 'file' ? 'file_id' : 'folder_id';
  if (e.change_type === 'deleted') return JSON.stringify({ type, share_id: row['share_id'], data: { [idKey]: e.resource_id } });
  const path = e.new_path ?? e.old_path;
  const data = {
    // The producer's metadata (size, mime_type, …) first, so our named fields win over a clash.
    ...e.metadata,
    [idKey]: e.resource_id,
    share_id: row['share_id'],
    name: path === null ? null : (path.split('/').filter(Boolean).pop() ?? null),
    path,
    ...(e.change_type === 'moved' || e.change_type === 'renamed' ? { old_path: e.old_path } : {}),
    version_id: e.version_id,
    change_type: e.change_type,
    changed_by: e.changed_by,
    changed_at: e.changed_at,
    change_id: e.id,
  };
  return JSON.stringify({ type, share_id: row['share_id'], data });
}
