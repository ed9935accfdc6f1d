// build(opts) assembles the HTTP edge from encapsulated plugins; listening is the caller's job,
// so tests drive it with app.inject(). One error handler maps the error catalogue to responses.
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Authenticator } from '../infra/auth/jwt.ts';
import type { Config } from '../infra/config.ts';
import { AuditflowError, isAuditflowError } from '../infra/errors.ts';
import type { LogProducer } from '../infra/log/log.ts';
import type { Metrics } from '../infra/metrics.ts';
import type { Store } from '../infra/store/store.ts';
import { jsonCodec, type MessageCodec } from '../schemas/message-codec.ts';
import { ingestRoutes } from '../ingest/ingest-routes.ts';
import { HighWater } from './query/high-water.ts';
import { readApi } from './read-api.ts';
import type { SelfAudit } from './self-audit.ts';
import { serviceSurface } from './service/service-surface.ts';
import type { WriteSignal } from '../processors/write-signal.ts';

export interface AppDeps {
  config: Config;
  /** Required unless `service.probesOnly`. */
  auth?: Authenticator | undefined;
  /** Present on roles that ingest (with the codec for what they write to the log). */
  producer?: LogProducer | undefined;
  codec?: MessageCodec | undefined;
  /** Present on roles that serve reads, with the recorder of those reads. */
  store?: Store | undefined;
  selfAudit?: SelfAudit | undefined;
  /** What the store sink wrote, when it runs in this process (embedded). */
  signal?: WriteSignal | undefined;
  /** A pino logger; none: silent (tests). */
  logger?: FastifyBaseLogger | undefined;
  /**
   * The service surface (./service/): the process's metrics (none: the app's own registry), what
   * /readyz checks when it differs from `store`/`producer` above, and the processor role's app
   * (probesOnly: /healthz, /readyz, /metrics and nothing else).
   */
  service?: { metrics?: Metrics | undefined; store?: Store | undefined; producer?: LogProducer | undefined; probesOnly?: boolean | undefined } | undefined;
}

/** Fastify's own error codes → ours, so every error body has the same shape. */
const FASTIFY_CODES: Record<string, AuditflowError['code']> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BODY_MALFORMED',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BODY_MALFORMED',
  FST_ERR_VALIDATION: 'QUERY_INVALID',
};

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: deps.config.ingest.maxBodyBytes,
    disableRequestLogging: true,
    return503OnClosing: true,
  });

  app.setErrorHandler((err: FastifyError | AuditflowError, req, reply) => {
    let e: AuditflowError;
    if (isAuditflowError(err)) e = err;
    else if (err.code && FASTIFY_CODES[err.code]) e = new AuditflowError(FASTIFY_CODES[err.code]!, err.message);
    else {
      req.log.error({ err }, 'unhandled error');
      e = new AuditflowError('INTERNAL', 'internal error');
    }
    if (e.status >= 500) req.log.error({ err: e, code: e.code }, e.message);
    if (e.retriable && !reply.hasHeader('retry-after')) void reply.header('retry-after', '1'); // the rate limiter sets its own
    return reply.code(e.status).send(e.toBody());
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(new AuditflowError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`).toBody()));

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
  }
  return app;
}
