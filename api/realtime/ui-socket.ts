// /api/v1/realtime/ws — the UI socket: `connected {user_id, timestamp}` on open, then explicit
// subscriptions per share. A share the token may not read is refused with an error frame
// `{"type":"error","code":"SHARE_FORBIDDEN","share_id",…}` and never subscribed.
// Client → server: {"action":"subscribe"|"unsubscribe","share_id"}, {"action":"ping"} → {"type":"pong"}.
import type { FastifyInstance } from 'fastify';
// The route option `websocket: true` and the handler's (socket, request) signature.
import type {} from '@fastify/websocket';
import type { WebSocket } from 'ws';
import type { Authenticator } from '../../infra/auth/jwt.ts';
import type { SelfAudit } from '../self-audit.ts';
import { mayRead, readableShares } from '../sync/share-access.ts';
import { parseClientMessage, socketAuth, SOCKET_QUERY } from './socket-auth.ts';
import type { SocketHub } from './socket-hub.ts';

/** Shares one socket may follow: a UI shows a handful; this bounds the index a socket can grow. */
const MAX_SUBSCRIPTIONS = 1000;
const SHARE_ID = /^[A-Za-z0-9_.:\-]{1,256}$/;

export async function uiSocketRoutes(app: FastifyInstance, deps: { auth: Authenticator; hub: SocketHub; selfAudit: SelfAudit }): Promise<void> {
  app.get('/api/v1/realtime/ws', {
    websocket: true,
    preValidation: socketAuth(deps.auth),
    schema: { summary: 'Realtime WebSocket for UIs: subscribe per share, frames with full metadata', tags: ['realtime'], querystring: SOCKET_QUERY },
  }, (socket: WebSocket, req) => {
    const p = req.principal;
    const shares = readableShares(p);
    const client = deps.hub.add(socket, 'ui', p, []);
    deps.selfAudit.record(req, { resource: 'realtime.ui_ws', eventType: 'audit.stream', action: 'subscribe', rows: 0, filters: {} });
    const send = (frame: Record<string, unknown>) => deps.hub.send(client, JSON.stringify(frame));
    const error = (code: string, message: string, extra: Record<string, unknown> = {}) => send({ type: 'error', code, message, ...extra });
    send({ type: 'connected', user_id: p.subject, timestamp: new Date().toISOString() });
    socket.on('message', (data, isBinary) => {
      const m = parseClientMessage(data, isBinary);
      const action = m?.['action'] ?? m?.['type'];
      if (action === 'ping') return send({ type: 'pong' });
      if (action !== 'subscribe' && action !== 'unsubscribe') return error('MESSAGE_INVALID', 'expected an action: subscribe, unsubscribe or ping');
      const shareId = m?.['share_id'];
      if (typeof shareId !== 'string' || !SHARE_ID.test(shareId)) return error('MESSAGE_INVALID', `${action} needs a share_id`);
      if (action === 'unsubscribe') {
        deps.hub.unfollow(client, shareId);
        return send({ type: 'unsubscribed', share_id: shareId });
      }
      if (!mayRead(shares, shareId)) return error('SHARE_FORBIDDEN', `this token may not read share ${shareId}`, { share_id: shareId });
      if (client.follows !== 'all' && client.follows.length >= MAX_SUBSCRIPTIONS && !client.follows.includes(shareId)) {
        return error('SUBSCRIPTIONS_EXCEEDED', `at most ${MAX_SUBSCRIPTIONS} shares per socket`, { share_id: shareId });
      }
      deps.hub.follow(client, shareId);
      send({ type: 'subscribed', share_id: shareId });
    });
  });
}
