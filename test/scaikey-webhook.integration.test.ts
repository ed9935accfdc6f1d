// POST /api/v1/webhooks/scaikey on both stores, with the real embedded log: signed deliveries
// update the directory (users, groups with members) and append one audit event each; a delivery
// id seen before is 200 and nothing more; every refusal has its own stable code; deliveries out
// of order converge on the newest; a deleted user's sockets are closed through the hook, once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../api/app.ts';
import { ScaiKeyDirectory } from '../api/webhooks/scaikey-directory.ts';
import { deliveryAuditId } from '../api/webhooks/scaikey-delivery.ts';
import { scaikeySignatureHeader } from '../api/webhooks/scaikey-signature.ts';
import { createAuthenticator } from '../infra/auth/jwt.ts';
import { parseConfig, type Config } from '../infra/config.ts';
import { EmbeddedLog, EmbeddedLogConsumer, EmbeddedLogProducer } from '../infra/log/embedded-log.ts';
import type { LogMessage } from '../infra/log/log.ts';
import { checkOpenApi3 } from './support/service-surface-checks.ts';
import { newTenant, RecordedReads, startStores, type HarnessStore, type Stores } from './support/read-api-harness.ts';

const SECRET = `whsec_${randomBytes(16).toString('hex')}`;
const PATH = '/api/v1/webhooks/scaikey';

let stores: Stores;
let logDir: string;
beforeAll(async () => {
  stores = await startStores();
  logDir = mkdtempSync(path.join(tmpdir(), 'af-webhook-log-'));
}, 120_000);
afterAll(async () => {
  await stores?.stop();
  rmSync(logDir, { recursive: true, force: true });
});

interface Webhook {
  app: FastifyInstance;
  config: Config;
  log: EmbeddedLog;
  deleted: [string, string][];
  close(): Promise<void>;
}

async function webhookApp(h: HarnessStore, env: Record<string, string>): Promise<Webhook> {
  const jwt = randomBytes(32).toString('hex');
  const config = parseConfig({ AUTH_JWT_SECRET: jwt, DATA_DIR: tmpdir(), ...env }, 'all');
  const log = new EmbeddedLog({ dir: path.join(logDir, `${h.name}-${randomBytes(4).toString('hex')}`), partitions: 1, segmentBytes: 1024 * 1024 });
  const deleted: [string, string][] = [];
  const app = await buildApp({
    config, auth: createAuthenticator({ jwtSecret: jwt }), store: h.store, selfAudit: new RecordedReads(),
    webhooks: { producer: new EmbeddedLogProducer(log), onUserDeleted: (t, u) => { deleted.push([t, u]); } },
  });
  await app.ready();
  return { app, config, log, deleted, close: async () => { await app.close(); log.close(); } };
}

/** Everything durable in the audit topic for a tenant, read back through a consumer group of its own. */
async function appended(w: Webhook, tenant: string): Promise<LogMessage[]> {
  const topic = w.config.kafka.topics.auditEvents;
  const got: LogMessage[] = [];
  const c = new EmbeddedLogConsumer(w.log, { group: `reader-${randomBytes(4).toString('hex')}`, topics: [topic] });
  await c.run({
    onAssign: async () => undefined, onRevoke: async () => undefined, onTick: async () => undefined,
    onBatch: async (b) => { got.push(...b.messages); },
  });
  try {
    const deadline = Date.now() + 10_000;
    while (BigInt(got.length) < w.log.partition(topic, 0).durableEnd) {
      if (Date.now() > deadline) throw new Error('could not read the audit topic to its end');
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    await c.stop();
  }
  return got.filter((m) => m.headers['af-tenant'] === tenant);
}

const nowS = () => Math.floor(Date.now() / 1000);

interface Post { status: number; body: any }

async function post(w: Webhook, delivery: unknown, opts: { secret?: string; t?: number; header?: string | null; raw?: Buffer; contentType?: string } = {}): Promise<Post> {
  const raw = opts.raw ?? Buffer.from(JSON.stringify(delivery));
  const header = opts.header === undefined ? scaikeySignatureHeader(opts.secret ?? SECRET, opts.t ?? nowS(), raw) : opts.header;
  const res = await w.app.inject({
    method: 'POST', url: PATH, payload: raw,
    headers: { 'content-type': opts.contentType ?? 'application/json', 'user-agent': 'ScaiKey-Webhooks/1.0', ...(header === null ? {} : { 'x-scaikey-signature': header }) },
  });
  return { status: res.statusCode, body: res.body.length > 0 ? JSON.parse(res.body) : undefined };
}

let seq = 0;
const deliveryId = () => `dlv_${Date.now().toString(36)}_${(seq++).toString(36)}`;
const userEvent = (tenant: string, type: string, createdAt: string, data: Record<string, unknown>) => ({ id: deliveryId(), type, created_at: createdAt, data: { tenant_id: tenant, ...data } });

describe.each(['chdb', 'http'] as const)('POST /api/v1/webhooks/scaikey on %s', (name) => {
  const h = () => stores.list.find((s) => s.name === name)!;
  let w: Webhook;
  let dir: ScaiKeyDirectory;
  beforeAll(async () => {
    w = await webhookApp(h(), { SCAIKEY_WEBHOOK_SECRET: SECRET });
    dir = new ScaiKeyDirectory(h().store);
  });
  afterAll(async () => { await w?.close(); });

  it('stores a user, a group with members, an update and a deletion; each delivery one audit event in the log', async () => {
    const t = newTenant('sk');
    const created = userEvent(t, 'user.created', '2026-03-01T10:00:00Z', { id: 'usr_alice', email: 'alice@example.com', name: 'Alice' });
    expect(await post(w, created)).toEqual({ status: 200, body: { delivery_id: created.id, duplicate: false } });
    expect(await dir.user(t, 'usr_alice')).toEqual({
      tenantId: t, id: 'usr_alice', email: 'alice@example.com', name: 'Alice', deleted: false, changedAt: '2026-03-01T10:00:00.000Z', deliveryId: created.id,
    });

    const group = userEvent(t, 'group.created', '2026-03-01T10:01:00Z', { id: 'grp_ops', email: 'ops@example.com', name: 'Ops', members: ['usr_bob', 'usr_alice', 'usr_bob'] });
    expect((await post(w, group)).status).toBe(200);
    expect(await dir.group(t, 'grp_ops')).toMatchObject({ name: 'Ops', deleted: false, members: ['usr_alice', 'usr_bob'] });
    expect(await dir.groupsOf(t, 'usr_alice')).toEqual(['grp_ops']);

    const updated = userEvent(t, 'user.updated', '2026-03-01T10:02:00Z', { id: 'usr_alice', email: 'alice@new.example.com', name: 'Alice B' });
    expect((await post(w, updated)).status).toBe(200);
    expect(await dir.user(t, 'usr_alice')).toMatchObject({ email: 'alice@new.example.com', name: 'Alice B', deleted: false });

    const deleted = userEvent(t, 'user.deleted', '2026-03-01T10:03:00Z', { id: 'usr_alice' });
    expect(w.deleted.filter(([tt]) => tt === t)).toEqual([]);
    expect((await post(w, deleted)).status).toBe(200);
    expect(await dir.user(t, 'usr_alice')).toMatchObject({ deleted: true, deliveryId: deleted.id });
    expect(w.deleted.filter(([tt]) => tt === t)).toEqual([[t, 'usr_alice']]);

    const log = await appended(w, t);
    expect(log.map((m) => m.headers['af-id'])).toEqual([created, group, updated, deleted].map((d) => deliveryAuditId(d.id)));
    const events = log.map((m) => JSON.parse(m.value!.toString()));
    expect(events.map((e) => [e.event_type, e.action, e.resource_type, e.resource_id])).toEqual([
      ['scaikey.user.created', 'create', 'user', 'usr_alice'],
      ['scaikey.group.created', 'create', 'group', 'grp_ops'],
      ['scaikey.user.updated', 'update', 'user', 'usr_alice'],
      ['scaikey.user.deleted', 'delete', 'user', 'usr_alice'],
    ]);
    expect(events[1]).toMatchObject({
      tenant_id: t, category: 'admin', actor_id: 'scaikey', actor_type: 'service_account', event_time: '2026-03-01T10:01:00.000Z',
      request_id: group.id, user_agent: 'ScaiKey-Webhooks/1.0', source_format: 'canonical',
    });
    expect(JSON.parse(events[1].details)).toEqual({ delivery_id: group.id, type: 'group.created', email: 'ops@example.com', members: 2 });
    expect(log[0]!.key).toBe(t);
    expect(log[0]!.headers['af-format']).toBe('log-v1');
  });

  it('a delivery id seen before: 200 duplicate, nothing appended, the hook not called again — also when it arrives concurrently', async () => {
    const t = newTenant('sk');
    const del = userEvent(t, 'user.deleted', '2026-03-01T11:00:00Z', { id: 'usr_gone' });
    expect((await post(w, del)).body.duplicate).toBe(false);
    // A retry by ScaiKey: signed again, at another time, same delivery.
    expect(await post(w, del, { t: nowS() - 5 })).toEqual({ status: 200, body: { delivery_id: del.id, duplicate: true } });
    expect(await post(w, del)).toMatchObject({ status: 200, body: { duplicate: true } });
    expect(w.deleted.filter(([tt]) => tt === t)).toEqual([[t, 'usr_gone']]);
    expect(await appended(w, t)).toHaveLength(1);

    const twin = userEvent(t, 'user.deleted', '2026-03-01T11:01:00Z', { id: 'usr_twin' });
    const both = await Promise.all([post(w, twin), post(w, twin)]);
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    expect(both.map((r) => r.body.duplicate).sort()).toEqual([false, true]);
    expect(w.deleted.filter(([tt]) => tt === t)).toEqual([[t, 'usr_gone'], [t, 'usr_twin']]);
    expect(await appended(w, t)).toHaveLength(2);
  });

  it('refuses a wrong secret, a tampered body, a missing or malformed header, each with its code; nothing is stored', async () => {
    const t = newTenant('sk');
    const d = userEvent(t, 'user.created', '2026-03-01T12:00:00Z', { id: 'usr_x', email: 'x@example.com', name: 'X' });
    const raw = Buffer.from(JSON.stringify(d));
    const tampered = Buffer.from(raw.toString().replace('"X"', '"Mallory"'));
    const cases: [string, Parameters<typeof post>[2], string][] = [
      ['wrong secret', { secret: 'not-the-secret-at-all' }, 'WEBHOOK_SIGNATURE_INVALID'],
      ['tampered body', { raw: tampered, header: scaikeySignatureHeader(SECRET, nowS(), raw) }, 'WEBHOOK_SIGNATURE_INVALID'],
      ['missing header', { header: null }, 'WEBHOOK_SIGNATURE_MISSING'],
      ['malformed header', { header: 'sha256=abc' }, 'WEBHOOK_SIGNATURE_INVALID'],
      ['no v1', { header: `t=${nowS()}` }, 'WEBHOOK_SIGNATURE_INVALID'],
    ];
    for (const [what, opts, code] of cases) {
      const r = await post(w, d, opts);
      expect(r.status, what).toBe(401);
      expect(r.body, what).toEqual({ error: expect.any(String), code });
    }
    expect(await dir.user(t, 'usr_x')).toBeNull();
    expect(await dir.seen(t, d.id)).toBe(false);
    expect(await appended(w, t)).toEqual([]);
    // The same delivery, properly signed, is then processed (a refusal did not mark it seen).
    expect(await post(w, d)).toMatchObject({ status: 200, body: { duplicate: false } });
  });

  it('a timestamp more than 5 minutes off, either way, is 401 WEBHOOK_TIMESTAMP_OUT_OF_RANGE', async () => {
    const t = newTenant('sk');
    const d = userEvent(t, 'user.created', '2026-03-01T12:00:00Z', { id: 'usr_t', email: 't@example.com', name: 'T' });
    for (const off of [-301, 301, -3600]) {
      const r = await post(w, d, { t: nowS() + off });
      expect(r, String(off)).toEqual({ status: 401, body: { error: expect.any(String), code: 'WEBHOOK_TIMESTAMP_OUT_OF_RANGE' } });
    }
    expect(await dir.user(t, 'usr_t')).toBeNull();
    expect((await post(w, d, { t: nowS() - 240 })).status).toBe(200);
  });

  it('bad JSON or the wrong shape (signed): 400 VALIDATION_FAILED with details; another media type: 415; over 4 MiB: 413', async () => {
    const badJson = await post(w, undefined, { raw: Buffer.from('{"id": "dlv_1", ') });
    expect(badJson.status).toBe(400);
    expect(badJson.body).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: '/' }] });
    const shape = await post(w, { id: 'dlv_shape', type: 'user.exploded', created_at: 'yesterday', data: { id: 'usr_1' } });
    expect(shape).toEqual({
      status: 400,
      body: {
        error: 'the delivery is invalid', code: 'VALIDATION_FAILED', details: [
          { path: '/type', message: expect.stringContaining('user.created') },
          { path: '/created_at', message: 'must be an RFC 3339 date-time' },
          { path: '/data/tenant_id', message: 'is required' },
          { path: '/data/email', message: 'is required' },
          { path: '/data/name', message: 'is required' },
        ],
      },
    });
    const text = await post(w, { id: 'x' }, { contentType: 'text/plain' });
    expect(text).toMatchObject({ status: 415, body: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
    // Read whole before its signature can be checked, so bounded (4 MiB).
    const huge = await post(w, undefined, { raw: Buffer.alloc(4 * 1024 * 1024 + 1, 0x20) });
    expect(huge).toMatchObject({ status: 413, body: { code: 'BODY_TOO_LARGE' } });
  });

  it('deliveries out of order converge on the newest', async () => {
    const t = newTenant('sk');
    // The update arrives before the creation it follows.
    expect((await post(w, userEvent(t, 'user.updated', '2026-03-01T10:05:00Z', { id: 'usr_o', email: 'o2@example.com', name: 'New' }))).status).toBe(200);
    expect((await post(w, userEvent(t, 'user.created', '2026-03-01T10:00:00Z', { id: 'usr_o', email: 'o1@example.com', name: 'Old' }))).status).toBe(200);
    expect(await dir.user(t, 'usr_o')).toMatchObject({ name: 'New', email: 'o2@example.com', deleted: false, changedAt: '2026-03-01T10:05:00.000Z' });
    // A deletion, then an older update arriving late: still deleted.
    await post(w, userEvent(t, 'user.deleted', '2026-03-01T10:10:00Z', { id: 'usr_o' }));
    await post(w, userEvent(t, 'user.updated', '2026-03-01T10:07:00Z', { id: 'usr_o', email: 'o3@example.com', name: 'Zombie' }));
    expect(await dir.user(t, 'usr_o')).toMatchObject({ deleted: true, changedAt: '2026-03-01T10:10:00.000Z' });
    // Within one second: the update wins over the creation whatever the order.
    await post(w, userEvent(t, 'user.updated', '2026-03-01T10:00:00Z', { id: 'usr_s', email: 's@example.com', name: 'Updated' }));
    await post(w, userEvent(t, 'user.created', '2026-03-01T10:00:00Z', { id: 'usr_s', email: 's@example.com', name: 'Created' }));
    expect(await dir.user(t, 'usr_s')).toMatchObject({ name: 'Updated' });
    // A group's newer member list is the membership, whole: an older one arriving late adds no one back.
    await post(w, userEvent(t, 'group.updated', '2026-03-01T10:20:00Z', { id: 'grp_o', email: '', name: 'G', members: ['usr_a'] }));
    await post(w, userEvent(t, 'group.created', '2026-03-01T10:15:00Z', { id: 'grp_o', email: '', name: 'G', members: ['usr_a', 'usr_b'] }));
    expect(await dir.group(t, 'grp_o')).toMatchObject({ members: ['usr_a'] });
    expect(await dir.groupsOf(t, 'usr_b')).toEqual([]);
    await post(w, userEvent(t, 'group.deleted', '2026-03-01T10:30:00Z', { id: 'grp_o' }));
    expect(await dir.groupsOf(t, 'usr_a')).toEqual([]);
    expect(await dir.group(t, 'grp_o')).toMatchObject({ deleted: true, members: [] });
    // Every one of those deliveries was recorded, also the ones that lost.
    expect(await appended(w, t)).toHaveLength(9);
  });

  it('is documented in /openapi.json with no token', async () => {
    const doc = (await w.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const op = doc.paths[PATH].post;
    expect(op.tags).toEqual(['webhooks']);
    expect(op.security).toEqual([]);
    expect(op.parameters.map((p: { name: string; in: string }) => [p.in, p.name])).toContainEqual(['header', 'x-scaikey-signature']);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '503']));
    expect(op.requestBody.content['application/json'].schema.required).toEqual(['id', 'type', 'created_at', 'data']);
    expect(checkOpenApi3({ ...doc, paths: { [PATH]: { post: op } } })).toEqual([]);
  });
});

describe('with SCAIKEY_WEBHOOK_SECRET unset', () => {
  it('every delivery is refused with 503 WEBHOOK_NOT_CONFIGURED, signed or not, and nothing is stored', async () => {
    const h = stores.list[0]!;
    const w = await webhookApp(h, {});
    try {
      const t = newTenant('sk');
      const d = userEvent(t, 'user.created', '2026-03-01T12:00:00Z', { id: 'usr_n', email: 'n@example.com', name: 'N' });
      for (const opts of [{}, { header: null }, { secret: '' }] as const) {
        const r = await post(w, d, opts);
        expect(r).toEqual({ status: 503, body: { error: expect.stringContaining('SCAIKEY_WEBHOOK_SECRET'), code: 'WEBHOOK_NOT_CONFIGURED' } });
      }
      expect(await new ScaiKeyDirectory(h.store).user(t, 'usr_n')).toBeNull();
      expect(await appended(w, t)).toEqual([]);
    } finally {
      await w.close();
    }
  });
});
