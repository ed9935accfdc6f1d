// GET /api/v1/sync/changes (ScaiDrive "Events and Real-time Updates"): the seek-and-read over the
// tenant's ChangeLog. Oldest first (seq ascending), only the shares the token may read, and a
// cursor that is always returned — a sync client resumes from it, also at the end of the log.
//
// The cursor is bound to the tenant and to the set of shares read (the `share_id` parameter, or
// the token's whole share set): it then names exactly one sequence of rows, so resuming it can
// neither skip nor repeat. A token whose shares changed gets 400 CURSOR_INVALID and starts again
// without a cursor — a newly granted share's history is read from the start instead of skipped.
import type { FastifyInstance } from 'fastify';
import { requireScope, type Principal } from '../../infra/auth/jwt.ts';
import type { Store } from '../../infra/store/store.ts';
import { decodeCursor, encodeCursor, scopeHash } from '../query/cursor.ts';
import type { HighWater } from '../query/high-water.ts';
import { QueryReader } from '../query/query-params.ts';
import { ScopedQuery } from '../query/scoped-query.ts';
import { seqPage, type SeqPage } from '../query/seq-page.ts';
import { ownTenant } from '../query/tenant-scope.ts';
import type { SelfAudit } from '../self-audit.ts';
import { CHANGE_COLUMNS, toChangeEntry, type ChangeRow } from './change-entry.ts';
import { requestedShares, type ShareSet } from './share-access.ts';
import { DEFAULT_LIMIT, MAX_LIMIT, syncChangesSchema } from './sync-changes-schema.ts';

export interface SyncDeps {
  store: Store;
  selfAudit: SelfAudit;
  highWater: HighWater;
}

export async function syncChangesRoutes(app: FastifyInstance, deps: SyncDeps): Promise<void> {
  app.get('/api/v1/sync/changes', { schema: syncChangesSchema }, async (req) => {
    requireScope(req.principal, 'drive:sync');
    const q = new QueryReader(req.query as Record<string, unknown>);
    const cursor = q.string('cursor', 512);
    const limit = q.int('limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT;
    const shareId = q.string('share_id', 256);
    q.done();
    const shares = requestedShares(req.principal, shareId);
    const cursorScope = scopeHash(['drive.sync.changes', req.principal.tenantId, shares]);
    const page = await readChanges(deps, req.principal, shares, { limit, cursor, cursorScope });
    // Like Egnyte's 204, a poll that found nothing new disclosed nothing and is not recorded
    // (sync clients poll often; a record per empty poll would drown the tenant's audit trail).
    if (page.rows.length > 0 || cursor === undefined) {
      deps.selfAudit.record(req, {
        resource: 'drive.sync.changes',
        filters: { share_id: shareId, shares, limit, cursor: cursor !== undefined },
        rows: page.rows.length,
      });
    }
    return {
      changes: page.rows.map(toChangeEntry),
      // Never null: with nothing read yet, the cursor of the start of the log.
      cursor: page.cursor ?? encodeCursor({ seq: 0 }, cursorScope),
      has_more: page.hasMore,
    };
  });
}

async function readChanges(
  deps: SyncDeps, principal: Principal, shares: ShareSet, o: { limit: number; cursor: string | undefined; cursorScope: string },
): Promise<SeqPage<ChangeRow>> {
  if (o.cursor !== undefined) {
    // The common poll, "anything new?", answered from memory: past the tenant's highest readable
    // seq there is nothing (the mark never runs ahead of the store, so this cannot hide a change).
    const after = decodeCursor(o.cursor, o.cursorScope).seq;
    if (after >= (await deps.highWater.latest('change_log', principal.tenantId))) return { rows: [], hasMore: false, cursor: o.cursor };
  }
  // A token that may read no share reads nothing (an empty log, not an error: a user with no
  // shares yet is an ordinary state for a sync client).
  if (shares !== 'all' && shares.length === 0) return { rows: [], hasMore: false, cursor: o.cursor ?? null };
  const query = new ScopedQuery('change_log', ownTenant(principal));
  if (shares !== 'all') query.in('share_id', shares);
  return seqPage<ChangeRow>(deps.store, query, { columns: CHANGE_COLUMNS, direction: 'asc', limit: o.limit, cursor: o.cursor, cursorScope: o.cursorScope, cursorAtEnd: true });
}
