// Per-token rate limiting (@fastify/rate-limit): RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_MS
// for each principal (tenant + sub), or for each client IP where a route needs no token. 429
// carries `Retry-After` and the draft-ietf-httpapi-ratelimit-headers fields (`RateLimit-Limit`,
// `RateLimit-Remaining`, `RateLimit-Reset`, also on every limited route's successful responses),
// and the catalogue's body (RATE_LIMITED, retriable).
//
// It runs in `preParsing`: after the routes' `onRequest` authentication, so the key is the
// verified principal, not whatever a caller claims, and before the body is read, so a limited
// ingest request is refused without reading (and gunzipping) up to INGEST_MAX_BODY_BYTES. It applies to the routes registered after it
// (the plugin adds its hook in `onRoute`): the service surface registers the probes, /metrics
// and the docs before it, so those are never limited.
// NOTE: counters are per process (an in-memory LRU of RATE_LIMIT_KEYS principals): with N API
// nodes behind a balancer a token gets up to N × the limit.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../infra/config.ts';
import { AuditflowError } from '../../infra/errors.ts';

/** Principals (or IPs) tracked at once; past this the least recently seen are forgotten. */
const RATE_LIMIT_KEYS = 100_000;

/** The key a request is counted under. */
export function rateLimitKey(req: FastifyRequest): string {
  // `principal` is set by the authentication hook; a route without a token has none.
  const p = (req as Partial<FastifyRequest>).principal;
  return p ? `p:${p.tenantId}\u0000${p.subject}` : `ip:${req.ip}`;
}

/** Registers the limiter for every route registered after this call (none when max is 0). */
export async function registerRateLimit(app: FastifyInstance, config: Config['rateLimit']): Promise<void> {
  if (config.max === 0) return;
  await app.register(rateLimit, {
    global: true,
    hook: 'preParsing',
    max: config.max,
    timeWindow: config.windowMs,
    cache: RATE_LIMIT_KEYS,
    enableDraftSpec: true,
    keyGenerator: rateLimitKey,
    // Thrown by the plugin and answered by the app's error handler, like every other error.
    errorResponseBuilder: (_req, ctx) => new AuditflowError('RATE_LIMITED', `rate limit exceeded: ${ctx.max} requests per ${config.windowMs} ms; retry in ${ctx.after}`),
  });
}
