// The HTTP side of the metrics (infra/metrics.ts): every response counted and timed by its route
// pattern — never the raw URL, whose ids and cursors would make one time series per request —
// and GET /metrics in Prometheus' text format, without a token (scrapers run inside the network;
// put it behind the same network policy as /readyz).
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../infra/metrics.ts';
import { NO_TOKEN } from './openapi.ts';

/** The label of requests that matched no route (404s: any URL, one series). */
const UNMATCHED = 'unmatched';

export function observeHttp(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? UNMATCHED;
    metrics.httpRequests.inc({ method: req.method, route, status_code: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });
}

export async function metricsRoute(app: FastifyInstance, metrics: Metrics): Promise<void> {
  app.get('/metrics', {
    schema: {
      summary: 'Prometheus metrics (text exposition format)', tags: ['service'], security: NO_TOKEN,
      response: { 200: { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  }, async (_req, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}
