// The read APIs: every documented family, each a projection of the same stored events, each in
// its own module, all behind one authentication hook and sharing one set of read dependencies.
// A family is registered here and nowhere else.
import type { FastifyInstance } from 'fastify';
import type { Authenticator } from '../infra/auth/jwt.ts';
import type { Config } from '../infra/config.ts';
import type { Store } from '../infra/store/store.ts';
import { adminAuditRoutes } from './admin-audit/admin-audit-routes.ts';
import { authenticate } from './auth-plugin.ts';
import { egnyteRoutes } from './egnyte/events-routes.ts';
import type { HighWater } from './query/high-water.ts';
import { auditLogRoutes } from './scaivault/audit-logs.ts';
import { auditSummaryRoutes } from './scaivault/summary.ts';
import { auditTrailRoutes } from './scaivault/trails.ts';
import type { SelfAudit } from './self-audit.ts';
import { syncChangesRoutes } from './sync/sync-changes.ts';

export interface ReadApiDeps {
  config: Config;
  store: Store;
  /** Records every read of audit data (./self-audit.ts). */
  selfAudit: SelfAudit;
  /** Per-tenant highest readable seq, from memory (./query/high-water.ts). */
  highWater: HighWater;
}

export async function readApi(app: FastifyInstance, deps: ReadApiDeps & { auth: Authenticator }): Promise<void> {
  app.addHook('onRequest', authenticate(deps.auth));
  await app.register(async (scope) => auditLogRoutes(scope, deps));
  await app.register(async (scope) => { await auditTrailRoutes(scope, deps); await auditSummaryRoutes(scope, deps); });
  await app.register(async (scope) => adminAuditRoutes(scope, deps));
  await app.register(async (scope) => egnyteRoutes(scope, deps));
  await app.register(async (scope) => syncChangesRoutes(scope, deps));
}
