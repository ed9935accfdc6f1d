// The realtime edge over one harness store (./read-api-harness.ts), listening on a loopback
// port so real clients (eventsource, ws, Python websockets, a browser) can connect: the app with
// a ReadableFeed following the store's signal, as the embedded deployment wires it.
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app.ts';
import { EdgeNotices } from '../../api/realtime/edge-notices.ts';
import { ReadableFeed } from '../../api/realtime/readable-feed.ts';
import { createAuthenticator, issueToken } from '../../infra/auth/jwt.ts';
import { parseConfig } from '../../infra/config.ts';
import { RecordedReads, type HarnessStore } from './read-api-harness.ts';

export interface RealtimeApp {
  app: FastifyInstance;
  url: string;
  feed: ReadableFeed;
  notices: EdgeNotices;
  reads: RecordedReads;
  token(tenant: string, scope: string, extra?: Record<string, unknown>, ttlSeconds?: number): Promise<string>;
  close(): Promise<void>;
}

export async function realtimeApp(h: HarnessStore, env: Record<string, string> = {}): Promise<RealtimeApp> {
  const secret = randomBytes(32).toString('hex');
  const config = parseConfig({ AUTH_JWT_SECRET: secret, DATA_DIR: tmpdir(), RATE_LIMIT_MAX: '0', ...env }, 'all');
  const reads = new RecordedReads();
  const feed = new ReadableFeed(h.signal, h.store, { warn: () => undefined });
  await feed.start();
  const notices = new EdgeNotices();
  const app = await buildApp({ config, auth: createAuthenticator({ jwtSecret: secret }), store: h.store, selfAudit: reads, signal: h.signal, realtime: { feed, notices } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    app, url: `http://127.0.0.1:${port}`, feed, notices, reads,
    token: (tenant, scope, extra = {}, ttl) => issueToken(secret, { sub: 'usr_test', tid: tenant, scope, ...extra }, ttl),
    close: async () => {
      feed.close();
      await app.close();
    },
  };
}
