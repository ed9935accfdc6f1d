// The realtime edge: streams of what the store sink made readable (the ReadableFeed), each
// family in its own module and registered here. Not behind the read APIs' authentication hook:
// the SSE document has its own 401 body, and the WebSockets authenticate the upgrade.
import type { FastifyInstance } from 'fastify';
import type { Authenticator } from '../../infra/auth/jwt.ts';
import type { Config } from '../../infra/config.ts';
import type { Store } from '../../infra/store/store.ts';
import type { SelfAudit } from '../self-audit.ts';
import type { EdgeNotices } from './edge-notices.ts';
import type { ReadableFeed } from './readable-feed.ts';
import { sseEventsRoutes } from './sse-events.ts';

export interface RealtimeDeps {
  config: Config;
  auth: Authenticator;
  store: Store;
  feed: ReadableFeed;
  notices: EdgeNotices;
  selfAudit: SelfAudit;
}

export async function realtimeApi(app: FastifyInstance, deps: RealtimeDeps): Promise<void> {
  await app.register(async (scope) => sseEventsRoutes(scope, deps));
}
