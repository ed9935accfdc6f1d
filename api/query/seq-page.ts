// Keyset pages over a tenant's seq: `limit + 1` rows tell has_more without a count, and the
// cursor is the last row's seq (opaque, bound to the tenant and filters: ./cursor.ts). Newest
// first for the audit families, oldest first for the ChangeLog; either way a cursor never skips
// or repeats a row, even while rows arrive, because seq only grows and is never reused.
import type { Store } from '../../infra/store/store.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import type { ScopedQuery } from './scoped-query.ts';

export interface SeqPage<T> {
  rows: T[];
  hasMore: boolean;
  /** The opaque cursor for the next page, null when there is none. */
  cursor: string | null;
}

export interface SeqPageOptions {
  columns: string;
  direction: 'asc' | 'desc';
  limit: number;
  /** The request's cursor text, if any. */
  cursor: string | undefined;
  /** What the cursor is bound to (scopeHash of tenant + filters). */
  cursorScope: string;
  /** When there is no next page, still return a cursor (the sync pull always resumes). */
  cursorAtEnd?: boolean;
}

export async function seqPage<T extends { seq: number | string }>(store: Store, q: ScopedQuery, o: SeqPageOptions): Promise<SeqPage<T>> {
  const after = o.cursor === undefined ? undefined : decodeCursor(o.cursor, o.cursorScope).seq;
  q.seqAfter(after, o.direction);
  const { sql, params } = q.select(o.columns, `ORDER BY seq ${o.direction === 'asc' ? 'ASC' : 'DESC'} LIMIT {page_limit:UInt32}`, { page_limit: o.limit + 1 });
  const rows = await store.query<T>(sql, params);
  const hasMore = rows.length > o.limit;
  if (hasMore) rows.length = o.limit;
  const last = rows[rows.length - 1];
  let cursor: string | null = null;
  if (last !== undefined && (hasMore || o.cursorAtEnd)) cursor = encodeCursor({ seq: Number(last.seq) }, o.cursorScope);
  else if (last === undefined && o.cursorAtEnd && after !== undefined) cursor = o.cursor ?? null;
  return { rows, hasMore, cursor };
}
