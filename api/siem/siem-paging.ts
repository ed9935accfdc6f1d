// Keyset pages of the SIEM listings (destinations, dead letters, replays): their ids sort by
// creation, so the last id shown is the position. Cursors are opaque and bound to the tenant, the
// listing and its filters, like the read APIs' (../query/cursor.ts): another listing's or another
// tenant's cursor is a 400, never a silently different page.
import { AuditflowError } from '../../infra/errors.ts';
import { scopeHash } from '../query/cursor.ts';
import type { QueryReader } from '../query/query-params.ts';

export interface PageRequest {
  limit: number;
  /** The id the previous page ended at. */
  after: string | undefined;
  scope: string;
}

/** `limit` (1..max, default `dflt`) and `cursor`, bound to `scopeParts` (the listing, tenant, filters). */
export function readPage(q: QueryReader, scopeParts: unknown[], dflt = 50, max = 200): PageRequest {
  const limit = q.int('limit', 1, max) ?? dflt;
  const cursor = q.string('cursor', 512);
  const scope = scopeHash(scopeParts);
  return { limit, scope, after: cursor === undefined ? undefined : decodeIdCursor(cursor, scope) };
}

function decodeIdCursor(cursor: string, scope: string): string {
  let d: { v?: unknown; id?: unknown; h?: unknown } = {};
  try {
    d = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as typeof d;
  } catch {
    // refused below
  }
  if (d.v !== 1 || typeof d.id !== 'string' || d.id === '') throw new AuditflowError('CURSOR_INVALID', 'cursor is not one this listing issued');
  if (d.h !== scope) throw new AuditflowError('CURSOR_INVALID', 'cursor was issued for another listing or other filters; start again without it');
  return d.id;
}

/** A page of `rows` fetched with limit + 1: the rows shown, the next cursor, whether there is more. */
export function pageOf<T>(rows: T[], page: PageRequest, idOf: (row: T) => string): { shown: T[]; cursor: string | null; has_more: boolean } {
  const more = rows.length > page.limit;
  const shown = rows.slice(0, page.limit);
  const last = shown[shown.length - 1];
  const cursor = more && last !== undefined ? Buffer.from(JSON.stringify({ v: 1, id: idOf(last), h: page.scope })).toString('base64url') : null;
  return { shown, cursor, has_more: more };
}
