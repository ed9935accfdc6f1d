// The SIEM destinations API (api/siem/) and its records (processors/siem/) on both stores: every
// endpoint, tenant isolation, body validation, redaction (no response carries a secret), PATCH
// keeping secrets, dead letters listed and redriven, health aggregated over partitions, and a
// replay's lifecycle. Sends go through the real senders (infra/siem/sender-factory.ts).
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../api/app.ts';
import { createAuthenticator, issueToken } from '../infra/auth/jwt.ts';
import { parseConfig } from '../infra/config.ts';
import { createSender } from '../infra/siem/sender-factory.ts';
import { DeadLetters } from '../processors/siem/dead-letters.ts';
import { DeliveryHealth, type HealthReport } from '../processors/siem/delivery-health.ts';
import { Destinations } from '../processors/siem/destinations.ts';
import { Replays } from '../processors/siem/replays.ts';
import type { ForwardedEvent } from '../processors/siem/siem-types.ts';
import { verifyWebhookSignature } from '../processors/siem/webhook-signature.ts';
import type { AuditEvent } from '../schemas/event-model.ts';
import { newTenant, RecordedReads, startStores, type HarnessStore, type Stores } from './support/read-api-harness.ts';
import { startSiemReceiver, type SiemReceiver } from './support/siem-receiver.ts';

const HEC_TOKEN = `hec-${randomBytes(12).toString('hex')}`;
const WEBHOOK_SECRET = `whsec-${randomBytes(16).toString('hex')}`;
const HEADER_SECRET = `Bearer hdr-${randomBytes(12).toString('hex')}`;
const SECRETS = [HEC_TOKEN, WEBHOOK_SECRET, HEADER_SECRET];

interface Api {
  call(method: string, url: string, tenant: string, body?: unknown, opts?: { scope?: string; contentType?: string }): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  audit: AuditEvent[];
  reads: RecordedReads;
  close(): Promise<void>;
}

/** Every response body of the file, checked for secrets at the end. */
const bodies: string[] = [];

async function siemApp(h: HarnessStore): Promise<Api> {
  const jwt = randomBytes(32).toString('hex');
  const config = parseConfig({ AUTH_JWT_SECRET: jwt, DATA_DIR: tmpdir() }, 'all');
  const reads = new RecordedReads();
  const audit: AuditEvent[] = [];
  const app = await buildApp({
    config, auth: createAuthenticator({ jwtSecret: jwt }), store: h.store, selfAudit: reads, signal: h.signal,
    siem: { appendAudit: async (e) => { audit.push(e); }, senderFor: (d, o) => createSender(d, o), sendTimeoutMs: 3000, maxDestinations: 4 },
  });
  await app.ready();
  return {
    audit, reads,
    async call(method, url, tenant, body, opts = {}) {
      const token = await issueToken(jwt, { sub: 'usr_admin', tid: tenant, scope: opts.scope ?? 'audit:admin', email: 'admin@example.com' });
      const res = await app.inject({
        method: method as 'GET', url,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {}) },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
      bodies.push(res.body);
      return { status: res.statusCode, body: res.body.length > 0 ? JSON.parse(res.body) : undefined, headers: res.headers };
    },
    close: () => app.close(),
  };
}

const hec = (over: Record<string, unknown> = {}) => ({
  name: 'Splunk prod', type: 'splunk_hec', config: { url: 'https://splunk.example.com:8088', token: HEC_TOKEN, index: 'audit', sourcetype: 'auditflow' }, ...over,
});
const syslog = (over: Record<string, unknown> = {}) => ({
  name: 'rsyslog', type: 'syslog', config: { host: '127.0.0.1', port: 6514, transport: 'tls', format: 'cef', app_name: 'auditflow' }, filter: { min_severity: 'warning' }, ...over,
});
const webhook = (url: string, over: Record<string, unknown> = {}) => ({
  name: 'Webhook', type: 'webhook', config: { url, secret: WEBHOOK_SECRET, headers: { Authorization: HEADER_SECRET, 'X-Env': 'test-env' } },
  filter: { categories: ['security', 'admin'], event_types: ['secret.read'] }, start: 'oldest', ...over,
});

function forwarded(tenant: string, i: number): ForwardedEvent {
  return {
    id: `aud_dl_${tenant}_${i}`, tenant_id: tenant, partner_id: '', event_time: new Date(Date.UTC(2026, 2, 1, 0, 0, i)).toISOString(), event_type: 'secret.read',
    action: 'read', category: 'security', severity: 'info', outcome: 'success', success: true, actor_id: 'usr_1', actor_type: 'user',
    actor_email: 'u1@example.com', service_account: null, resource_type: 'secret', resource_id: 'sec_1', resource_name: 'db', resource_path: 'prod/db',
    share_id: '', source_ip: '10.0.0.1', user_agent: 'ua', request_id: `req_${i}`, duration_ms: 1, action_source: '', details: { i }, source_format: 'canonical',
  };
}

let stores: Stores;
let receiver: SiemReceiver;
beforeAll(async () => { [stores, receiver] = await Promise.all([startStores(), startSiemReceiver()]); }, 120_000);
afterAll(async () => { await receiver?.stop(); await stores?.stop(); });

describe.each(['chdb', 'http'] as const)('SIEM destinations API on %s', (name) => {
  let h: HarnessStore;
  let api: Api;
  beforeAll(async () => {
    h = stores.list.find((s) => s.name === name)!;
    api = await siemApp(h);
  });
  afterAll(async () => { await api?.close(); });

  it('creates, shows without secrets, lists in pages, and keeps each tenant to its own', async () => {
    const t = newTenant();
    const a = await api.call('POST', '/v1/siem/destinations', t, hec());
    expect(a.status).toBe(201);
    expect(a.headers['location']).toBe(`/v1/siem/destinations/${a.body.destination_id}`);
    expect(a.body).toEqual({
      destination_id: expect.stringMatching(/^dst_/), name: 'Splunk prod', type: 'splunk_hec',
      config: { url: 'https://splunk.example.com:8088', token_set: true, index: 'audit', sourcetype: 'auditflow' },
      filter: {}, start: 'now', generation: 0, status: 'active', created_at: expect.any(String), updated_at: expect.any(String),
    });
    const b = await api.call('POST', '/v1/siem/destinations', t, syslog());
    const c = await api.call('POST', '/v1/siem/destinations', t, webhook('https://hooks.example.com/in'));
    expect(c.body.config).toEqual({ url: 'https://hooks.example.com/in', secret_set: true, headers: { Authorization: '[redacted]', 'X-Env': '[redacted]' } });
    expect(c.body.start).toBe('oldest');
    expect(b.body.config).toEqual({ host: '127.0.0.1', port: 6514, transport: 'tls', format: 'cef', app_name: 'auditflow' });

    expect((await api.call('GET', `/v1/siem/destinations/${a.body.destination_id}`, t)).body).toEqual(a.body);
    const p1 = await api.call('GET', '/v1/siem/destinations?limit=2', t);
    expect(p1.body.destinations.map((d: any) => d.name)).toEqual(['Splunk prod', 'rsyslog']);
    expect(p1.body.has_more).toBe(true);
    const p2 = await api.call('GET', `/v1/siem/destinations?limit=2&cursor=${p1.body.cursor}`, t);
    expect(p2.body).toMatchObject({ destinations: [{ name: 'Webhook' }], cursor: null, has_more: false });

    // Another tenant: sees none of them, may touch none of them (404, never 403), and cannot reuse the cursor.
    const other = newTenant('other');
    expect((await api.call('GET', '/v1/siem/destinations', other)).body).toEqual({ destinations: [], cursor: null, has_more: false });
    expect((await api.call('GET', `/v1/siem/destinations?cursor=${p1.body.cursor}`, other)).body.code).toBe('CURSOR_INVALID');
    const id = a.body.destination_id;
    for (const [method, path, body] of [
      ['GET', ''], ['PATCH', '', { name: 'x' }], ['DELETE', ''], ['POST', '/pause'], ['POST', '/resume'], ['POST', '/test'],
      ['GET', '/dead-letters'], ['POST', '/dead-letters/redrive'], ['POST', '/replay', { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }],
      ['GET', '/replays'], ['GET', '/health'],
    ] as const) {
      const r = await api.call(method, `/v1/siem/destinations/${id}${path}`, other, body);
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    expect((await api.call('GET', `/v1/siem/destinations/${id}`, t)).body.name).toBe('Splunk prod');
    // audit:admin is required.
    expect((await api.call('GET', '/v1/siem/destinations', t, undefined, { scope: 'audit:read audit:export' })).status).toBe(403);
    expect((await api.call('POST', '/v1/siem/destinations', t, hec(), { scope: 'audit:read' })).status).toBe(403);
  });

  it('refuses a tenant\'s destination past SIEM_MAX_DESTINATIONS_PER_TENANT with 409; deleting one frees its place', async () => {
    const t = newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await api.call('POST', '/v1/siem/destinations', t, hec({ name: `d${i}` }));
      expect(r.status).toBe(201);
      ids.push(String(r.body.destination_id));
    }
    const over = await api.call('POST', '/v1/siem/destinations', t, hec({ name: 'one too many' }));
    expect(over.status).toBe(409);
    expect(over.body.code).toBe('SIEM_DESTINATION_LIMIT');
    expect((await api.call('POST', '/v1/siem/destinations', newTenant(), hec())).status).toBe(201); // per tenant
    expect((await api.call('DELETE', `/v1/siem/destinations/${ids[0]}`, t)).status).toBe(204);
    expect((await api.call('POST', '/v1/siem/destinations', t, hec({ name: 'in its place' }))).status).toBe(201);
  });

  it('refuses bad bodies with every problem named', async () => {
    const t = newTenant();
    const bad = async (body: unknown) => {
      const r = await api.call('POST', '/v1/siem/destinations', t, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.code).toBe('VALIDATION_FAILED');
      return (r.body.details as { path: string; message: string }[]).map((d) => d.path);
    };
    expect(await bad({ type: 'kafka', config: {} })).toEqual(['/name', '/type']);
    expect(await bad(hec({ config: { url: 'ftp://splunk:21', token: 'has space' }, extra: 1 }))).toEqual(['/config/url', '/config/token', '/extra']);
    expect(await bad(hec({ config: { url: 'https://user:pw@splunk:8088', token: 't0k3n' } }))).toEqual(['/config/url']);
    expect(await bad(syslog({ config: { host: 'bad host!', port: 70000, transport: 'http', format: 'xml', app_name: 'x'.repeat(49) } })))
      .toEqual(['/config/host', '/config/port', '/config/transport', '/config/format', '/config/app_name']);
    for (const port of [0, '514', 1.5]) expect(await bad(syslog({ config: { host: 'siem.local', port, transport: 'tcp', format: 'json' } }))).toEqual(['/config/port']);
    expect(await bad(syslog({ config: { host: '::1', port: 514, transport: 'udp', format: 'json', ca_pem: '-----BEGIN CERTIFICATE-----' } }))).toEqual(['/config/ca_pem']);
    expect(await bad(webhook('https://h.example.com', { config: { url: 'https://h.example.com', secret: 'short' } }))).toEqual(['/config/secret']);
    expect(await bad(webhook('https://h.example.com', {
      config: { url: 'https://h.example.com', secret: WEBHOOK_SECRET, headers: { 'X-Ok': 'a\r\nInjected: 1', 'Content-Type': 'text/plain', 'X-Auditflow-Signature': 'forged', 'Bad Name': 'v', 'x-dup': '1', 'X-Dup': '2', 'X-Num': 5 } },
    }))).toEqual(['/config/headers/X-Ok', '/config/headers/Content-Type', '/config/headers/X-Auditflow-Signature', '/config/headers/Bad Name', '/config/headers/X-Dup', '/config/headers/X-Num']);
    expect(await bad(hec({ filter: { categories: ['security', 'gossip'], min_severity: 'loud', event_types: [], other: true } })))
      .toEqual(['/filter/categories/1', '/filter/min_severity', '/filter/event_types', '/filter/other']);
    expect(await bad(hec({ start: 'yesterday' }))).toEqual(['/start']);
    expect(await bad(hec({ start: new Date(Date.now() + 3_600_000).toISOString() }))).toEqual(['/start']);
    expect(await bad(hec({ config: 'https://splunk' }))).toEqual(['/config']);
    const notObject = await api.call('POST', '/v1/siem/destinations', t, [hec()]);
    expect(notObject.body.code).toBe('VALIDATION_FAILED');
    // Nothing was created by any of them.
    expect((await api.call('GET', '/v1/siem/destinations', t)).body.destinations).toEqual([]);
    // A valid start in the past is kept, normalised.
    const ok = await api.call('POST', '/v1/siem/destinations', t, hec({ start: '2026-01-01T01:00:00+01:00' }));
    expect(ok.body.start).toBe('2026-01-01T00:00:00.000Z');
  });

  it('PATCH merges, keeps secrets it was not given, and audits every change without secrets', async () => {
    const t = newTenant();
    const records = new Destinations(h.store);
    const created = await api.call('POST', '/v1/siem/destinations', t, webhook('https://hooks.example.com/a'));
    const id = created.body.destination_id;
    const patched = await api.call('PATCH', `/v1/siem/destinations/${id}`, t, {
      name: 'Renamed', config: { url: 'https://hooks.example.com/b', headers: { 'X-Env': null, 'X-Team': 'soc' } }, filter: { event_types: null, min_severity: 'notice' },
    }, { contentType: 'application/merge-patch+json' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      name: 'Renamed', config: { url: 'https://hooks.example.com/b', secret_set: true, headers: { Authorization: '[redacted]', 'X-Team': '[redacted]' } },
      filter: { categories: ['security', 'admin'], min_severity: 'notice' }, start: 'oldest',
    });
    const stored = await records.get(t, id);
    expect(stored?.config).toEqual({ url: 'https://hooks.example.com/b', secret: WEBHOOK_SECRET, headers: { Authorization: HEADER_SECRET, 'X-Team': 'soc' } });
    // A new secret replaces the old; a view's `secret_set`, fixed fields and status are refused with a reason.
    await api.call('PATCH', `/v1/siem/destinations/${id}`, t, { config: { secret: `${WEBHOOK_SECRET}-2` } });
    expect((await records.get(t, id))?.config).toMatchObject({ secret: `${WEBHOOK_SECRET}-2` });
    await api.call('PATCH', `/v1/siem/destinations/${id}`, t, { config: { secret: WEBHOOK_SECRET } });
    const refused = await api.call('PATCH', `/v1/siem/destinations/${id}`, t, { config: { secret_set: true, url: 'nope' } });
    expect(refused.body.details).toEqual([
      { path: '/config/url', message: 'must be an absolute http or https URL' },
      { path: '/config/secret_set', message: 'is read-only: send secret to replace the stored one, or leave it out to keep it' },
    ]);
    const fixed = await api.call('PATCH', `/v1/siem/destinations/${id}`, t, { type: 'syslog', start: 'now', status: 'paused', color: 'red' });
    expect(fixed.body.details.map((d: any) => d.path)).toEqual(['/type', '/start', '/status', '/color']);
    expect((await api.call('PATCH', `/v1/siem/destinations/${id}`, t, { config: { secret: null } })).body.details).toEqual([{ path: '/config/secret', message: 'is required' }]);
    // Pause and resume (idempotent: a second pause changes nothing and records nothing).
    expect((await api.call('POST', `/v1/siem/destinations/${id}/pause`, t)).body.status).toBe('paused');
    expect((await api.call('POST', `/v1/siem/destinations/${id}/pause`, t)).body.status).toBe('paused');
    expect((await api.call('POST', `/v1/siem/destinations/${id}/resume`, t)).body.status).toBe('active');
    // Deleted: gone from the API, still seen (flagged) by the forwarder.
    expect((await api.call('DELETE', `/v1/siem/destinations/${id}`, t)).status).toBe(204);
    expect((await api.call('GET', `/v1/siem/destinations/${id}`, t)).status).toBe(404);
    expect((await api.call('DELETE', `/v1/siem/destinations/${id}`, t)).status).toBe(404);
    expect((await api.call('GET', '/v1/siem/destinations', t)).body.destinations).toEqual([]);
    const all = (await records.allForForwarder()).filter((d) => d.tenantId === t);
    expect(all).toMatchObject([{ destinationId: id, deleted: true, name: 'Renamed', config: { secret: WEBHOOK_SECRET } }]);

    const mine = api.audit.filter((e) => e.tenant_id === t);
    expect(mine.map((e) => e.action)).toEqual([
      'siem_destination_created', 'siem_destination_updated', 'siem_destination_updated', 'siem_destination_updated',
      'siem_destination_updated', 'siem_destination_updated', 'siem_destination_deleted',
    ]);
    expect(mine.every((e) => e.resource_id === id && e.resource_type === 'siem_destination' && e.category === 'admin' && e.actor_id === 'usr_admin')).toBe(true);
    expect(JSON.parse(mine[1]!.details)).toMatchObject({ changed: ['name', 'config', 'filter'], name: 'Renamed' });
    expect(JSON.parse(mine[4]!.details)).toMatchObject({ changed: ['status'], status: 'paused' });
    for (const e of mine) for (const s of SECRETS) expect(JSON.stringify(e)).not.toContain(s);
  });

  it('reports delivery health aggregated over the partitions\' newest reports', async () => {
    const t = newTenant();
    const id = (await api.call('POST', '/v1/siem/destinations', t, hec())).body.destination_id;
    expect((await api.call('GET', `/v1/siem/destinations/${id}/health`, t)).body)
      .toEqual({ lag_events: 0, lag_seconds: 0, last_success_at: null, last_error: null, delivered: 0, dead_lettered: 0 });
    const health = new DeliveryHealth(h.store);
    const at = (s: number) => new Date(Date.UTC(2026, 4, 1, 12, 0, s)).toISOString();
    const report = (partition: number, over: Partial<HealthReport>): HealthReport => ({
      tenantId: t, destinationId: id, topic: 'audit-events', partition, position: 10, endOffset: 10, lagEvents: 0, lagSeconds: 0,
      lastSuccessAt: null, lastError: null, delivered: 0, deadLettered: 0, reportedAt: at(0), ...over,
    });
    await health.report([
      report(0, { lagEvents: 5, lagSeconds: 2.5, delivered: 100, deadLettered: 2, lastSuccessAt: at(1), lastError: 'HTTP 503 from receiver', reportedAt: at(1) }),
      report(1, { lagEvents: 7, lagSeconds: 9, delivered: 50, lastSuccessAt: at(3), reportedAt: at(3) }),
      report(2, { lagEvents: 1, lagSeconds: 0.5, delivered: 10, deadLettered: 1, lastSuccessAt: at(2), lastError: 'timeout after 10000 ms', reportedAt: at(4) }),
    ]);
    // Partition 0 again, newer: its old row no longer counts (counters are cumulative per partition).
    await health.report([report(0, { lagEvents: 3, lagSeconds: 1, delivered: 120, deadLettered: 2, lastSuccessAt: at(5), lastError: null, reportedAt: at(5) })]);
    expect((await api.call('GET', `/v1/siem/destinations/${id}/health`, t)).body).toEqual({
      lag_events: 11, lag_seconds: 9, last_success_at: at(5), last_error: 'timeout after 10000 ms', delivered: 180, dead_lettered: 3,
    });
    expect(await health.last(t, id, 'audit-events', 0)).toMatchObject({ delivered: 120, lagEvents: 3, lastError: null, reportedAt: at(5) });
    expect(await health.last(t, id, 'audit-events', 9)).toBeNull();
    expect(await health.last(newTenant(), id, 'audit-events', 0)).toBeNull();
  });

  it('queues replays and shows their lifecycle', async () => {
    const t = newTenant();
    const id = (await api.call('POST', '/v1/siem/destinations', t, hec())).body.destination_id;
    await h.rows.audit(t, [{}, {}, {}]);
    const bad = await api.call('POST', `/v1/siem/destinations/${id}/replay`, t, { from: '2026-03-02T00:00:00Z', to: '2026-03-01T00:00:00Z', extra: 1 });
    expect(bad.body.details.map((d: any) => d.path)).toEqual(['/to', '/extra']);
    expect((await api.call('POST', `/v1/siem/destinations/${id}/replay`, t, { from: 'soon' })).body.details.map((d: any) => d.path)).toEqual(['/from', '/to']);
    const q = await api.call('POST', `/v1/siem/destinations/${id}/replay`, t, { from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' });
    expect(q.status).toBe(202);
    expect(q.body).toEqual({ replay_id: expect.stringMatching(/^rpl_/), status: 'queued' });
    expect(q.headers['location']).toBe(`/v1/siem/destinations/${id}/replays/${q.body.replay_id}`);
    const second = await api.call('POST', `/v1/siem/destinations/${id}/replay`, t, { from: '2026-03-05T00:00:00Z', to: '2026-03-06T00:00:00Z' });
    expect(api.audit.filter((e) => e.tenant_id === t && e.action === 'siem_replay_requested').map((e) => JSON.parse(e.details).replay_id)).toEqual([q.body.replay_id, second.body.replay_id]);

    const replays = new Replays(h.store);
    const queued = await replays.get(t, id, q.body.replay_id);
    expect(queued).toMatchObject({ status: 'queued', from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z', snapshotSeq: 3, attempt: 0 });
    expect((await replays.claimable(1000)).some((r) => r.replayId === q.body.replay_id)).toBe(true);
    // Two workers race for it: one wins.
    const [w1, w2] = await Promise.all([replays.claim(queued!, 'worker-1', { leaseMs: 60_000, settleMs: 50 }), replays.claim(queued!, 'worker-2', { leaseMs: 60_000, settleMs: 50 })]);
    const won = w1 ?? w2;
    expect([w1, w2].filter(Boolean)).toHaveLength(1);
    expect(won).toMatchObject({ status: 'running', attempt: 1 });
    expect((await replays.claimable(1000)).some((r) => r.replayId === q.body.replay_id)).toBe(false);
    expect((await api.call('GET', `/v1/siem/destinations/${id}/replays/${q.body.replay_id}`, t)).body).toMatchObject({ status: 'running', events_sent: 0 });
    const progressed = await replays.progress(won!, { lastSeq: 2, eventsSent: 2 }, 60_000);
    expect(progressed).toMatchObject({ lastSeq: 2, eventsSent: 2 });
    // The loser cannot record progress on it.
    const loser = { ...won!, worker: 'worker-x' };
    expect(await replays.progress(loser, { lastSeq: 3, eventsSent: 3 }, 60_000)).toBeNull();
    await replays.complete(progressed!, { lastSeq: 3, eventsSent: 3 });
    const done = await api.call('GET', `/v1/siem/destinations/${id}/replays/${q.body.replay_id}`, t);
    expect(done.body).toEqual({
      replay_id: q.body.replay_id, destination_id: id, status: 'completed', from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z',
      events_sent: 3, created_at: expect.any(String), updated_at: expect.any(String), completed_at: expect.any(String),
    });
    await replays.fail((await replays.get(t, id, second.body.replay_id))!, 'destination deleted');
    const list = await api.call('GET', `/v1/siem/destinations/${id}/replays?limit=1`, t);
    expect(list.body.replays).toMatchObject([{ replay_id: second.body.replay_id, status: 'failed', error: 'destination deleted' }]);
    const rest = await api.call('GET', `/v1/siem/destinations/${id}/replays?limit=1&cursor=${list.body.cursor}`, t);
    expect(rest.body).toMatchObject({ replays: [{ replay_id: q.body.replay_id }], has_more: false });
    expect((await api.call('GET', `/v1/siem/destinations/${id}/replays/rpl_nope`, t)).status).toBe(404);
  });

  it('lists dead letters in pages with their events when asked, and records the read', async () => {
    const t = newTenant();
    const id = (await api.call('POST', '/v1/siem/destinations', t, hec())).body.destination_id;
    const dl = new DeadLetters(h.store);
    for (let i = 0; i < 3; i++) {
      // A receiver echoing the token it refused: the listing scrubs it.
      await dl.add({ tenantId: t, destinationId: id, status: 400, body: `{"text":"Invalid data format","code":6,"token":"${HEC_TOKEN}"}`, reason: 'HTTP 400', events: [forwarded(t, i * 2), forwarded(t, i * 2 + 1)] });
    }
    const p1 = await api.call('GET', `/v1/siem/destinations/${id}/dead-letters?limit=2`, t);
    expect(p1.status).toBe(200);
    expect(p1.body.counts).toEqual({ pending: 3, redriven: 0, pending_events: 6 });
    expect(p1.body.dead_letters).toHaveLength(2);
    expect(p1.body.dead_letters[0]).toEqual({
      dead_letter_id: expect.stringMatching(/^dlq_/), created_at: expect.any(String), state: 'pending', status: 400,
      receiver_body: '{"text":"Invalid data format","code":6,"token":"[redacted]"}', reason: 'HTTP 400', event_count: 2,
      event_ids: [`aud_dl_${t}_0`, `aud_dl_${t}_1`], redrive_attempts: 0, last_redrive_error: null, redriven_at: null,
    });
    const p2 = await api.call('GET', `/v1/siem/destinations/${id}/dead-letters?limit=2&include_events=true&cursor=${p1.body.cursor}`, t);
    expect(p2.body).toMatchObject({ dead_letters: [{ event_ids: [`aud_dl_${t}_4`, `aud_dl_${t}_5`], events: [forwarded(t, 4), forwarded(t, 5)] }], cursor: null, has_more: false });
    expect(p1.body.dead_letters[0].events).toBeUndefined();
    // A cursor is bound to its filters.
    expect((await api.call('GET', `/v1/siem/destinations/${id}/dead-letters?state=redriven&cursor=${p1.body.cursor}`, t)).body.code).toBe('CURSOR_INVALID');
    expect((await api.call('GET', `/v1/siem/destinations/${id}/dead-letters?state=gone`, t)).body.code).toBe('QUERY_INVALID');
    expect(api.reads.records.filter((r) => r.tenantId === t).map((r) => [r.what.resource, r.what.rows])).toEqual([['siem.dead_letters', 2], ['siem.dead_letters', 1]]);
  });

  it('POST …/test sends one signed event and reports the receiver\'s answer', async () => {
    const t = newTenant();
    receiver.clear();
    receiver.script([{ status: 202, body: 'ok' }]);
    const id = (await api.call('POST', '/v1/siem/destinations', t, webhook(`${receiver.url}/hook`))).body.destination_id;
    // Paused or not, filter or not: a test goes out.
    await api.call('POST', `/v1/siem/destinations/${id}/pause`, t);
    const ok = await api.call('POST', `/v1/siem/destinations/${id}/test`, t);
    expect(ok.body).toEqual({ delivered: true, status: 202, latency_ms: expect.any(Number), event_id: expect.stringMatching(/^aud_/) });
    const [req] = await receiver.waitFor(1);
    expect(req!.path).toBe('/hook');
    expect(req!.headers['authorization']).toBe(HEADER_SECRET);
    expect(verifyWebhookSignature(req!.headers['x-auditflow-signature'] as string, req!.body, { secret: WEBHOOK_SECRET, nowMs: Date.now() })).toMatchObject({ ok: true });
    const sent = req!.text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(sent).toMatchObject([{ id: ok.body.event_id, tenant_id: t, event_type: 'siem.destination_test', resource_id: id, details: { test: true } }]);

    // Refused: the status and the receiver's answer, any echoed secret scrubbed.
    const hecId = (await api.call('POST', '/v1/siem/destinations', t, hec({ config: { url: receiver.url, token: HEC_TOKEN } }))).body.destination_id;
    receiver.script([{ status: 403, body: { text: `Invalid token ${HEC_TOKEN}`, code: 4 } }]);
    const refused = await api.call('POST', `/v1/siem/destinations/${hecId}/test`, t);
    expect(refused.body).toMatchObject({ delivered: false, status: 403, receiver_body: expect.stringContaining('Invalid token') });
    expect(receiver.requests[1]!.path).toBe('/services/collector/event');
    expect(receiver.requests[1]!.headers['authorization']).toBe(`Splunk ${HEC_TOKEN}`);
    // Unreachable: not delivered, with the error.
    await receiver.down();
    try {
      const down = await api.call('POST', `/v1/siem/destinations/${hecId}/test`, t);
      expect(down.body).toMatchObject({ delivered: false, error: expect.any(String) });
      expect(down.body.status).toBeUndefined();
    } finally {
      await receiver.up();
    }
  });

  it('redrives dead letters through the sender: what got through is marked, nothing is lost', async () => {
    const t = newTenant();
    receiver.clear();
    const id = (await api.call('POST', '/v1/siem/destinations', t, hec({ config: { url: receiver.url, token: HEC_TOKEN } }))).body.destination_id;
    const dl = new DeadLetters(h.store);
    const letters = [];
    for (let i = 0; i < 4; i++) letters.push(await dl.add({ tenantId: t, destinationId: id, status: 400, body: '{"text":"Incorrect index","code":7}', reason: 'HTTP 400', events: [forwarded(t, i * 2), forwarded(t, i * 2 + 1)] }));
    const ids = letters.map((l) => l.deadLetterId);

    expect((await api.call('POST', `/v1/siem/destinations/${id}/dead-letters/redrive`, t, { limit: 0, what: 1 })).body.details.map((d: any) => d.path)).toEqual(['/limit', '/what']);
    // Taken, refused again (the redrive goes on), receiver unavailable (it stops: the rest stay pending, untried).
    receiver.script([{ status: 200, body: { text: 'Success', code: 0 } }, { status: 400, body: { text: 'Incorrect index', code: 7 } }, { status: 503, body: { text: 'Server is busy', code: 9 } }]);
    const first = await api.call('POST', `/v1/siem/destinations/${id}/dead-letters/redrive`, t);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      attempted: 3, redriven: 1, failed: 2, not_attempted: 1, pending: 3,
      results: [
        { dead_letter_id: ids[0], event_count: 2, delivered: true, status: 200 },
        { dead_letter_id: ids[1], delivered: false, status: 400, receiver_body: expect.stringContaining('Incorrect index') },
        { dead_letter_id: ids[2], delivered: false, status: 503, error: expect.stringContaining('503') },
      ],
    });
    const hecIds = (i: number) => receiver.requests[i]!.text.match(/aud_dl_[^"]+/g);
    expect(hecIds(0)).toEqual([`aud_dl_${t}_0`, `aud_dl_${t}_1`]);
    const listed = (await api.call('GET', `/v1/siem/destinations/${id}/dead-letters`, t)).body;
    expect(listed.dead_letters.map((l: any) => [l.dead_letter_id, l.state, l.redrive_attempts])).toEqual([
      [ids[0], 'redriven', 1], [ids[1], 'pending', 1], [ids[2], 'pending', 1], [ids[3], 'pending', 0],
    ]);
    expect(listed.dead_letters[0].redriven_at).toEqual(expect.any(String));
    expect(listed.dead_letters[1].last_redrive_error).toContain('HTTP 400');
    expect(listed.dead_letters[2].last_redrive_error).toContain('503');

    // Paused: refused. Resumed: the rest go, oldest first.
    await api.call('POST', `/v1/siem/destinations/${id}/pause`, t);
    expect((await api.call('POST', `/v1/siem/destinations/${id}/dead-letters/redrive`, t)).body.code).toBe('SIEM_DESTINATION_PAUSED');
    await api.call('POST', `/v1/siem/destinations/${id}/resume`, t);
    receiver.clear();
    const second = await api.call('POST', `/v1/siem/destinations/${id}/dead-letters/redrive`, t, {});
    expect(second.body).toMatchObject({ attempted: 3, redriven: 3, failed: 0, not_attempted: 0, pending: 0 });
    expect([0, 1, 2].map(hecIds)).toEqual([1, 2, 3].map((i) => [`aud_dl_${t}_${i * 2}`, `aud_dl_${t}_${i * 2 + 1}`]));
    // Nothing left to send, not even when named; every dead letter is still listed.
    expect((await api.call('POST', `/v1/siem/destinations/${id}/dead-letters/redrive`, t, { dead_letter_ids: [ids[0]] })).body).toMatchObject({ attempted: 0, pending: 0 });
    const after = (await api.call('GET', `/v1/siem/destinations/${id}/dead-letters?state=redriven`, t)).body;
    expect(after.dead_letters.map((l: any) => l.dead_letter_id)).toEqual(ids);
    expect(after.counts).toEqual({ pending: 0, redriven: 4, pending_events: 0 });
    expect(api.reads.records.filter((r) => r.tenantId === t && r.what.resource === 'siem.dead_letters.redrive').map((r) => r.what.rows)).toEqual([2, 6, 0]);
  });
});

describe('redaction', () => {
  it('not one response of this file carried a secret', () => {
    expect(bodies.length).toBeGreaterThan(100);
    for (const b of bodies) for (const s of SECRETS) expect(b).not.toContain(s);
  });
});
