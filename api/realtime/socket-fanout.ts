// What reaches the WebSockets: each change row that became readable (the ReadableFeed) to every
// socket following its share — frame text built once per row and kind — and the edge's notices
// (./edge-notices.ts) to the sockets they name.
import type { EdgeNotices } from './edge-notices.ts';
import type { ReadableFeed } from './readable-feed.ts';
import { syncChangeFrame, uiChangeFrame } from './change-frames.ts';
import { CLOSE, type SocketHub } from './socket-hub.ts';
import { mayRead } from '../sync/share-access.ts';

/** The notices the sockets act on (published by ./sync-control-routes.ts and the ScaiKey webhook). */
export type SocketNotice =
  | { kind: 'force_sync'; tenantId: string; shareId: string; deviceId?: string | undefined }
  | { kind: 'sync_preference_updated'; tenantId: string; userId: string; shareId: string; deviceId: string }
  | { kind: 'user_deleted'; tenantId: string; userId: string };

export function connectSockets(hub: SocketHub, feed: ReadableFeed, notices: EdgeNotices): () => void {
  const offRows = feed.on('change_log', (rows) => hub.corkedFanOut(() => {
    for (const row of rows) {
      let sync: string | undefined;
      let ui: string | null | undefined;
      for (const c of hub.following(row.tenant_id, String(row['share_id'] ?? ''))) {
        if (c.kind === 'sync') hub.send(c, (sync ??= syncChangeFrame(row)));
        else if ((ui ??= uiChangeFrame(row)) !== null) hub.send(c, ui);
      }
    }
  }));
  const offNotices = notices.subscribe((raw) => {
    const n = raw as unknown as SocketNotice;
    switch (n.kind) {
      case 'force_sync': {
        const text = JSON.stringify({ event_type: 'force_sync', share_id: n.shareId });
        for (const c of hub.following(n.tenantId, n.shareId)) {
          if (c.kind === 'sync' && (n.deviceId === undefined || c.deviceId === n.deviceId)) hub.send(c, text);
        }
        return;
      }
      case 'sync_preference_updated': {
        const text = JSON.stringify({ event_type: 'sync_preference_updated', share_id: n.shareId, device_id: n.deviceId });
        for (const c of hub.tenantClients(n.tenantId)) {
          if (c.kind === 'sync' && c.deviceId === n.deviceId && c.principal.subject === n.userId && mayRead(c.follows, n.shareId)) hub.send(c, text);
        }
        return;
      }
      case 'user_deleted':
        for (const c of [...hub.tenantClients(n.tenantId)]) if (c.principal.subject === n.userId) hub.close(c, CLOSE.userDeleted);
        return;
      default:
        // A notice for another part of the edge (or a newer node's): not the sockets' business.
    }
  });
  return () => {
    offRows();
    offNotices();
  };
}
