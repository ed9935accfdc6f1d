// build(opts) assembles the HTTP edge from encapsulated plugins; listening is the caller's job,
// so tests drive it with app.inject(). Every error body is the catalogue's (./error-bodies.ts).
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Authenticator } from '../infra/auth/jwt.ts';
import type { Config } from '../infra/config.ts';
import { AuditflowError } from '../infra/errors.ts';
import type { LogProducer } from '../infra/log/log.ts';
import type { Metrics } from '../infra/metrics.ts';
import type { Store } from '../infra/store/store.ts';
import { jsonCodec, type MessageCodec } from '../schemas/message-codec.ts';
import { ingestRoutes } from '../ingest/ingest-routes.ts';
import { dashboardRoutes } from './dashboard/dashboard-routes.ts';
import { errorBodyOptions, installErrorBodies } from './error-bodies.ts';
import { HighWater } from './query/high-water.ts';
import { readApi } from './read-api.ts';
import { exportApi } from './exports/export-api.ts';
import { siemApi, type SiemApiDeps } from './siem/siem-api.ts';
import type { ExportSigningKey } from '../infra/export-keys.ts';
import { openObjectStore } from '../infra/objectstore/object-store.ts';
import type { SecretsProvider } from '../infra/secrets/secrets-provider.ts';
import type { AuditEvent } from '../schemas/event-model.ts';
import type { EdgeNotices } from './realtime/edge-notices.ts';
import type { ReadableFeed } from './realtime/readable-feed.ts';
import { realtimeApi } from './realtime/realtime-api.ts';
import { SocketHub } from './realtime/socket-hub.ts';
import type { SelfAudit } from './self-audit.ts';
import { serviceSurface } from './service/service-surface.ts';
import { scaikeyWebhookRoutes, type ScaiKeyWebhookWiring } from './webhooks/scaikey-webhook.ts';
import type { WriteSignal } from '../processors/write-signal.ts';

export interface AppDeps {
  config: Config;
  /** Required unless `service.probesOnly`. */
  auth?: Authenticator | undefined;
  /** Present on roles that ingest (with the codec for what they write to the log). */
  producer?: LogProducer | undefined;
  codec?: MessageCodec | undefined;
  /** ScaiKey's inbound webhooks (./webhooks/), on roles with a store: the log for their audit events, the realtime edge's hook. */
  webhooks?: ScaiKeyWebhookWiring | undefined;
  /** Present on roles that serve reads, with the recorder of those reads. */
  store?: Store | undefined;
  selfAudit?: SelfAudit | undefined;
  /** What the store sink wrote, when it runs in this process (embedded). */
  signal?: WriteSignal | undefined;
  /** The export family (./exports/): credentials, the manifest key, how its audit events reach the log. */
  exports?: { secrets: SecretsProvider; signingKey(): Promise<ExportSigningKey>; appendAudit(e: AuditEvent): Promise<void>; onQueued?: (() => void) | undefined } | undefined;
  /** The SIEM destinations family (./siem/): how its audit events reach the log, the sender for test sends and redrives. */
  siem?: Pick<SiemApiDeps, 'appendAudit' | 'senderFor' | 'onChanged' | 'sendTimeoutMs' | 'maxDestinations'> | undefined;
  /** The realtime edge's sources (SSE, WebSockets): what became readable, and the edge's notices. */
  realtime?: { feed: ReadableFeed; notices: EdgeNotices } | undefined;
  /** A pino logger; none: silent (tests). */
  logger?: FastifyBaseLogger | undefined;
  /**
   * The service surface (./service/): the process's metrics (none: the app's own registry), what
   * /readyz checks when it differs from `store`/`producer` above, and the processor role's app
   * (probesOnly: /healthz, /readyz, /metrics and nothing else).
   */
  service?: { metrics?: Metrics | undefined; store?: Store | undefined; producer?: LogProducer | undefined; probesOnly?: boolean | undefined } | undefined;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: deps.config.ingest.maxBodyBytes,
    disableRequestLogging: true,
    ...errorBodyOptions(deps.logger),
  });
  installErrorBodies(app);

  const svc = deps.service;
  const metrics = await serviceSurface(app, {
    config: deps.config, metrics: svc?.metrics, probesOnly: svc?.probesOnly,
    store: svc?.store ?? deps.store, producer: svc?.producer ?? deps.producer,
  });
  if (svc?.probesOnly) return app;
  const auth = deps.auth;
  if (!auth) throw new AuditflowError('INTERNAL', 'an app that serves the API authenticates: auth is required');
  if (deps.producer) {
    const producer = deps.producer;
    const codec = deps.codec ?? jsonCodec();
    await app.register(async (scope) => ingestRoutes(scope, { config: deps.config, auth, producer, codec, onAccepted: (kind, n) => metrics.ingested(kind, n) }));
  }
  if (deps.store) {
    const store = deps.store;
    const selfAudit = deps.selfAudit;
    if (!selfAudit) throw new AuditflowError('INTERNAL', 'a role that serves reads records them: selfAudit is required');
    const highWater = new HighWater(store, deps.signal);
    await app.register(async (scope) => readApi(scope, { config: deps.config, auth, store, selfAudit, highWater }));
    const ex = deps.exports;
    if (ex) {
      const checkCredentials = async (d: Parameters<typeof openObjectStore>[0]) => {
        // Opening reads and checks the credentials without a network call: a bad one is a 400 now, not a failed job later.
        await (await openObjectStore(d, { secrets: ex.secrets, dataDir: deps.config.dataDir })).close();
      };
      await app.register(async (scope) => exportApi(scope, { auth, store, highWater, checkCredentials, appendAudit: ex.appendAudit, onQueued: ex.onQueued, signingKey: ex.signingKey }));
    }
    const siem = deps.siem;
    if (siem) await app.register(async (scope) => siemApi(scope, { ...siem, auth, store, highWater, selfAudit }));
    const rt = deps.realtime;
    if (rt) {
      const hub = new SocketHub({ heartbeatMs: deps.config.realtime.wsHeartbeatMs, sendBufferBytes: deps.config.realtime.sendBufferBytes });
      const sseStats = { open: 0, delivered: 0, replayed: 0, lagged: 0 };
      app.decorate('socketHub', hub);
      metrics.watchRealtime({ sockets: () => hub.counts(), sse: sseStats, hub: hub.stats, feed: rt.feed.stats });
      await app.register(async (scope) => realtimeApi(scope, { config: deps.config, auth, store, selfAudit, feed: rt.feed, notices: rt.notices, hub, sseStats }));
    }
    // The dashboard page and assets: public (outside readApi's token hook); its data calls carry the token.
    await app.register(dashboardRoutes);
  }
  // Behind no token hook: ScaiKey signs each delivery instead.
  if (deps.store && deps.webhooks) {
    const store = deps.store;
    const wh = deps.webhooks;
    await app.register(async (scope) => scaikeyWebhookRoutes(scope, { ...wh, config: deps.config, store, codec: deps.codec ?? jsonCodec() }));
  }
  return app;
}
