// The realtime edge: streams of what the store sink made readable (the ReadableFeed), each
// family in its own module and registered here. Not behind the read APIs' authentication hook:
// the SSE document has its own 401 body, and the WebSockets authenticate the upgrade.
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { Authenticator } from '../../infra/auth/jwt.ts';
import type { Config } from '../../infra/config.ts';
import type { Store } from '../../infra/store/store.ts';
import type { SelfAudit } from '../self-audit.ts';
import type { EdgeNotices } from './edge-notices.ts';
import type { ReadableFeed } from './readable-feed.ts';
import { authenticate } from '../auth-plugin.ts';
import { connectSockets } from './socket-fanout.ts';
import { CLOSE, type SocketHub } from './socket-hub.ts';
import { sseEventsRoutes } from './sse-events.ts';
import type { SseStats } from './sse-stream.ts';
import { syncControlRoutes } from './sync-control-routes.ts';
import { syncSocketRoutes } from './sync-socket.ts';
import { uiSocketRoutes } from './ui-socket.ts';

export interface RealtimeDeps {
  config: Config;
  auth: Authenticator;
  store: Store;
  feed: ReadableFeed;
  notices: EdgeNotices;
  selfAudit: SelfAudit;
  /** The process's open WebSockets and SSE figures (made by the app, which exposes them as metrics). */
  hub: SocketHub;
  sseStats: SseStats;
}

/** Largest client message: the protocol's messages are tiny JSON objects. */
const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

export async function realtimeApi(app: FastifyInstance, deps: RealtimeDeps): Promise<void> {
  await app.register(async (scope) => sseEventsRoutes(scope, deps));

  const hub = deps.hub;
  const disconnect = connectSockets(hub, deps.feed, deps.notices);
  // Before @fastify/websocket's own preClose: our sockets get 1001 "going away", not a bare close.
  app.addHook('preClose', async () => {
    disconnect();
    hub.closeAll(CLOSE.shutdown);
  });
  await app.register(websocket, { options: { maxPayload: MAX_CLIENT_MESSAGE_BYTES } });
  await app.register(async (scope) => {
    await syncSocketRoutes(scope, { auth: deps.auth, hub, selfAudit: deps.selfAudit });
    await uiSocketRoutes(scope, { auth: deps.auth, hub, selfAudit: deps.selfAudit });
  });
  await app.register(async (scope) => {
    scope.addHook('onRequest', authenticate(deps.auth));
    await syncControlRoutes(scope, deps);
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The realtime edge's open WebSockets (tests and metrics read its stats). */
    socketHub?: SocketHub;
  }
}
