// The ScaiDrive ChangeLog entry a stored change_log row becomes: exactly the document's fields,
// in its order (id … version_id). seq and share_id are read for paging and not shown.
import { isoFromStore } from '../query/scoped-query.ts';

export const CHANGE_COLUMNS = 'seq, id, resource_type, resource_id, change_type, changed_by, changed_at, metadata, old_path, new_path, version_id';

export interface ChangeEntry {
  id: string;
  resource_type: string;
  resource_id: string;
  change_type: string;
  changed_by: string;
  changed_at: string;
  metadata: Record<string, unknown>;
  old_path: string | null;
  new_path: string | null;
  version_id: string | null;
}

/** A row as read (CHANGE_COLUMNS): metadata is the stored text. */
export type ChangeRow = Omit<ChangeEntry, 'metadata'> & { seq: number | string; metadata: string };

/**
 * metadata is always an object. Ingest accepts it as an object or as text; text that is not a
 * JSON object (a producer's bare string, an array) is kept under `value` rather than dropped.
 */
export function metadataObject(text: string): Record<string, unknown> {
  if (text === '') return {};
  let v: unknown = text;
  try {
    v = JSON.parse(text);
  } catch {
    // not JSON: the text itself is the value
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  return { value: v };
}

export function toChangeEntry(r: ChangeRow): ChangeEntry {
  return {
    id: r.id,
    resource_type: r.resource_type,
    resource_id: r.resource_id,
    change_type: r.change_type,
    changed_by: r.changed_by,
    changed_at: isoFromStore(r.changed_at),
    metadata: metadataObject(r.metadata),
    old_path: r.old_path,
    new_path: r.new_path,
    version_id: r.version_id,
  };
}
