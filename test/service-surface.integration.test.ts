// The HTTP edge's service surface on the real app (buildApp): the OpenAPI document and /docs,
// documentation-only schemas, /healthz and /readyz, /metrics, per-token rate limiting; then the
// embedded pipeline (metrics follow what was ingested and stored) and a distributed processor's
// probes-only app (lag from Kafka's end offsets, dead letters).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { logLevel } from 'kafkajs';
import { buildApp } from '../api/app.ts';
import { documentationOnly } from '../api/service/openapi.ts';
import { createAuthenticator, issueToken } from '../infra/auth/jwt.ts';
import { parseConfig } from '../infra/config.ts';
import { EmbeddedLog, EmbeddedLogProducer } from '../infra/log/embedded-log.ts';
import { KafkaLogProducer } from '../infra/log/kafka-log.ts';
import { Metrics } from '../infra/metrics.ts';
import { loadMigrations, migrate } from '../infra/store/migrations.ts';
import { ClickHouseHttpStore } from '../infra/store/clickhouse-http-store.ts';
import type { SinkStats } from '../processors/store-sink.ts';
import { freePort, startAuditflow } from './support/auditflow-process.ts';
import { startClickHouseHttp } from './support/clickhouse-http-server.ts';
import { startKafkaMock } from './support/kafka-mock.ts';
import { newTenant, readApp, RecordedReads, startStores, type HarnessStore, type Stores } from './support/read-api-harness.ts';
import { startEmbedded, until } from './support/topologies.ts';
import { checkOpenApi3, metric, scrape } from './support/service-surface-checks.ts';

let stores: Stores;
let logDir: string;
let log: EmbeddedLog;
beforeAll(async () => {
  stores = await startStores();
  logDir = mkdtempSync(path.join(tmpdir(), 'af-svc-log-'));
  log = new EmbeddedLog({ dir: logDir, partitions: 1, segmentBytes: 1 << 20 });
}, 120_000);
afterAll(async () => {
  await stores?.stop();
  log?.close();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});
const store = (name: 'chdb' | 'http') => stores.list.find((s) => s.name === name)!;

/** The real app with ingest and reads (what the `all` role serves). */
async function fullApp(h: HarnessStore, env: Record<string, string> = {}) {
  const secret = randomBytes(32).toString('hex');
  const config = parseConfig({ AUTH_JWT_SECRET: secret, ...env }, 'all');
  const app = await buildApp({
    config, auth: createAuthenticator({ jwtSecret: secret }), producer: new EmbeddedLogProducer(log),
    store: h.store, selfAudit: new RecordedReads(), signal: h.signal,
  });
  await app.ready();
  const token = (tenant: string, scope: string) => issueToken(secret, { sub: 'usr_svc', tid: tenant, scope });
  return { app, token };
}

const get = (app: FastifyInstance, url: string, token?: string) =>
  app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('OpenAPI and /docs', () => {
  let app: FastifyInstance;
  let doc: any;
  beforeAll(async () => {
    ({ app } = await fullApp(store('chdb')));
    const res = await get(app, '/openapi.json');
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(async () => { await app?.close(); });

  it('is a valid OpenAPI 3 document covering exactly the registered routes, each with a schema', () => {
    expect(checkOpenApi3(doc)).toEqual([]);
    const routes = app.routeTable.filter((r) => !r.hidden);
    // Not vacuous: the routes this app is known to have are among them.
    for (const u of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/v1/ingest/audit-events', '/v1/ingest/changes', '/v1/audit/logs']) {
      expect(routes.map((r) => r.url)).toContain(u);
    }
    const undocumented: string[] = [];
    const expected = new Set<string>();
    for (const r of routes) {
      const p = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*/g, '{*}'); // as @fastify/swagger writes them
      expected.add(`${r.method} ${p}`);
      const op = doc.paths[p]?.[r.method.toLowerCase()];
      const has2xx = op && Object.keys(op.responses ?? {}).some((s) => /^2/.test(s));
      if (!op || !op.summary || !(op.tags?.length > 0) || !has2xx) undocumented.push(`${r.method} ${r.url}`);
    }
    expect(undocumented).toEqual([]);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${p}`));
    expect(new Set(documented)).toEqual(expected);
  });

  it('documents /v1/audit/logs exactly: every query parameter, the page shape, bearer JWT', () => {
    const op = doc.paths['/v1/audit/logs'].get;
    expect(op.parameters.map((p: any) => `${p.in}:${p.name}:${p.schema.type}`)).toEqual([
      'query:from:string', 'query:to:string', 'query:action:string', 'query:identity_id:string', 'query:identity_type:string',
      'query:path_prefix:string', 'query:success:boolean', 'query:source_ip:string', 'query:request_id:string',
      'query:limit:integer', 'query:cursor:string',
    ]);
    const limit = op.parameters.find((p: any) => p.name === 'limit').schema;
    expect(limit).toMatchObject({ minimum: 1, maximum: 1000, default: 100 });
    expect(op.parameters.find((p: any) => p.name === 'identity_type').schema.enum).toEqual(['user', 'service_account', 'group']);
    const page = op.responses['200'].content['application/json'].schema;
    expect(Object.keys(page.properties)).toEqual(['logs', 'cursor', 'has_more']);
    expect(Object.keys(page.properties.logs.items.properties)).toEqual([
      'id', 'timestamp', 'action', 'identity_type', 'identity_id', 'secret_path', 'source_ip', 'user_agent', 'success', 'duration_ms', 'request_id', 'extra_data',
    ]);
    expect(Object.keys(op.responses).sort()).toEqual(['200', '400', '401', '403', '429', '503']);
    expect(op.responses['429'].content['application/json'].schema.properties.code.enum).toContain('RATE_LIMITED');
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(op.security).toBeUndefined(); // the document-wide bearer requirement
    for (const p of ['/healthz', '/readyz', '/metrics', '/openapi.json']) expect(doc.paths[p].get.security).toEqual([]);
    const ingest = doc.paths['/v1/ingest/audit-events'].post;
    expect(Object.keys(ingest.requestBody.content)).toEqual(['application/json', 'application/x-ndjson']);
    expect(ingest.requestBody.content['application/json'].schema.items.oneOf.map((s: any) => s.title))
      .toEqual(['scaidrive-audit-event', 'scaivault-log', 'canonical-audit-event', 'log-audit-event']);
  });

  it('serves the docs UI as HTML, and the same document, without a token', async () => {
    const res = await get(app, '/docs');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('swagger-ui');
    expect((await get(app, '/docs/static/swagger-ui.css')).statusCode).toBe(200);
    expect((await get(app, '/docs/json')).json()).toEqual(doc);
  });
});

describe('route schemas are documentation only', () => {
  it('QueryReader, not the schema, answers bad and unknown parameters', async () => {
    const api = await readApp(store('chdb'));
    const tok = await api.token(newTenant(), 'audit:read');
    // Fastify's default validator would strip `bogus` silently (additionalProperties: false) and refuse limit=0 in its own words.
    const bogus = await api.get('/v1/audit/logs?bogus=1', tok);
    expect(bogus.status).toBe(400);
    expect(bogus.body).toMatchObject({ code: 'QUERY_INVALID', details: [{ path: 'bogus', message: 'unknown parameter' }] });
    const limit = await api.get('/v1/audit/logs?limit=0', tok);
    expect(limit.body).toMatchObject({ code: 'QUERY_INVALID', details: [{ path: 'limit', message: 'must be between 1 and 1000' }] });
    await api.close();
  });

  it('bodies go out exactly as built (the default serializer would reshape them)', async () => {
    const build = async (docOnly: boolean) => {
      const app = Fastify();
      if (docOnly) documentationOnly(app);
      app.get('/x', { schema: { response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } } } }, async () => ({ n: '7', extra: true }));
      return (await app.inject({ url: '/x' })).body;
    };
    expect(await build(true)).toBe('{"n":"7","extra":true}');
    expect(await build(false)).toBe('{"n":7}');
  });
});

describe('/healthz and /readyz', () => {
  it.each(['chdb', 'http'] as const)('ready on %s: store, log and migrations checked', async (name) => {
    const { app } = await fullApp(store(name));
    expect((await get(app, '/healthz')).json()).toEqual({ status: 'ok' });
    const res = await get(app, '/readyz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { store: 'ok', log: 'ok', migrations: 'ok' } });
    await app.close();
  });

  it('503 NOT_READY naming a migration not applied, and ready once it is', async () => {
    const h = store('chdb');
    const last = loadMigrations().at(-1)!.version;
    await h.store.command('ALTER TABLE schema_migrations DELETE WHERE version = {v:UInt32} SETTINGS mutations_sync = 2', { v: last });
    const { app } = await fullApp(h);
    try {
      const res = await get(app, '/readyz');
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: 'not ready: migrations', code: 'NOT_READY', details: [{ path: 'migrations', message: `not applied: ${last}` }] });
      expect(res.headers['retry-after']).toBe('1');
    } finally {
      await migrate(h.store);
    }
    expect((await get(app, '/readyz')).statusCode).toBe(200);
    await app.close();
  });

  it('the processor role\'s probes-only app: 503 naming an unreachable store and log; nothing else is served', async () => {
    const config = parseConfig({ KAFKA_BROKERS: `127.0.0.1:${await freePort()}`, CLICKHOUSE_URL: `http://127.0.0.1:${await freePort()}` }, 'processor');
    const deadStore = new ClickHouseHttpStore({ url: config.clickhouse.url! });
    const deadLog = new KafkaLogProducer({ brokers: [...config.kafka.brokers], clientId: 'svc-test', logLevel: logLevel.NOTHING });
    const app = await buildApp({ config, service: { store: deadStore, producer: deadLog, probesOnly: true } });
    expect(app.routeTable.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /healthz', 'GET /readyz', 'GET /metrics']);
    expect((await get(app, '/healthz')).statusCode).toBe(200);
    const res = await get(app, '/readyz');
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body.code).toBe('NOT_READY');
    expect(body.details.map((d: { path: string }) => d.path).sort()).toEqual(['log', 'migrations', 'store']);
    expect((await get(app, '/metrics')).statusCode).toBe(200);
    expect((await get(app, '/openapi.json')).statusCode).toBe(404);
    await app.close();
    await deadStore.close();
    await deadLog.close();
  });
});

describe('/metrics', () => {
  it('counts requests by route pattern (never the raw URL) and events ingested by kind', async () => {
    const { app, token } = await fullApp(store('chdb'));
    const tenant = newTenant();
    const write = await token(tenant, 'audit:write');
    const post = (kind: string, events: unknown[]) => app.inject({
      method: 'POST', url: `/v1/ingest/${kind}`, payload: JSON.stringify(events),
      headers: { authorization: `Bearer ${write}`, 'content-type': 'application/json' },
    });
    const audit = (i: number) => ({ event_type: 'file.read', category: 'file_access', action: 'read', event_time: '2026-04-01T00:00:00Z', request_id: `r${i}` });
    const change = (i: number) => ({ resource_type: 'file', resource_id: `fil_${i}`, change_type: 'created', changed_by: 'usr_1', changed_at: '2026-04-01T00:00:00Z' });
    expect((await post('audit-events', [audit(1), audit(2), audit(3)])).statusCode).toBe(202);
    expect((await post('changes', [change(1), change(2)])).statusCode).toBe(202);
    expect((await post('audit-events', [{ nope: true }])).statusCode).toBe(400); // nothing accepted: not counted
    const read = await token(tenant, 'audit:read');
    expect((await get(app, '/v1/audit/logs?limit=5&action=read', read)).statusCode).toBe(200);
    expect((await get(app, '/v1/audit/logs?limit=6', read)).statusCode).toBe(200);
    expect((await get(app, '/nope/abc?x=1')).statusCode).toBe(404);

    const res = await get(app, '/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const m = scrape(res.body);
    expect(metric(m, 'auditflow_events_ingested_total', { kind: 'audit' })).toBe(3);
    expect(metric(m, 'auditflow_events_ingested_total', { kind: 'change' })).toBe(2);
    expect(metric(m, 'auditflow_http_requests_total', { method: 'GET', route: '/v1/audit/logs', status_code: '200' })).toBe(2);
    expect(metric(m, 'auditflow_http_requests_total', { method: 'POST', route: '/v1/ingest/audit-events', status_code: '202' })).toBe(1);
    expect(metric(m, 'auditflow_http_requests_total', { method: 'POST', route: '/v1/ingest/audit-events', status_code: '400' })).toBe(1);
    expect(metric(m, 'auditflow_http_requests_total', { method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
    expect(metric(m, 'auditflow_http_request_duration_seconds_count', { method: 'GET', route: '/v1/audit/logs' })).toBe(2);
    const routes = new Set(m.filter((s) => s.name.startsWith('auditflow_http_')).map((s) => s.labels['route']));
    expect([...routes].filter((r) => r === undefined || r.includes('?') || r.includes('/nope'))).toEqual([]);
    await app.close();
  });

  it('lag is the durable end minus the next offset to store; an unreachable log leaves it out', async () => {
    const metrics = new Metrics(undefined, { processMetrics: false });
    const stats = { inserted: 7, duplicates: 2, deadLettered: 1, rerouted: 0, skippedReplayed: 0, offsetGaps: 0, batches: 3, blockedMs: 1500 } as SinkStats;
    const positions = [{ topic: 't', partition: 0, storedUpTo: 4n }, { topic: 't', partition: 1, storedUpTo: -1n }, { topic: 'u', partition: 0, storedUpTo: 9n }];
    metrics.watchSink({ stats, positions: () => positions }, async (topic) => {
      if (topic === 'u') throw new Error('log down');
      return new Map([[0, 10n], [1, 0n]]);
    });
    const m = scrape(await metrics.registry.metrics());
    expect(metric(m, 'auditflow_sink_lag_messages', { topic: 't', partition: '0' })).toBe(5);
    expect(metric(m, 'auditflow_sink_lag_messages', { topic: 't', partition: '1' })).toBe(0);
    expect(m.filter((x) => x.labels['topic'] === 'u')).toEqual([]);
    expect(metric(m, 'auditflow_sink_events_stored_total')).toBe(7);
    expect(metric(m, 'auditflow_sink_blocked_seconds_total')).toBe(1.5);
    stats.inserted = 9; // read at scrape time
    expect(metric(scrape(await metrics.registry.metrics()), 'auditflow_sink_events_stored_total')).toBe(9);
  });
});

describe('rate limiting (per token)', () => {
  it('limits one token and not another, with draft-spec headers and the catalogue body; probes and docs are never limited', async () => {
    const api = await readApp(store('chdb'), { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' });
    const tenant = newTenant();
    const a = await api.token(tenant, 'audit:read');
    const sameTenantOtherSub = await api.token(tenant, 'audit:read', { sub: 'usr_other' });
    const otherTenantSameSub = await api.token(newTenant(), 'audit:read');
    for (const remaining of ['2', '1', '0']) {
      const ok = await api.get('/v1/audit/logs', a);
      expect(ok.status).toBe(200);
      expect([ok.headers['ratelimit-limit'], ok.headers['ratelimit-remaining']]).toEqual(['3', remaining]);
      expect(Number(ok.headers['ratelimit-reset'])).toBeGreaterThan(0);
      expect(Number(ok.headers['ratelimit-reset'])).toBeLessThanOrEqual(60);
    }
    const limited = await api.get('/v1/audit/logs', a);
    expect(limited.status).toBe(429);
    expect(Object.keys(limited.body).sort()).toEqual(['code', 'error']);
    expect(limited.body.code).toBe('RATE_LIMITED');
    expect([limited.headers['ratelimit-limit'], limited.headers['ratelimit-remaining']]).toEqual(['3', '0']);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60).toBe(true);
    expect(limited.headers['ratelimit-reset']).toBe(limited.headers['retry-after']);
    // The key is tenant + sub: either differing is another budget.
    expect((await api.get('/v1/audit/logs', sameTenantOtherSub)).headers['ratelimit-remaining']).toBe('2');
    expect((await api.get('/v1/audit/logs', otherTenantSameSub)).status).toBe(200);
    // Authentication comes first: no token is a 401, not a 429.
    expect((await api.get('/v1/audit/logs', null)).status).toBe(401);
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']) {
      for (let i = 0; i < 5; i++) {
        const r = await api.get(url, null);
        expect(r.status, url).toBe(200);
        expect(r.headers['ratelimit-limit'], url).toBeUndefined();
      }
    }
    await api.close();
    const off = await readApp(store('chdb'), { RATE_LIMIT_MAX: '0' });
    const r = await off.get('/v1/audit/logs', await off.token(newTenant(), 'audit:read'));
    expect(r.status).toBe(200);
    expect(r.headers['ratelimit-limit']).toBeUndefined();
    await off.close();
  });
});

describe('end to end', () => {
  it('embedded: /readyz, and /metrics follow what was ingested and stored', async () => {
    const topo = await startEmbedded();
    try {
      const tenant = newTenant();
      const base = topo.apiUrl();
      const events = [1, 2, 3].map((i) => ({ id: `aud_svc_${randomBytes(4).toString('hex')}_${i}`, event_type: 'file.read', category: 'file_access', action: 'read', event_time: '2026-04-01T00:00:00Z' }));
      const write = await topo.token(tenant, 'audit:write');
      const post = (body: unknown[]) => fetch(`${base}/v1/ingest/audit-events`, { method: 'POST', headers: { authorization: `Bearer ${write}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await post(events)).status).toBe(202);
      expect((await post([events[0]])).status).toBe(202); // the same id again: stored once
      const scrapeNow = async () => scrape(await (await fetch(`${base}/metrics`)).text());
      const topic = 'auditflow.audit-events';
      const m = await until(async () => {
        const s = await scrapeNow();
        return metric(s, 'auditflow_sink_events_stored_total') === 3 && metric(s, 'auditflow_sink_duplicates_total') === 1
          && metric(s, 'auditflow_sink_lag_messages', { topic, partition: '0' }) === 0 ? s : undefined;
      }, 30_000, 'three events stored, one duplicate, no lag');
      expect(metric(m, 'auditflow_events_ingested_total', { kind: 'audit' })).toBe(4);
      expect(metric(m, 'auditflow_sink_dead_letters_total')).toBe(0);
      expect(metric(m, 'auditflow_sink_insert_duration_seconds_count', { table: 'audit_events' })).toBeGreaterThanOrEqual(1);
      expect(metric(m, 'process_cpu_seconds_total')).toBeGreaterThan(0);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { store: 'ok', log: 'ok', migrations: 'ok' } });
      // A read is self-audited through the log and stored like any event.
      expect((await fetch(`${base}/v1/audit/logs`, { headers: { authorization: `Bearer ${await topo.token(tenant, 'audit:read')}` } })).status).toBe(200);
      await until(async () => {
        const s = await scrapeNow();
        return metric(s, 'auditflow_self_audit_recorded_total') === 1 && metric(s, 'auditflow_sink_events_stored_total') === 4;
      }, 30_000, 'the read recorded and stored');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${topo.outputs()}`);
    } finally {
      await topo.stop();
    }
  });

  it('distributed processor: probes and metrics on PORT; lag from Kafka\'s end offsets reaches 0, dead letters counted', async () => {
    const topics = { audit: 'svc.audit-events', changes: 'svc.changes', dead: 'svc.dead-letters' };
    const kafka = await startKafkaMock([{ name: topics.audit, partitions: 3 }, { name: topics.changes, partitions: 1 }, { name: topics.dead, partitions: 1 }]);
    const ch = await startClickHouseHttp();
    const producer = new KafkaLogProducer({ brokers: kafka.brokers, clientId: 'svc-test-producer' });
    const env = {
      AUDITFLOW_MODE: 'distributed', KAFKA_BROKERS: kafka.brokers.join(','), CLICKHOUSE_URL: ch.url, KAFKA_SESSION_TIMEOUT_MS: '6000', SINK_BATCH_MS: '50',
      KAFKA_TOPIC_AUDIT_EVENTS: topics.audit, KAFKA_TOPIC_CHANGES: topics.changes, KAFKA_TOPIC_DEAD_LETTERS: topics.dead,
    };
    const proc = await startAuditflow('processor', env);
    try {
      expect(proc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const tenant = newTenant();
      const valid = { tenant_id: tenant, event_type: 'file.read', category: 'file_access', action: 'read', event_time: '2026-04-01T00:00:00Z' };
      await producer.send(topics.audit, [
        { key: tenant, value: JSON.stringify(valid) }, { key: tenant, value: 'not json' }, { key: tenant, value: '{"tenant_id":"x"}' },
      ]);
      // The sink holds a Kafka partition from its first batch on: the tenant's partition is the one with a lag series.
      const partition = String(await producer.partitionFor(topics.audit, tenant));
      const m = await until(async () => {
        const s = scrape(await (await fetch(`${proc.url}/metrics`)).text());
        return metric(s, 'auditflow_sink_lag_messages', { topic: topics.audit, partition }) === 0 && metric(s, 'auditflow_sink_dead_letters_total') === 2 ? s : undefined;
      }, 60_000, 'the partition stored, two dead letters');
      expect(metric(m, 'auditflow_sink_events_stored_total')).toBe(1);
      const ready = await fetch(`${proc.url}/readyz`);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { store: 'ok', log: 'ok', migrations: 'ok' } });
      expect((await fetch(`${proc.url}/v1/audit/logs`)).status).toBe(404);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${proc.output().slice(-4000)}`);
    } finally {
      await producer.close();
      await proc.stop();
      await ch.stop();
      await kafka.stop();
    }
  });
});
