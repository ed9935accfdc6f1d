// POST /api/v1/webhooks/scaikey: ScaiKey's user and group events (scaidrive-events-and-realtime.txt,
// "ScaiKey webhooks (inbound)"). No token: ScaiKey signs the raw body (./scaikey-signature.ts).
//
// A delivery is processed once per delivery id: its audit event is appended to the log (durable)
// and its directory row written, then — for user.deleted — the user's open sockets are closed,
// and only then is the delivery recorded as seen and answered 200. A failure before that answers
// an error and ScaiKey's retry does it all again, which changes nothing twice: the audit event's
// id is derived from the delivery id (the store sink stores one id once, also when two API nodes
// race on one delivery) and the directory row is the same version. A delivery id already recorded
// is answered 200 without doing anything.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../infra/config.ts';
import { AuditflowError } from '../../infra/errors.ts';
import type { LogProducer } from '../../infra/log/log.ts';
import type { Store } from '../../infra/store/store.ts';
import { logHeaders } from '../../schemas/log-headers.ts';
import type { MessageCodec } from '../../schemas/message-codec.ts';
import { errorResponses, NO_TOKEN } from '../service/openapi.ts';
import { deliveryAuditEvent, LIMITS, parseDelivery, SCAIKEY_EVENT_TYPES, type ScaiKeyDelivery } from './scaikey-delivery.ts';
import { ScaiKeyDirectory } from './scaikey-directory.ts';
import { SIGNATURE_HEADER, verifyScaikeySignature } from './scaikey-signature.ts';

export const SCAIKEY_WEBHOOK_PATH = '/api/v1/webhooks/scaikey';

/** Called once a user.deleted is processed (never for a repeated delivery): close the user's sockets. */
export type UserDeletedHook = (tenantId: string, userId: string) => void | Promise<void>;

/** What the process wires in (infra/system.ts → buildApp's `webhooks`); the store is the app's. */
export interface ScaiKeyWebhookWiring {
  /** Where each delivery's audit event is appended (the audit events topic). */
  producer: LogProducer;
  /** The realtime edge's: closes a deleted user's open sockets. */
  onUserDeleted?: UserDeletedHook | undefined;
}

export interface ScaiKeyWebhookDeps extends ScaiKeyWebhookWiring {
  config: Config;
  store: Store;
  codec: MessageCodec;
}

export interface DeliveryAnswer {
  delivery_id: string;
  /** true: this delivery id was processed before; nothing was done again. */
  duplicate: boolean;
}

/** Webhook bodies are small; each is read whole before its signature can be checked, so bound it. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

const dataSchema = {
  type: 'object',
  required: ['id', 'tenant_id'],
  properties: {
    id: { type: 'string', maxLength: LIMITS.id, description: "The user's id (the `sub` of its tokens) or the group's" },
    tenant_id: { type: 'string', maxLength: 128, pattern: '^[A-Za-z0-9_.:\\-]+$' },
    email: { type: 'string', maxLength: LIMITS.email, description: 'Required unless the event is a deletion' },
    name: { type: 'string', maxLength: LIMITS.name, description: 'Required unless the event is a deletion' },
    members: { type: 'array', maxItems: LIMITS.members, items: { type: 'string', maxLength: LIMITS.id }, description: 'Groups: the user ids of its members, whole (required for group.created / group.updated)' },
  },
  additionalProperties: true,
} as const;

export const scaikeyWebhookSchema = {
  summary: 'ScaiKey user and group events (inbound webhook)',
  description:
    'Signed by ScaiKey instead of a token: `X-ScaiKey-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` '
    + 'with SCAIKEY_WEBHOOK_SECRET (several `v1=` entries accepted while the secret rotates; `t` at most '
    + 'SCAIKEY_WEBHOOK_TOLERANCE_SECONDS, default 300, from the server\'s clock). 200 once the delivery\'s audit event is durable '
    + 'and the directory is updated; a delivery id seen before: 200 with `duplicate: true` and nothing done again. '
    + 'Errors: 401 WEBHOOK_SIGNATURE_MISSING / WEBHOOK_SIGNATURE_INVALID / WEBHOOK_TIMESTAMP_OUT_OF_RANGE, '
    + '400 VALIDATION_FAILED (with details), 503 WEBHOOK_NOT_CONFIGURED (no secret set: every delivery refused).',
  tags: ['webhooks'],
  security: NO_TOKEN,
  consumes: ['application/json'],
  headers: {
    type: 'object',
    required: [SIGNATURE_HEADER],
    properties: { [SIGNATURE_HEADER]: { type: 'string', description: 't=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…]' } },
  },
  body: {
    type: 'object',
    required: ['id', 'type', 'created_at', 'data'],
    properties: {
      id: { type: 'string', maxLength: LIMITS.id, description: 'The delivery id: the same on every retry of a delivery' },
      type: { type: 'string', enum: SCAIKEY_EVENT_TYPES },
      created_at: { type: 'string', format: 'date-time' },
      data: dataSchema,
    },
    additionalProperties: true,
  },
  response: {
    200: {
      description: 'Processed (or processed before)',
      type: 'object',
      required: ['delivery_id', 'duplicate'],
      properties: { delivery_id: { type: 'string' }, duplicate: { type: 'boolean' } },
    },
    ...errorResponses(400, 401, 413, 415, 429, 503),
  },
} as const;

export async function scaikeyWebhookRoutes(app: FastifyInstance, deps: ScaiKeyWebhookDeps): Promise<void> {
  const { config, producer, codec } = deps;
  const directory = new ScaiKeyDirectory(deps.store);
  // The signature is over the bytes as sent: the body must not be parsed (or re-serialised) first.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_req, body, done) => done(null, body));

  /** The same delivery arriving again while it is processed here waits for it instead of racing it. */
  const inFlight = new Map<string, Promise<boolean>>();

  const handleDelivery = async (d: ScaiKeyDelivery, req: FastifyRequest): Promise<boolean> => {
    if (await directory.seen(d.tenantId, d.id)) return true;
    const ev = deliveryAuditEvent(d, { sourceIp: req.ip, userAgent: String(req.headers['user-agent'] ?? '') });
    const value = codec.encodeSync ? codec.encodeSync('audit', ev) : await codec.encode('audit', ev);
    const w = { change: d.change, createdAtMs: d.createdAtMs, deliveryId: d.id };
    const entity = { tenantId: d.tenantId, id: d.subjectId, email: d.email, name: d.name };
    await Promise.all([
      producer.send(config.kafka.topics.auditEvents, [{ key: d.tenantId, value, headers: logHeaders({ tenantId: d.tenantId, id: ev.id }) }]),
      d.entity === 'user' ? directory.writeUser(entity, w) : directory.writeGroup({ ...entity, members: d.members }, w),
    ]);
    // Before the delivery is recorded: if closing fails, ScaiKey's retry closes them again.
    if (d.type === 'user.deleted') await deps.onUserDeleted?.(d.tenantId, d.subjectId);
    await directory.recordDelivery({ tenantId: d.tenantId, id: d.id, type: d.type, createdAt: d.createdAt });
    req.log.info({ delivery: d.id, type: d.type, tenant: d.tenantId }, 'scaikey delivery processed');
    return false;
  };

  app.post(SCAIKEY_WEBHOOK_PATH, { schema: scaikeyWebhookSchema }, async (req): Promise<DeliveryAnswer> => {
    const secret = config.webhooks.scaikeySecret;
    if (secret === undefined) throw new AuditflowError('WEBHOOK_NOT_CONFIGURED', 'ScaiKey webhooks are not configured on this server (SCAIKEY_WEBHOOK_SECRET is unset): deliveries are refused');
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    verifyScaikeySignature(req.headers[SIGNATURE_HEADER], raw, { secret, toleranceSeconds: config.webhooks.toleranceSeconds, nowMs: Date.now() });
    const d = parseDelivery(raw);
    const key = `${d.tenantId}\u0000${d.id}`;
    const running = inFlight.get(key);
    if (running) {
      await running;
      return { delivery_id: d.id, duplicate: true };
    }
    const p = handleDelivery(d, req).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
    return { delivery_id: d.id, duplicate: await p };
  });
}
