// A ScaiKey webhook delivery (pure): the verified body's bytes → a checked delivery, and the
// delivery → the audit event that records it.
//
//   {"id": "<delivery id>", "type": "user.created", "created_at": "<RFC 3339>",
//    "data": {"id": "<the user's sub>", "email", "name", "tenant_id"[, "members": ["<user id>", …]]}}
//
// Fields we do not know are ignored, at the top and in `data`: a sender adding one must not turn
// every delivery into a 400 that ScaiKey retries forever. (Ingest refuses unknown fields; this is
// a feed we subscribe to, not a record someone writes.)
import { createHash } from 'node:crypto';
import { AuditflowError, type ErrorDetail } from '../../infra/errors.ts';
import { assertUtf8 } from '../../ingest/request-body.ts';
import type { AuditEvent } from '../../schemas/event-model.ts';
import { parseInstant } from '../../schemas/instant.ts';
import type { DirectoryChange } from './scaikey-directory.ts';

export const SCAIKEY_EVENT_TYPES = [
  'user.created', 'user.updated', 'user.deleted', 'group.created', 'group.updated', 'group.deleted',
] as const;
export type ScaiKeyEventType = (typeof SCAIKEY_EVENT_TYPES)[number];

/** Bounds on what one delivery may carry (a group of 100,000 members fits the body limit). */
export const LIMITS = { id: 256, email: 320, name: 1024, members: 100_000 } as const;
/** As ingest's tenant ids (schemas/json-schemas.ts): the audit event must be storable. */
const TENANT_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export interface ScaiKeyDelivery {
  /** The delivery id: the same on every retry of one delivery. */
  id: string;
  type: ScaiKeyEventType;
  entity: 'user' | 'group';
  change: DirectoryChange;
  /** created_at as ms since the epoch, and as ISO 8601 UTC with ms. */
  createdAtMs: number;
  createdAt: string;
  tenantId: string;
  /** The user's or group's id (for a user, the `sub` of its tokens). */
  subjectId: string;
  email: string;
  name: string;
  /** Groups: member user ids, sorted, without repeats (empty on group.deleted). */
  members: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Parses and checks a delivery; 400 VALIDATION_FAILED with every problem in `details`. */
export function parseDelivery(raw: Buffer): ScaiKeyDelivery {
  assertUtf8(raw);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new AuditflowError('VALIDATION_FAILED', 'the delivery is not valid JSON', { details: [{ path: '/', message: (e as Error).message }] });
  }
  const errors: ErrorDetail[] = [];
  const fail = (path: string, message: string): undefined => {
    errors.push({ path, message });
    return undefined;
  };
  if (!isObj(body)) throw new AuditflowError('VALIDATION_FAILED', 'the delivery is invalid', { details: [{ path: '/', message: 'must be a JSON object' }] });

  const text = (o: Obj, key: string, path: string, max: number, required: boolean, min = 1): string | undefined => {
    const v = o[key];
    if (v === undefined || v === null) return required ? fail(path, 'is required') : undefined;
    if (typeof v !== 'string') return fail(path, 'must be a string');
    if (v.length < min || v.length > max) return fail(path, min > 0 ? `must be 1 to ${max} characters` : `must be at most ${max} characters`);
    return v;
  };

  const id = text(body, 'id', '/id', LIMITS.id, true);
  const typeRaw = body['type'];
  const type = (SCAIKEY_EVENT_TYPES as readonly unknown[]).includes(typeRaw) ? (typeRaw as ScaiKeyEventType)
    : fail('/type', `must be one of ${SCAIKEY_EVENT_TYPES.join(', ')}`);
  const createdAtText = text(body, 'created_at', '/created_at', 64, true);
  const createdAtMs = createdAtText === undefined ? null : parseInstant(createdAtText);
  if (createdAtText !== undefined && createdAtMs === null) fail('/created_at', 'must be an RFC 3339 date-time');

  const data = body['data'];
  const [entity, change] = type ? (type.split('.') as ['user' | 'group', DirectoryChange]) : [undefined, undefined];
  // A deletion needs only the ids: what ScaiKey still sends of a deleted entity is kept if present.
  const full = change !== 'deleted';
  let tenantId: string | undefined, subjectId: string | undefined, email: string | undefined, name: string | undefined;
  let members: string[] = [];
  if (!isObj(data)) {
    fail('/data', data === undefined ? 'is required' : 'must be an object');
  } else {
    subjectId = text(data, 'id', '/data/id', LIMITS.id, true);
    tenantId = text(data, 'tenant_id', '/data/tenant_id', 128, true);
    if (tenantId !== undefined && !TENANT_ID.test(tenantId)) tenantId = fail('/data/tenant_id', 'must be letters, digits and _ . : -');
    email = text(data, 'email', '/data/email', LIMITS.email, full, 0);
    name = text(data, 'name', '/data/name', LIMITS.name, full, 0);
    if (entity === 'group' && full) members = memberList(data['members'], fail);
  }
  if (errors.length > 0 || !id || !type || !entity || !change || createdAtMs === null || !tenantId || !subjectId) {
    throw new AuditflowError('VALIDATION_FAILED', 'the delivery is invalid', { details: errors });
  }
  return {
    id, type, entity, change, createdAtMs, createdAt: new Date(createdAtMs).toISOString(),
    tenantId, subjectId, email: email ?? '', name: name ?? '', members,
  };
}

function memberList(v: unknown, fail: (path: string, message: string) => undefined): string[] {
  if (v === undefined || v === null) return fail('/data/members', 'is required for a group') ?? [];
  if (!Array.isArray(v)) return fail('/data/members', 'must be an array of user ids') ?? [];
  if (v.length > LIMITS.members) return fail('/data/members', `at most ${LIMITS.members} members`) ?? [];
  const out: string[] = [];
  for (let i = 0; i < v.length; i++) {
    const m: unknown = v[i];
    if (typeof m !== 'string' || m.length === 0 || m.length > LIMITS.id) fail(`/data/members/${i}`, `must be a user id of 1 to ${LIMITS.id} characters`);
    else out.push(m);
  }
  return [...new Set(out)].sort();
}

/** The audit event of a delivery: its id is a function of the delivery id (a re-delivery is the same event). */
export function deliveryAuditId(deliveryId: string): string {
  return `aud_sk_${createHash('sha256').update(deliveryId).digest('hex').slice(0, 32)}`;
}

/** Who changes the directory, as an actor: ScaiKey itself, a service. */
export const SCAIKEY_ACTOR = 'scaikey';

/** Present-tense verbs, as the ScaiDrive audit example's `file.create` / `create`. */
const ACTIONS: Readonly<Record<DirectoryChange, string>> = { created: 'create', updated: 'update', deleted: 'delete' };

export function deliveryAuditEvent(d: ScaiKeyDelivery, from: { sourceIp: string; userAgent: string }): AuditEvent {
  return {
    id: deliveryAuditId(d.id),
    tenant_id: d.tenantId,
    partner_id: '',
    event_time: d.createdAt,
    event_type: `scaikey.${d.type}`,
    action: ACTIONS[d.change],
    category: 'admin',
    severity: 'info',
    outcome: 'success',
    success: true,
    actor_id: SCAIKEY_ACTOR,
    actor_type: 'service_account',
    actor_email: '',
    service_account: SCAIKEY_ACTOR,
    resource_type: d.entity,
    resource_id: d.subjectId,
    resource_name: d.name || d.email,
    resource_path: '',
    share_id: '',
    source_ip: from.sourceIp,
    user_agent: from.userAgent.slice(0, 1024),
    // The delivery id: /v1/audit/logs?request_id=<delivery id> finds it.
    request_id: d.id,
    duration_ms: null,
    action_source: 'Webhook',
    details: JSON.stringify({
      delivery_id: d.id, type: d.type, email: d.email,
      ...(d.entity === 'group' ? { members: d.members.length } : {}),
    }),
    source_format: 'canonical',
  };
}
