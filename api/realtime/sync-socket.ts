// /api/v1/sync/ws/{device_id} — per-device sync nudges. The socket follows every share the token
// may read (implicitly, as documented); a change nudge is the ChangeLog entry, and the client
// still pulls GET /api/v1/sync/changes: the socket is not the source of truth.
// Client → server: {"type":"ping"} → {"event_type":"pong"}; {"type":"subscribe"} →
// {"event_type":"subscribed","shares":…} (the implicit subscription, confirmed). Anything else:
// {"event_type":"error","code":"MESSAGE_INVALID",…}; the socket stays open.
import type { FastifyInstance } from 'fastify';
// The route option `websocket: true` and the handler's (socket, request) signature.
import type {} from '@fastify/websocket';
import type { WebSocket } from 'ws';
import type { Authenticator } from '../../infra/auth/jwt.ts';
import type { SelfAudit } from '../self-audit.ts';
import { readableShares } from '../sync/share-access.ts';
import { parseClientMessage, socketAuth, SOCKET_QUERY } from './socket-auth.ts';
import type { SocketHub } from './socket-hub.ts';

const DEVICE_ID = /^[A-Za-z0-9_.:\-]{1,128}$/;

export async function syncSocketRoutes(app: FastifyInstance, deps: { auth: Authenticator; hub: SocketHub; selfAudit: SelfAudit }): Promise<void> {
  app.get<{ Params: { device_id: string } }>('/api/v1/sync/ws/:device_id', {
    websocket: true,
    preValidation: socketAuth(deps.auth),
    schema: { summary: 'Sync WebSocket: change nudges for every share the token may read', tags: ['realtime'], params: { type: 'object', properties: { device_id: { type: 'string' } } }, querystring: SOCKET_QUERY },
  }, (socket: WebSocket, req) => {
    const deviceId = req.params.device_id;
    if (!DEVICE_ID.test(deviceId)) {
      socket.close(4400, 'invalid device_id');
      return;
    }
    const shares = readableShares(req.principal);
    const client = deps.hub.add(socket, 'sync', req.principal, shares, deviceId);
    deps.selfAudit.record(req, { resource: 'realtime.sync_ws', eventType: 'audit.stream', action: 'subscribe', rows: 0, filters: { device_id: deviceId } });
    socket.on('message', (data, isBinary) => {
      const m = parseClientMessage(data, isBinary);
      if (m?.['type'] === 'ping') return deps.hub.send(client, '{"event_type":"pong"}');
      if (m?.['type'] === 'subscribe') return deps.hub.send(client, JSON.stringify({ event_type: 'subscribed', device_id: deviceId, shares }));
      deps.hub.send(client, JSON.stringify({ event_type: 'error', code: 'MESSAGE_INVALID', message: 'expected {"type":"ping"} or {"type":"subscribe"}' }));
    });
  });
}
