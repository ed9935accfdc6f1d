// What sends the sync socket's two non-change nudges (the document names them, not their cause;
// decided here, README "WebSockets"):
//  - force_sync: an admin asks every device syncing a share (or one device) to re-sync —
//    POST /api/v1/sync/force-sync {share_id, device_id?}, scope audit:admin, the token's tenant.
//  - sync_preference_updated: a device's per-share preferences are set —
//    PUT /api/v1/sync/devices/{device_id}/preferences/{share_id} with a JSON object, scope
//    drive:sync, for a share the token may read; read back with
//    GET /api/v1/sync/devices/{device_id}/preferences. Preferences belong to the token's user
//    (sub): the nudge goes to that user's sockets for that device.
// Both reach the sockets on every API node through the edge's notices (./edge-notices.ts), and
// both are recorded as admin actions by the self-audit.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import { AuditflowError, type ErrorDetail } from '../../infra/errors.ts';
import type { Store } from '../../infra/store/store.ts';
import { isoFromStore } from '../query/scoped-query.ts';
import type { SelfAudit } from '../self-audit.ts';
import { errorResponses } from '../service/openapi.ts';
import { mayRead, readableShares } from '../sync/share-access.ts';
import type { EdgeNotices } from './edge-notices.ts';
import type { SocketNotice } from './socket-fanout.ts';

const ID = /^[A-Za-z0-9_.:\-]{1,256}$/;
const MAX_PREFERENCES_BYTES = 16 * 1024;
const TAGS = ['realtime'];
const ID_PARAMS = { type: 'object', properties: { device_id: { type: 'string' }, share_id: { type: 'string' } } } as const;
const PREFERENCE = {
  type: 'object',
  properties: { share_id: { type: 'string' }, preferences: { type: 'object', additionalProperties: true }, updated_at: { type: 'string', format: 'date-time' } },
} as const;

function invalid(details: ErrorDetail[]): AuditflowError {
  return new AuditflowError('VALIDATION_FAILED', 'invalid request', { details });
}

function id(value: unknown, path: string, details: ErrorDetail[]): string {
  if (typeof value === 'string' && ID.test(value)) return value;
  details.push({ path, message: 'must be an id of 1 to 256 letters, digits or _.:-' });
  return '';
}

export async function syncControlRoutes(app: FastifyInstance, deps: { store: Store; notices: EdgeNotices; selfAudit: SelfAudit }): Promise<void> {
  const notify = (n: SocketNotice) => deps.notices.publish(n as unknown as Parameters<EdgeNotices['publish']>[0]);

  app.post('/api/v1/sync/force-sync', {
    schema: {
      summary: 'Ask devices syncing a share to re-sync (force_sync on their sync sockets)', tags: TAGS,
      body: { type: 'object', required: ['share_id'], properties: { share_id: { type: 'string' }, device_id: { type: 'string' } } },
      response: { 202: { type: 'object', properties: { share_id: { type: 'string' }, device_id: { type: 'string', nullable: true }, status: { type: 'string', enum: ['sent'] } } }, ...errorResponses(400, 403) },
    },
  }, async (req, reply) => {
    requireScope(req.principal, 'audit:admin');
    const body = objectBody(req);
    const details: ErrorDetail[] = [];
    const shareId = id(body['share_id'], '/share_id', details);
    const deviceId = body['device_id'] === undefined ? undefined : id(body['device_id'], '/device_id', details);
    for (const k of Object.keys(body)) if (k !== 'share_id' && k !== 'device_id') details.push({ path: `/${k}`, message: 'unknown field' });
    if (details.length > 0) throw invalid(details);
    await notify({ kind: 'force_sync', tenantId: req.principal.tenantId, shareId, deviceId });
    deps.selfAudit.record(req, { resource: 'sync.force_sync', eventType: 'admin.sync.force_sync', action: 'force_sync', rows: 0, filters: { share_id: shareId, device_id: deviceId } });
    return reply.code(202).send({ share_id: shareId, device_id: deviceId ?? null, status: 'sent' });
  });

  app.put<{ Params: { device_id: string; share_id: string } }>('/api/v1/sync/devices/:device_id/preferences/:share_id', {
    schema: {
      summary: "Set a device's preferences for a share (sync_preference_updated on its sync sockets)", tags: TAGS, params: ID_PARAMS,
      body: { type: 'object', additionalProperties: true },
      response: { 200: { ...PREFERENCE, properties: { ...PREFERENCE.properties, device_id: { type: 'string' } } }, ...errorResponses(400, 403) },
    },
  }, async (req) => {
    requireScope(req.principal, 'drive:sync');
    const p = req.principal;
    const details: ErrorDetail[] = [];
    const deviceId = id(req.params.device_id, 'device_id', details);
    const shareId = id(req.params.share_id, 'share_id', details);
    if (details.length > 0) throw invalid(details);
    if (!mayRead(readableShares(p), shareId)) throw new AuditflowError('SHARE_FORBIDDEN', `this token may not read share ${shareId}`);
    const preferences = objectBody(req);
    const text = JSON.stringify(preferences);
    if (Buffer.byteLength(text) > MAX_PREFERENCES_BYTES) throw invalid([{ path: '', message: `preferences are at most ${MAX_PREFERENCES_BYTES} bytes of JSON` }]);
    const updatedAt = new Date().toISOString();
    const row = { tenant_id: p.tenantId, user_id: p.subject, device_id: deviceId, share_id: shareId, preferences: text, updated_at: updatedAt };
    await deps.store.insertJsonEachRow('sync_preferences', Buffer.from(`${JSON.stringify(row)}\n`));
    await notify({ kind: 'sync_preference_updated', tenantId: p.tenantId, userId: p.subject, shareId, deviceId });
    deps.selfAudit.record(req, { resource: 'sync.preferences', eventType: 'admin.sync.preferences_updated', action: 'update', rows: 1, filters: { device_id: deviceId, share_id: shareId } });
    return { device_id: deviceId, share_id: shareId, preferences, updated_at: updatedAt };
  });

  app.get<{ Params: { device_id: string } }>('/api/v1/sync/devices/:device_id/preferences', {
    schema: {
      summary: "A device's preferences, per share the token may read", tags: TAGS, params: ID_PARAMS,
      response: { 200: { type: 'object', properties: { device_id: { type: 'string' }, preferences: { type: 'array', items: PREFERENCE } } }, ...errorResponses(400, 403) },
    },
  }, async (req) => {
    requireScope(req.principal, 'drive:sync');
    const p = req.principal;
    const details: ErrorDetail[] = [];
    const deviceId = id(req.params.device_id, 'device_id', details);
    if (details.length > 0) throw invalid(details);
    const rows = await deps.store.query<{ share_id: string; prefs: string; updated: string }>(
      `SELECT share_id, argMax(preferences, updated_at) AS prefs, max(updated_at) AS updated FROM sync_preferences
       WHERE tenant_id = {tenant:String} AND user_id = {user:String} AND device_id = {device:String}
       GROUP BY share_id ORDER BY share_id`,
      { tenant: p.tenantId, user: p.subject, device: deviceId },
    );
    const shares = readableShares(p);
    // A share the token no longer reads keeps its stored preferences but is not shown.
    const visible = rows.filter((r) => mayRead(shares, r.share_id));
    deps.selfAudit.record(req, { resource: 'sync.preferences', rows: visible.length, filters: { device_id: deviceId } });
    return {
      device_id: deviceId,
      preferences: visible.map((r) => ({ share_id: r.share_id, preferences: JSON.parse(r.prefs) as unknown, updated_at: isoFromStore(r.updated) })),
    };
  });
}

function objectBody(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw invalid([{ path: '', message: 'the body must be a JSON object' }]);
  return b as Record<string, unknown>;
}
