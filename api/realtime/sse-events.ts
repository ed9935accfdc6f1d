// GET /api/events — the SSE stream of sse-events-stream.txt: every stored audit event in the
// token's admin reach as it becomes readable, `: heartbeat` comments, the documented headers
// and 401 body. Beyond the document: each event has an `id:` (a stream position,
// ./stream-position.ts) and a client reconnecting with Last-Event-ID gets everything after it,
// from the store, before the live tail (./sse-stream.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticator, Principal } from '../../infra/auth/jwt.ts';
import type { Config } from '../../infra/config.ts';
import { AuditflowError, isAuditflowError } from '../../infra/errors.ts';
import type { Store } from '../../infra/store/store.ts';
import { StoreTenantDirectory } from '../admin-audit/tenant-directory.ts';
import { bearerToken } from '../auth-plugin.ts';
import { QueryReader } from '../query/query-params.ts';
import { adminScope, type TenantScope } from '../query/tenant-scope.ts';
import type { SelfAudit } from '../self-audit.ts';
import { errorResponses } from '../service/openapi.ts';
import type { ReadableFeed } from './readable-feed.ts';
import { admits, frameText, positionAfter, SseStream, type SseStats } from './sse-stream.ts';
import { decodePosition, encodePosition } from './stream-position.ts';

export interface SseDeps {
  config: Config;
  auth: Authenticator;
  store: Store;
  feed: ReadableFeed;
  selfAudit: SelfAudit;
  /** The process's SSE figures (metrics). */
  sseStats: SseStats;
}

const SCHEMA = {
  summary: 'Server-Sent Events: audit events as they become readable',
  description: 'Token in `Authorization: Bearer` or `?token=`, scope `audit:admin` (tenant, partner or platform reach as in the admin audit API). '
    + 'Unnamed SSE messages `data: {"type","data"}` with `type` `audit_log_created` or `internal_audit_log_created` (`?events=named` adds `event: <type>` lines), '
    + 'a first `connected` message, `: heartbeat` comments every 30 s. Every message has an `id:`; reconnect with `Last-Event-ID` (or `?last_event_id=`) to receive everything after it.',
  tags: ['realtime'],
  querystring: {
    type: 'object',
    properties: {
      token: { type: 'string' }, tenant_id: { type: 'string' }, partner_id: { type: 'string' },
      last_event_id: { type: 'string' }, events: { type: 'string', enum: ['unnamed', 'named'] },
    },
  },
  response: {
    200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
    ...errorResponses(400, 401, 403),
  },
} as const;

export async function sseEventsRoutes(app: FastifyInstance, deps: SseDeps): Promise<void> {
  const directory = new StoreTenantDirectory(deps.store);
  const streams = new Map<SseStream, { scope: TenantScope; named: boolean }>();

  // One listener for every stream: a frame's text is built once per row (and form) and shared.
  const unsubscribe = deps.feed.on('audit_events', (rows, before) => {
    if (streams.size === 0) return;
    for (const row of rows) {
      let id: string | undefined;
      const text: [string | undefined, string | undefined] = [undefined, undefined];
      const after = () => positionAfter(before, row);
      for (const [s, o] of streams) {
        if (!s.live || !admits(o.scope, row)) continue;
        id ??= encodePosition(after());
        const i = o.named ? 1 : 0;
        s.send((text[i] ??= frameText(id, row, o.named)), after);
      }
    }
  });
  app.addHook('preClose', async () => {
    unsubscribe();
    for (const s of [...streams.keys()]) s.close('shutdown');
  });

  app.get('/api/events', { schema: SCHEMA }, async (req, reply) => {
    const principal = await adminPrincipal(deps.auth, req);
    req.principal = principal;
    const q = new QueryReader(req.query as Record<string, unknown>);
    q.string('token', 8192);
    const tenantId = q.string('tenant_id', 128);
    const partnerId = q.string('partner_id', 128);
    const lastEventQuery = q.string('last_event_id', 4096);
    const events = q.string('events', 16);
    if (events !== undefined && events !== 'named' && events !== 'unnamed') q.fail('events', 'must be named or unnamed', 'literal_error');
    q.done();
    const scope = await adminScope(principal, { tenantId, partnerId }, directory);
    const header = req.headers['last-event-id'];
    const lastEventId = typeof header === 'string' && header !== '' ? header : lastEventQuery;
    const start = lastEventId === undefined ? undefined : decodePosition(lastEventId);

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      // Proxies that buffer responses (nginx) would hold the frames back.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    const stream = new SseStream({
      res, store: deps.store, scope, named: events === 'named',
      heartbeatMs: deps.config.realtime.sseHeartbeatMs, sendBufferBytes: deps.config.realtime.sendBufferBytes,
      expiresAt: principal.expiresAt, feedPosition: () => deps.feed.position(),
      stats: deps.sseStats,
      onClose: () => {
        streams.delete(stream);
        deps.sseStats.open = streams.size;
      },
    });
    streams.set(stream, { scope, named: events === 'named' });
    deps.sseStats.open = streams.size;
    deps.selfAudit.record(req, {
      resource: 'realtime.events', eventType: 'audit.stream', action: 'subscribe', rows: 0,
      filters: { tenant_id: tenantId, partner_id: partnerId, last_event_id: lastEventId },
    });
    try {
      await stream.run(start);
    } catch (e) {
      // Headers are sent: the stream can only end. The client reconnects with its Last-Event-ID.
      req.log.warn({ err: e }, 'SSE replay failed; stream closed');
      stream.close('failed');
    }
  });
}

/**
 * The token from the header or `?token=`, verified, with audit:admin. Every failure is the
 * document's one 401 body — a missing, invalid or expired token and a token without the scope
 * alike ("Admin authentication required").
 */
async function adminPrincipal(auth: Authenticator, req: FastifyRequest): Promise<Principal> {
  const refused = () => new AuditflowError('ADMIN_AUTH_REQUIRED', 'Admin authentication required');
  const token = bearerToken(req, true);
  if (!token) throw refused();
  let p: Principal;
  try {
    p = await auth.verify(token);
  } catch (e) {
    if (isAuditflowError(e) && e.status === 401) throw refused();
    throw e;
  }
  if (!p.scopes.has('audit:admin')) throw refused();
  return p;
}
