// Probes, without a token: GET /healthz (alive: answers without any I/O, so a stuck store never
// gets a healthy process restarted) and GET /readyz (able to serve: the store answers, the log
// answers, every migration is applied), for load balancers and orchestrators.
import type { FastifyInstance } from 'fastify';
import { AuditflowError, type ErrorDetail } from '../../infra/errors.ts';
import { withTimeout } from '../../infra/metrics.ts';
import type { LogProducer } from '../../infra/log/log.ts';
import { loadMigrations } from '../../infra/store/migrations.ts';
import type { Store } from '../../infra/store/store.ts';
import { errorResponses, NO_TOKEN } from './openapi.ts';

export interface ReadinessDeps {
  /** Absent on the ingest role (it has no store): the store and migration checks are left out. */
  store?: Store | undefined;
  /** Every role writes to the log (events, dead letters, self-audit records). */
  producer?: LogProducer | undefined;
  /** The topic whose partition count proves the log answers. */
  auditTopic: string;
  /** How long each check may take (a busy chDB runs one call at a time: an insert may be ahead). */
  timeoutMs?: number;
}

type Check = 'store' | 'log' | 'migrations';

const checkSchema = { type: 'string', enum: ['ok'] } as const;

export async function healthRoutes(app: FastifyInstance, deps: ReadinessDeps): Promise<void> {
  const timeoutMs = deps.timeoutMs ?? 2000;
  const expected = loadMigrations().map((m) => m.version);
  // Applied migrations are never un-applied: once all are seen, later probes skip the query.
  let migrationsSeen = false;

  const checks: [Check, () => Promise<void>][] = [];
  const { store, producer } = deps;
  if (store) {
    checks.push(['store', async () => { await store.query('SELECT 1 AS ok'); }]);
    checks.push(['migrations', async () => {
      if (migrationsSeen) return;
      const rows = await store.query<{ version: number | string }>('SELECT DISTINCT version FROM schema_migrations');
      const have = new Set(rows.map((r) => Number(r.version)));
      const missing = expected.filter((v) => !have.has(v));
      if (missing.length > 0) throw new Error(`not applied: ${missing.join(', ')}`);
      migrationsSeen = true;
    }]);
  }
  if (producer) checks.push(['log', async () => { await producer.partitionCount(deps.auditTopic); }]);

  app.get('/healthz', {
    schema: {
      summary: 'Liveness: the process answers (no I/O)', tags: ['service'], security: NO_TOKEN,
      response: { 200: { description: 'Alive', type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } } },
    },
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: {
      summary: 'Readiness: store and log reachable, migrations applied', tags: ['service'], security: NO_TOKEN,
      description: 'Each check has a short timeout. A role without a store (ingest) reports only `log`. 503 names what failed in `details`.',
      response: {
        200: {
          description: 'Ready', type: 'object', required: ['status', 'checks'],
          properties: {
            status: { type: 'string', enum: ['ready'] },
            checks: { type: 'object', properties: { store: checkSchema, log: checkSchema, migrations: checkSchema } },
          },
        },
        ...errorResponses(503),
      },
    },
  }, async () => {
    const results = await Promise.all(checks.map(async ([name, run]) => {
      try {
        await withTimeout(run(), timeoutMs, name);
        return { name, error: null };
      } catch (e) {
        return { name, error: e instanceof Error ? e.message : String(e) };
      }
    }));
    const failed: ErrorDetail[] = results.filter((r) => r.error !== null).map((r) => ({ path: r.name, message: r.error! }));
    if (failed.length > 0) throw new AuditflowError('NOT_READY', `not ready: ${failed.map((f) => f.path).join(', ')}`, { details: failed });
    return { status: 'ready', checks: Object.fromEntries(results.map((r) => [r.name, 'ok'])) };
  });
}
