// The service surface of the HTTP edge, registered by buildApp before any API route. The order is
// the point: the route collector and @fastify/swagger first (both learn routes in `onRoute`, so
// they see only what registers after them); then what needs no token and is never limited
// (probes, /metrics, /openapi.json, /docs); the rate limiter last, so it covers every API route
// registered after it and nothing before.
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../infra/config.ts';
import { Metrics } from '../../infra/metrics.ts';
import { healthRoutes, type ReadinessDeps } from './health-routes.ts';
import { metricsRoute, observeHttp } from './metrics.ts';
import { collectRoutes, documentationOnly, registerOpenApi } from './openapi.ts';
import { registerRateLimit } from './rate-limit.ts';

export interface ServiceSurfaceDeps extends Omit<ReadinessDeps, 'auditTopic'> {
  config: Config;
  /** The process's registry (infra/system.ts); none: one of the app's own. */
  metrics?: Metrics | undefined;
  /** Probes and /metrics only (the processor role): no docs, no limiter, no API routes follow. */
  probesOnly?: boolean | undefined;
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function serviceSurface(app: FastifyInstance, deps: ServiceSurfaceDeps): Promise<Metrics> {
  // An app of its own (tests): no process metrics, whose collectors would pile up per app.
  const metrics = deps.metrics ?? new Metrics(undefined, { processMetrics: false });
  documentationOnly(app);
  collectRoutes(app);
  if (!deps.probesOnly) await registerOpenApi(app, { version: VERSION });
  observeHttp(app, metrics);
  await healthRoutes(app, { store: deps.store, producer: deps.producer, auditTopic: deps.config.kafka.topics.auditEvents, timeoutMs: deps.timeoutMs });
  await metricsRoute(app, metrics);
  if (!deps.probesOnly) await registerRateLimit(app, deps.config.rateLimit);
  return metrics;
}
