// The real app (buildApp) as the edge runs it, over the embedded log in a temporary directory and
// no store: for tests of what the HTTP edge answers and what it lets into the log.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app.ts';
import { createAuthenticator, issueToken } from '../../infra/auth/jwt.ts';
import { parseConfig, type Config } from '../../infra/config.ts';
import { EmbeddedLog, EmbeddedLogConsumer, EmbeddedLogProducer } from '../../infra/log/embedded-log.ts';
import type { LogMessage } from '../../infra/log/log.ts';
import { ID_HEADER } from '../../schemas/log-headers.ts';

/** A valid audit event (canonical form) with a fresh id. */
export const auditEvent = () => ({
  id: `aud_${randomBytes(6).toString('hex')}`, event_type: 'file.read', category: 'file_access', action: 'read',
  event_time: '2026-04-01T00:00:00.000Z', actor: { id: 'usr_1', type: 'user' }, resource: { type: 'file', id: 'fil_1', path: '/a.txt' },
});

export interface EdgeApp {
  app: FastifyInstance;
  config: Config;
  tenant: string;
  /** An HS256 token for `tenant` the app accepts. */
  token(scope: string): Promise<string>;
  /** The ids of every event in the log, read until `sentinelId` shows up (send it last). */
  loggedIds(sentinelId: string): Promise<string[]>;
  close(): Promise<void>;
}

/** `extend` adds routes or scopes (test-only) before the app is made ready. */
export async function edgeApp(extend: (app: FastifyInstance) => void = () => undefined): Promise<EdgeApp> {
  const dir = mkdtempSync(path.join(tmpdir(), 'af-edge-'));
  const secret = randomBytes(32).toString('hex');
  const config = parseConfig({ AUTH_JWT_SECRET: secret, DATA_DIR: dir }, 'all');
  const log = new EmbeddedLog({ dir: path.join(dir, 'log'), partitions: 1, segmentBytes: 8 * 1024 * 1024 });
  const app = await buildApp({ config, auth: createAuthenticator({ jwtSecret: secret }), producer: new EmbeddedLogProducer(log) });
  extend(app);
  await app.ready();
  const tenant = `tnt_edge_${randomBytes(4).toString('hex')}`;
  return {
    app,
    config,
    tenant,
    token: (scope) => issueToken(secret, { sub: 'usr_edge', tid: tenant, scope }),
    async loggedIds(sentinelId) {
      const got: LogMessage[] = [];
      const consumer = new EmbeddedLogConsumer(log, { group: `g_${randomBytes(4).toString('hex')}`, topics: [config.kafka.topics.auditEvents, config.kafka.topics.changes] });
      await consumer.run({
        onAssign: async () => undefined,
        onBatch: async (b) => { got.push(...b.messages); },
        onRevoke: async () => undefined,
        onTick: async () => undefined,
      });
      const deadline = Date.now() + 10_000;
      const ids = () => got.map((m) => m.headers[ID_HEADER] ?? '');
      while (!ids().includes(sentinelId)) {
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await consumer.stop();
      return ids();
    },
    async close() {
      await app.close();
      log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
